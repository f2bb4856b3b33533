/**
 * Chapter 11: minidockerd's containers, as dockerd runs them (moby daemon/start.go,
 * daemon/monitor.go, daemon/attach.go, daemon/wait.go, daemon/delete.go): the life of a
 * container from create to rm, its output fanned out to the log and to every attached
 * client, and the exit that wakes the waiters. The HTTP side is given (lib/engine-routes.ts).
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Duplex } from 'node:stream'
import { DaemonBase } from '../../lib/engine-daemon.ts'
import type { Container } from '../../lib/container-records.ts'
import type { LogWriter, OutputReader } from '../../lib/output-streams.ts'
import type { TaskIO } from '../../lib/containerd-tasks.ts'
import type { Envelope, Subscription } from '../../lib/containerd.ts'

export type { DaemonOptions, Exec, TaskExit } from '../../lib/engine-daemon.ts'

/** The life of a container from its start, and the subscription to containerd's events; create, rm, exec, wait and the watch of exits are given in DaemonBase (lib/engine-daemon.ts). */
export class Daemon extends DaemonBase {
  // What a container needs in memory beyond its record and DaemonBase's Live (lib/engine-daemon.ts) is yours
  // to design: fields of this class, kept per container ID.

  // #region openStreams
  /**
   * The daemon's ends of the FIFOs through which containerd's shim passes a container's stdio
   * (`io`, as startTask takes it): made if they are not there yet, the output read from its
   * first byte into the container's log and to every client attached to it, and stdin (with
   * OpenStdin) ready to be written: the process reads its clients' stdin in the order they sent
   * it, whenever each chunk came. start() opens them before the task exists; restore() opens
   * them again for a task that ran on while no daemon did.
   */
  openStreams(c: Container): { io: TaskIO; readers: OutputReader[]; log: LogWriter } {
    // TODO(11): the daemon's side of a container's stdio (the text's "Start, and the FIFOs"; dockerd's
    //   libcontainerd makes them with containerd's pkg/cio).
    //   1. A restarted daemon must find the same FIFOs again: where they are depends on the container alone,
    //      and some may exist already (Node has no mkfifo of its own: mkfifo(1)). Which streams a task has
    //      depends on its tty and its stdin.
    //   2. No byte the shim writes may be lost, and every attached client that asked for a stream gets it, in
    //      the form its container's tty decides (lib/output-streams.ts, given).
    //   3. The daemon writes the container's stdin for as long as it runs, and the shim opens its end only after
    //      Tasks.Create: what does opening your end do before then (fifo(7))?
    //      A client may send stdin before start(), and more while containerd creates the task: where does each
    //      chunk wait at each of those moments, and in which order does the process read them?
    //   4. DaemonBase (lib/engine-daemon.ts) keeps a container's attached clients and its stdin end in Live.
    //   5. Clients do not all read as fast as the container writes: what does one that stops reading cost the daemon,
    //      the container and the other clients (the text's "A client that does not read")?
    throw new NotImplementedError('11-daemon', 'openStreams')
  }
  // #endregion openStreams

  // #region start
  /**
   * `POST /containers/{id}/start`: the container runs on its own layers with its network, its
   * output reaches the log and every attached client from the first byte, and its exit will be
   * noticed. Starting a running container is a 304; a start that fails leaves nothing running,
   * open or connected behind.
   */
  async start(c: Container): Promise<'started' | 'already'> {
    // TODO(11): POST /containers/{id}/start (moby daemon/start.go containerStart; the text's "Start, and the FIFOs").
    //   1. When must your FIFO ends (openStreams) be open, relative to containerd's calls?
    //   2. The shim mounts the container's layers itself, so they travel as containerd's mounts (chapter 05's
    //      driver.ts and overlay.ts have the overlay). The network (connect, given) needs the container's
    //      process and must be up before its command runs: which moment is that, and where in the given code can you act then?
    //   3. Stdin that a client sent before the task existed, and its end, still reach the container. The record
    //      says the container runs, and someone notices its exit (monitor). Exits reach you only through the
    //      onExit you hand to watchExits (given).
    //   4. A start that fails leaves nothing running, open, connected or made on disk, and `docker run --rm` waits
    //      for the removal even then. What does the record say of a start that
    //      failed, when no process ever ran to give it an exit code (moby daemon/start.go)?
    throw new NotImplementedError('11-daemon', 'start')
  }
  // #endregion start

  // #region monitor
  /**
   * After the exit: the record says how the container ended, containerd and the network hold
   * nothing of it any more, and the attached clients and waiters hear of it, but never before
   * every byte it wrote has reached the log and them; with AutoRemove the container then goes.
   */
  protected async monitor(c: Container, readers: OutputReader[], log: LogWriter): Promise<void> {
    // TODO(11): the exit (moby daemon/monitor.go handleContainerExit).
    //   0. The exit comes from containerd's event stream (the onExit you give the given watchExits), or from
    //      restore's question for a task that exited while no daemon ran.
    //   1. The readers end exactly when all of the output has come, whatever the FIFO still holds: for a reader
    //      opened before the shim's last writer closed, and for one opened after it (restore). No guessed timeout.
    //      What tells a reader that the output has ended (fifo(7); pipe_poll and pipe_read in the kernel's
    //      fs/pipe.c; the text's "Output that never ends")?
    //   2. What is there to clean up? Whoever hears of the exit (the given wait, once you call exitHandled) may act
    //      at once: `docker run` prints what has reached it and returns, and the user types the next command.
    //   3. With AutoRemove the container goes after its exit, and a `docker rm -f` may be under way: the text's
    //      "rm -f, AutoRemove and the monitor".
    throw new NotImplementedError('11-daemon', 'monitor')
  }
  // #endregion monitor

  // #region resumeExits
  /**
   * The event stream ended by itself: containerd went away (a crash, a restart) while its shims
   * and their containers ran on. From here on exits are heard again, and each run this daemon
   * watches is settled as containerd has it now: an exit that happened while no one listened is
   * recorded with the status containerd kept, one that happens meanwhile is not lost, and no exit
   * ends a run twice or ends a run that is not its own. Stops waiting once the daemon is closed.
   */
  protected async resumeExits(): Promise<void> {
    // TODO(11): survive a restart of containerd (the text's "When containerd restarts").
    //   1. Until containerd serves again, every call fails at once. How does the daemon learn that it is back
    //      without flooding it, and what ends the waiting if the daemon is closed meanwhile?
    //   2. Which of your runs may have ended while nobody listened, and what does containerd still know of
    //      each: a task that exited, a task it no longer knows (lib/containerd.ts's errors)?
    //   3. Which exits would neither hearing nor asking report, and which would both (the text's "Exits, and a
    //      daemon that restarts")?
    //   4. The daemon serves requests all the while: what may have happened to a container between your question
    //      and its answer?
    throw new NotImplementedError('11-daemon', 'resumeExits')
  }
  // #endregion resumeExits

  // #region restore
  /**
   * When the daemon starts, before it serves (moby daemon/daemon.go restore): from now on it
   * hears of every exit, and each container its records call running is found again as
   * containerd has it: a task still running is read and watched again, one that exited while
   * no daemon watched is recorded with the code it exited with, one containerd no longer knows
   * is recorded as dockerd records it. No exit is missed, none is handled twice.
   */
  async restore(): Promise<void> {
    // TODO(11): the daemon after a restart (the text's "Exits, and a daemon that restarts").
    //   1. containerd sends an event only to those subscribed when it happens, and keeps none for later
    //      (watchExits, given, subscribes). Tasks.Get tells how a task is now.
    //   2. What can Tasks.Get answer of a task, and what does each answer mean for the record, the FIFOs (openStreams), the network (reconnect, given in DaemonBase) and the monitor?
    //      What must `docker wait` answer for a container that exited while no daemon ran? Your monitor waits
    //      for its readers' end-of-file: does a reader get one if it opened after the shim closed its ends,
    //      and what may the shim still hold of its output when it answers "stopped"? No guessed timeout.
    //   3. The records are DaemonBase's containers; only those that say running need containerd's word.
    throw new NotImplementedError('11-daemon', 'restore')
  }
  // #endregion restore

  // #region subscribe
  /**
   * containerd's events that match `filters` (Events.Subscribe), resolved only once containerd
   * has the subscription in place: every event containerd publishes after the promise resolves
   * reaches `onEnvelope`, in order, and nothing but what `filters` ask for ever does. Several
   * daemons may share the namespace. `onEnd` hears of a stream that ends by itself afterwards;
   * one that ends (or cannot be confirmed) before then rejects the promise instead.
   */
  subscribe(filters: string[], onEnvelope: (envelope: Envelope) => void, onEnd: (error: Error) => void): Promise<Subscription> {
    // TODO(11): a subscription you know to be in place (the text's "Is the subscription in place?"; the given
    //   watchExits awaits it, and restore and resumeExits build on it).
    //   1. containerd.events.Subscribe (lib/containerd.ts) returns at once, and containerd sends nothing on a new
    //      stream before its first event. When does containerd register a stream, and what could show a client that
    //      it has (lib/proto/api/services/events/v1/events.proto; containerd's services/events/service.go and
    //      events/exchange/exchange.go)?
    //   2. Every event published after your promise resolves must reach onEnvelope; nothing but what `filters`
    //      ask for may reach it. Other daemons share the namespace, and do as yours does.
    //   3. Whatever you try may happen before containerd has registered the stream, and nothing tells you so.
    //   4. A stream that ends before it is in place rejects the promise (its caller waits for containerd again);
    //      onEnd hears only of one that ends afterwards.
    throw new NotImplementedError('11-daemon', 'subscribe')
  }
  // #endregion subscribe

  // #region attach
  /**
   * `POST /containers/{id}/attach`, its 101 sent (lib/engine-routes.ts): the hijacked
   * connection gets what its client asked for of the container's output (`logs`: what it wrote
   * before; `stream`: what it writes from now on), in the form that client expects for this
   * container, every byte once; and what it sends goes to the container's stdin. The client
   * may come before the container runs (`docker start -a` attaches, then starts), and may send
   * its stdin, and end it, before then too.
   */
  attach(c: Container, socket: Duplex, want: { stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; stream: boolean }): void {
    // TODO(11): a client joins a container (moby daemon/attach.go containerAttach; the text's "Attach, wait and the exit").
    //   1. What does each combination of logs and stream ask for, with the container running and not, and when has
    //      the answer nothing more to send (the Engine API reference's ContainerAttach)?
    //   2. With both: the container may be writing at the very moment the client joins. Where is each byte it has
    //      written at that moment, and which of those places does the client read from?
    //   3. Nothing the client sends is lost, even before the task exists: where is it kept until then?
    //   4. When is a client's half-close the end of the container's stdin, and when only the end of that
    //      client's session (docker-attach(1); moby's container/stream/attach.go)? And what makes the process read
    //      end-of-file? A client without stdin half-closes right after the 101 and must go on receiving.
    //   5. A client that goes away stops receiving; the exit or the removal of the container lets its clients
    //      go (your monitor, and the given remove). Who writes to them is your openStreams.
    throw new NotImplementedError('11-daemon', 'attach')
  }
  // #endregion attach
}
