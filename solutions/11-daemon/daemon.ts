/**
 * Chapter 11: minidockerd's containers, as dockerd runs them (moby daemon/start.go,
 * daemon/monitor.go, daemon/attach.go, daemon/wait.go, daemon/delete.go): the life of a
 * container from create to rm, its output fanned out to the log and to every attached
 * client, and the exit that wakes the waiters. The HTTP side is given (lib/engine-routes.ts).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, constants, existsSync, mkdirSync, openSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { overlayDirs } from '#ch/05-layers/driver.ts'
import { overlayOptions } from '#ch/05-layers/overlay.ts'
import { storePaths } from '#ch/06-images/store.ts'
import { ContainerdError, GRPC_NOT_FOUND, type Envelope, type Mount, type Subscription } from '../../lib/containerd.ts'
import { DaemonBase, type TaskExit } from '../../lib/engine-daemon.ts'
import { ZERO_TIME, type Container } from '../../lib/container-records.ts'
import { frame, logWriter, outputReaders, readLog, streamed, type LogWriter, type OutputReader, type StreamName } from '../../lib/output-streams.ts'
import { deleteTask, runtimeSpec, startTask, type TaskIO } from '../../lib/containerd-tasks.ts'

export type { DaemonOptions, Exec, TaskExit } from '../../lib/engine-daemon.ts'

/** The topic of the event by which a subscriber proves to itself that its subscription is in place. */
const SUBSCRIBED_TOPIC = '/minidockerd/subscribed'

/** A run of a container, as its monitor waits for it: its exit status, once settled. */
interface Run { exit: Promise<number>; heard(code: number): void }

/** What the daemon holds at most for an attached client that does not read, in bytes. */
const UNREAD_LIMIT = 4 << 20

/** The life of a container from its start, and the subscription to containerd's events; create, rm, exec, wait and the watch of exits are given in DaemonBase (lib/engine-daemon.ts). */
export class Daemon extends DaemonBase {
  /**
   * What this daemon keeps for a container besides DaemonBase's Live: stdin sent before there
   * was a task, whether a run is under way, and per stream what it wrote since its last newline.
   */
  private readonly own = new Map<string, { stdinEarly: Buffer[]; stdinEnded: boolean; streaming: boolean; lineStart: Record<StreamName, Buffer> }>()
  private ownOf(id: string) {
    let own = this.own.get(id)
    if (!own) {
      own = { stdinEarly: [], stdinEnded: false, streaming: false, lineStart: { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) } }
      this.own.set(id, own)
    }
    return own
  }

  /**
   * Per container, the run its monitor waits for: its exit, which the event stream or a question
   * to containerd settles (a promise settles once). The object itself names the run: a new run
   * is a new object, whatever PID the kernel gives it.
   */
  private readonly runs = new Map<string, Run>()
  private watchRun(id: string): void {
    let heard: (code: number) => void = () => {}
    const exit = new Promise<number>((resolve) => (heard = resolve))
    this.runs.set(id, { exit, heard })
  }

  /**
   * An exit on containerd's stream. It may be late news of a run before this one, with the same
   * PID (the kernel reuses them) and any time stamp (clocks are set back): only containerd's task
   * as it is now says whether the run this daemon watches has ended, and with which status.
   */
  private exitReported(exit: TaskExit): void {
    const run = this.runs.get(exit.container_id)
    if (run && exit.id === exit.container_id) void this.askAbout(exit.container_id, run) // not an exec's process
  }

  /**
   * Settle `run` as containerd's task is now, if that is stopped (or, with `lost`, unknown), and
   * only if `run` is still the one watched when the answer arrives: the container may have been
   * started again meanwhile.
   */
  private async askAbout(id: string, run: Run, lost?: number): Promise<void> {
    let code: number
    try {
      const { process } = await this.options.containerd.tasks.Get({ container_id: id })
      if (process.status !== 'STOPPED') return
      code = process.exit_status
    } catch (error) {
      if (lost === undefined || !(error instanceof ContainerdError && error.code === GRPC_NOT_FOUND)) return
      code = lost
    }
    if (this.runs.get(id) === run) run.heard(code)
  }

  /**
   * Once no writer can open the FIFO at `path` any more: a writer that comes and goes without a
   * byte. pipe_poll (the kernel's fs/pipe.c) reports a hang-up to a reader only if a writer opened
   * since that reader did, so one opened after the shim's last close would wait forever. Non-blocking:
   * with no reader left the open fails (ENXIO) rather than wait; the FIFO may be gone (ENOENT).
   */
  private endOfWriters(path: string): void {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
    } catch (error) {
      if (!['ENXIO', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
    }
  }

  /** The client's stdin ended: the container's process reads end-of-file on its stdin. */
  private async closeStdin(c: Container): Promise<void> {
    const live = this.liveOf(c.ID)
    live.stdin?.end()
    live.stdin = undefined
    // the shim holds the FIFO open too: only CloseIO makes it close its end
    await this.options.containerd.tasks.CloseIO({ container_id: c.ID, stdin: true }).catch(() => {})
  }

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
    const live = this.liveOf(c.ID)
    const fifoDir = join(this.options.runRoot, 'containerd', c.ID)
    mkdirSync(fifoDir, { recursive: true, mode: 0o700 })
    const io: TaskIO = { stdout: join(fifoDir, 'init-stdout'), terminal: c.Config.Tty }
    if (!c.Config.Tty) io.stderr = join(fifoDir, 'init-stderr')
    if (c.Config.OpenStdin) io.stdin = join(fifoDir, 'init-stdin')
    const missing = [io.stdout, io.stderr, io.stdin].filter((f): f is string => f !== undefined && !existsSync(f))
    if (missing.length > 0) execFileSync('mkfifo', ['-m', '600', ...missing])

    const log = logWriter(c.LogPath)
    const own = this.ownOf(c.ID)
    own.streaming = true
    const readers = outputReaders(io, (stream, chunk) => {
      log.write(stream, chunk)
      // the log gets whole lines only: what follows the last newline is kept for attach's hand-over
      const nl = chunk.lastIndexOf(10)
      own.lineStart[stream] = nl === -1 ? Buffer.concat([own.lineStart[stream], chunk]) : Buffer.from(chunk.subarray(nl + 1))
      for (const a of live.attached) {
        if (!a.streams.has(stream)) continue
        // a client that does not keep up is let go: neither the container nor the other clients wait for it, and the daemon keeps no more for it than this
        if (a.socket.writableLength > UNREAD_LIMIT) {
          live.attached.delete(a)
          a.socket.destroy()
          continue
        }
        a.socket.write(c.Config.Tty ? chunk : frame(stream, chunk))
      }
    })
    if (io.stdin) {
      // read and write: an open that never waits for the shim, and a FIFO never without a reader
      live.stdin = new Socket({ fd: openSync(io.stdin, 'r+'), readable: false, writable: true })
      live.stdin.on('error', () => {})
      // from here on attach writes straight into the FIFO: what its clients sent before must be in it first
      for (const chunk of this.ownOf(c.ID).stdinEarly.splice(0)) live.stdin.write(chunk)
    }
    return { io, readers, log }
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
    // dockerd holds the container's lock through a start: a second one waits for the first, then finds it running
    await this.afterStart(c.ID)
    if (c.State.Running) return 'already'
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    const { io, readers, log } = this.openStreams(c)
    const rootfs: Mount[] = [{ type: 'overlay', source: 'overlay', options: overlayOptions(overlayDirs(storePaths(this.options.root).graph, c.ID)).split(',') }]
    let pid: number
    try {
      // the network is wired while the process waits in runc's create, before its command runs
      pid = await startTask(this.options.containerd, c, runtimeSpec(c, this.userFiles(c), this.options.cgroupParent), rootfs, io, async (pid) => {
        this.watchRun(c.ID) // before Tasks.Start: the exit may be reported before startTask returns
        await this.connect(c, pid)
      })
    } catch (error) {
      this.runs.delete(c.ID)
      await this.disconnect(c)
      for (const r of readers) r.close()
      live.stdin?.destroy()
      log.close()
      own.streaming = false
      rmSync(join(this.options.runRoot, 'containerd', c.ID), { recursive: true, force: true }) // its FIFOs: nothing will run on them
      // the record says why it never ran, as dockerd's setExitCodeFromError (daemon/start.go) words it
      const reason = (error as Error).message
      const code = /permission denied/i.test(reason) ? 126 : /not a directory|executable file not found|no such file or directory/i.test(reason) ? 127 : 128
      Object.assign(c.State, { ExitCode: code, Error: reason })
      if (this.containers.has(c.ID)) this.save(c)
      // as dockerd does: `docker run --rm` waits for the removal after a failed start
      if (c.HostConfig.AutoRemove) await this.remove(c, true)
      throw error
    }
    Object.assign(c.State, { Running: true, Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME })
    this.save(c)
    if (own.stdinEnded) void this.closeStdin(c)
    live.finished = this.monitor(c, readers, log)
    return 'started'
  }
  // #endregion start

  // #region monitor
  /**
   * After the exit: the record says how the container ended, containerd and the network hold
   * nothing of it any more, and the attached clients and waiters hear of it, but never before
   * every byte it wrote has reached the log and them; with AutoRemove the container then goes.
   */
  protected async monitor(c: Container, readers: OutputReader[], log: LogWriter): Promise<void> {
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    const run = this.runs.get(c.ID)
    const code = run ? await run.exit : 255
    if (this.runs.get(c.ID) === run) this.runs.delete(c.ID)
    await deleteTask(this.options.containerd, c.ID).catch(() => {})
    // the shim has let go, and no writer comes any more: readers opened after it had let go (restore) see their end too
    for (const r of readers) this.endOfWriters(r.path)
    await this.disconnect(c) // its ports are free again before anyone hears of the exit
    await Promise.all(readers.map((r) => r.drained))
    log.close() // the line in progress goes into the log now: a client that joins later reads it there
    own.streaming = false
    own.lineStart = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }
    live.stdin?.destroy()
    live.stdin = undefined
    own.stdinEnded = false // the next start (`docker start -ai`) gets a stdin of its own
    rmSync(join(this.options.runRoot, 'containerd', c.ID), { recursive: true, force: true })
    Object.assign(c.State, { Running: false, Pid: 0, ExitCode: code, FinishedAt: new Date().toISOString() })
    if (this.containers.has(c.ID)) this.save(c)
    for (const a of live.attached) a.socket.end()
    live.attached.clear()
    live.finished = undefined
    this.exitHandled(c.ID)
    // not awaited: a `docker rm -f` under way awaits this monitor, and this removal would await that rm (remove's one removal)
    if (c.HostConfig.AutoRemove) void this.remove(c, true).catch(() => {})
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
    const { containerd } = this.options
    // containerd serves again once it answers a call (moby's waitServe asks every 100 ms); then
    // subscribed, in place, before asking: an exit from now on is heard, one before is what Tasks.Get reports
    for (;;) {
      if (this.closed) return
      if (await containerd.version.Version({}).then(() => this.watchExits((exit) => this.exitReported(exit))).then(() => true, () => false)) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    // a task containerd came back without (its state was lost) is recorded as restore records a lost one
    for (const [id, run] of [...this.runs]) await this.askAbout(id, run, 255)
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
    // subscribed, in place, first: an exit from now on is heard, and one before it is what Tasks.Get reports
    await this.watchExits((exit) => this.exitReported(exit))
    for (const c of this.containers.values()) {
      if (!c.State.Running) continue
      const live = this.liveOf(c.ID)
      this.watchRun(c.ID)
      // read before asking: a task that still runs when asked has the shim's ends of the FIFOs open, so ours see their end-of-file
      const { readers, log } = this.openStreams(c)
      let task: { status: string; exit_status: number } | undefined
      let lost = false
      try {
        task = (await this.options.containerd.tasks.Get({ container_id: c.ID })).process
      } catch (error) {
        // no such task: containerd lost it. Any other failure (containerd went away as we asked) says nothing of the
        // task: it stays watched as running, and the stream's end has resumeExits ask again once containerd is back
        lost = error instanceof ContainerdError && error.code === GRPC_NOT_FOUND
      }
      if (task ? task.status !== 'STOPPED' && task.status !== 'UNKNOWN' : !lost) await this.reconnect(c)
      // it exited while no daemon watched (if the stream reports it too, the run is settled already), or containerd lost it
      else this.runs.get(c.ID)!.heard(task?.status === 'STOPPED' ? task.exit_status : 255)
      live.finished = this.monitor(c, readers, log)
    }
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
    const { containerd } = this.options
    // its own sign, to know when to stop publishing: other daemons publish theirs on the same topic
    const token = randomBytes(16)
    let confirmed = false
    let failedAlready = false
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        failedAlready = true
        subscription.close()
        reject(error)
      }
      const subscription = containerd.events.Subscribe([...filters, `namespace==${JSON.stringify(containerd.namespace)},topic==${JSON.stringify(SUBSCRIBED_TOPIC)}`], (envelope) => {
        if (envelope.topic !== SUBSCRIBED_TOPIC) onEnvelope(envelope)
        else if (!confirmed && Buffer.from(envelope.event?.value ?? []).equals(token)) {
          confirmed = true
          resolve(subscription)
        }
      }, (error) => (confirmed ? onEnd(error) : failed(error)))
      // containerd serves Subscribe and Publish on goroutines of their own, and sends nothing on a
      // new stream before its first event: a token published before the subscription is in place
      // reaches no one, so it goes out again (more and more slowly) until one comes back
      const publish = async () => {
        for (let pause = 20; !confirmed && !failedAlready; pause = Math.min(pause * 2, 500)) {
          await containerd.events.Publish({ topic: SUBSCRIBED_TOPIC, event: { type_url: 'minidockerd.Subscribed', value: token } })
          await new Promise((wake) => setTimeout(wake, pause))
        }
      }
      publish().catch((error: Error) => confirmed || failed(error))
    })
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
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    const streams = new Set<StreamName>()
    if (want.stdout) streams.add('stdout')
    if (want.stderr) streams.add('stderr')
    // logs: what the container wrote before, from its log, in the form of its stream (moby daemon/attach.go containerAttach)
    if (want.logs) {
      const { entries } = readLog(c.LogPath, { stdout: want.stdout, stderr: want.stderr, tail: 'all', since: 0, timestamps: false })
      for (const chunk of streamed(entries, c.Config.Tty)) socket.write(chunk)
    }
    // stream=0: nothing after the request, so the answer ends here, whether the container runs or not
    if (!want.stream) return void socket.end()
    // the hand-over: the log holds complete lines only, and the stream brings what comes from now on. The line the
    // container is in the middle of is in neither, so it goes here, in this same turn of the loop as the rest
    if (want.logs && own.streaming) {
      for (const stream of streams) {
        const rest = own.lineStart[stream]
        if (rest.length > 0) socket.write(c.Config.Tty ? rest : frame(stream, rest))
      }
    }
    const attachment = { socket, streams }
    live.attached.add(attachment)
    socket.on('close', () => live.attached.delete(attachment))
    if (want.stdin && c.Config.OpenStdin) {
      socket.on('data', (chunk: Buffer) => {
        if (live.stdin) live.stdin.write(chunk)
        // kept for the next start; a run whose stdin has ended takes no more, and the next run has a stdin of its own (moby container.Reset)
        else if (!c.State.Running) own.stdinEarly.push(chunk)
      })
      socket.on('end', () => {
        // without StdinOnce (or with a tty) the end of one client's input ends that client's session only,
        // and the container's stdin stays open for the next (moby container/stream/attach.go, CloseStdin)
        if (!c.Config.StdinOnce || c.Config.Tty) {
          live.attached.delete(attachment)
          socket.end()
          return
        }
        own.stdinEnded = true
        // while start() is under way the FIFO has no reader but ours: start() closes it once the task runs
        if (live.stdin && c.State.Running) void this.closeStdin(c)
      })
    }
    // without stdin, a client half-closes at once: read its end, keep writing to it
    socket.resume()
  }
  // #endregion attach
}
