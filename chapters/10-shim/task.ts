/**
 * The Task service (containerd.task.v2.Task) for one container: its init process and the
 * processes exec'd into it. containerd calls it over ttrpc; the shim answers from what it
 * holds (the PIDs, the states, the exit statuses) and asks the runtime only to act. containerd
 * 1.6's runc shim is the model: runtime/v2/runc/task/service.go and pkg/process.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError, timestamp } from '../../lib/containerd-proto.ts'
import { Terminal } from '../../lib/shim.ts'
import { STATUS, TaskBase, type Proc } from '../../lib/shim-task.ts'
import type { Exit } from './reaper.ts'
import { copyStdio, type Copying } from './stdio.ts'
import { NotImplementedError } from '../../lib/errors.ts'

/** The Task service of one container: the given TaskBase, with the life cycle written here. */
export class Task extends TaskBase {
  // #region create
  /** Create: the container's init exists, stopped before its command; answers its PID. */
  async create(request: any): Promise<object> {
    // TODO(10): Create: make the container exist, not yet running.
    //   1. One init per shim (AlreadyExists). The process record (TaskBase) keeps what later calls
    //      ask about: its stdio, whether it has a terminal.
    //   2. What must be in place before the runtime's create can run (the request's rootfs), and how
    //      does the shim learn the PID of a process it did not fork (chapter 09's text, "The real
    //      thing")? The stdio goes through #runWithStdio.
    //   3. If anything fails, nothing may stay behind: not the runtime's half-made container, not a
    //      terminal's keeper, not the mount. The error reads as containerd's does: "OCI runtime
    //      create failed: " and then the runtime's own words, with the runtime's code.
    //   4. From then on the exit must be caught whenever it comes (#watch), and containerd told the
    //      task exists (/tasks/create, TaskCreate in lib/proto/api/events/task.proto).
    //   5. Where to look: containerd's runc shim, task/service.go (Create) and process/init.go
    //      (Create); the text's "The Task service".
    throw new NotImplementedError('10-shim', 'create')
  }
  // #endregion create

  // #region runWithStdio
  /**
   * Run the runtime's `create` or `exec` (`args`, then the container's id) with the process's
   * stdio wired to containerd's FIFOs, through a terminal when the process asked for one.
   */
  async #runWithStdio(p: Proc, args: string[], id: string): Promise<Terminal | Copying> {
    // TODO(10): the process's stdio, as the runtime needs it.
    //   1. Without a terminal: which of the process's stdio need pipes (what did containerd give
    //      paths for), and who copies them (stdio.ts)?
    //   2. With one: the runtime makes the pty and hands its master over a console socket, during
    //      its own run (the text's "A terminal"; runc's --console-socket). What must exist before
    //      the runtime starts, who holds the master afterwards (lib/shim.ts), and what stdio does
    //      the runtime get then?
    //   3. A runtime that fails leaves no keeper behind, and a runtime that succeeds leaves the
    //      keeper running: it is the terminal from then on.
    throw new NotImplementedError('10-shim', 'runWithStdio')
  }
  // #endregion runWithStdio

  // #region watch
  /** Record the process's exit when the reaper reports it, and tell containerd: exactly once. */
  #watch(p: Proc & { markExited?: () => void }): void {
    // TODO(10): the process's exit, recorded and published, exactly once.
    //   1. A process can die while Start is still waiting for the runtime's start to return.
    //      Which event must containerd (and dockerd's state machine) see first, and how does this
    //      code know that a Start of this process is still running? The process record (TaskBase)
    //      does not say: that state is the Task's to keep. (The text's "The Task service";
    //      core/runtime/v2/README.md, "Events".)
    //   2. Told of the exit, ctr closes its FIFOs: what must be finished before you tell it, and
    //      what if it never finishes (an exec's process may leave one behind that holds its pipe)?
    //   3. What do State, Wait and Delete later read from the record, and who is woken once it is
    //      complete (Proc.exited)? The event is TaskExit (lib/proto/api/events/task.proto): whose
    //      id does it carry for an exec?
    throw new NotImplementedError('10-shim', 'watch')
  }
  // #endregion watch

  // #region start
  /** Start: the prepared process runs; answers its PID. */
  async start(request: any): Promise<object> {
    // TODO(10): Start: run what Create or Exec prepared.
    //   1. Only a process that is created and not yet started can start (FailedPrecondition).
    //   2. #watch must be able to hold a quick exit back until the start event is out: how does
    //      it know a Start is under way? When the runtime's start fails, containerd goes on to
    //      Delete and Shutdown with its Wait still outstanding: what may a failed Start leave?
    //   3. The init and an exec start differently (the runtime's start; #startExec), and publish
    //      different events (TaskStart, TaskExecStarted). A process that already exited during its
    //      start must not be marked running again. Answer the PID.
    throw new NotImplementedError('10-shim', 'start')
  }
  // #endregion start

  /** Run an exec's process in the container, with the spec containerd sent; learn its PID, catch its exit. */
  async #startExec(p: Proc & { spec?: Buffer }): Promise<void> {
    // TODO(10): run an exec with the runtime, as runc's shim does (process/exec.go, start).
    //   1. How does the runtime take the process Exec sent, and tell you its PID, without waiting
    //      for it to end (chapter 09's text, "exec")? Whatever you write into the bundle for it is
    //      gone afterwards, whether the exec worked or not.
    //   2. Its stdio and its exit are handled as the init's are.
    //   3. A failure reads as containerd's does: "OCI runtime exec failed: " and the runtime's own
    //      words, with the runtime's code.
    throw new NotImplementedError('10-shim', 'startExec')
  }

  // #region exec
  /** Exec: record the process (its spec is an OCI `process`, as JSON in an Any); Start runs it. */
  async exec(request: any): Promise<object> {
    // TODO(10): Exec: record a new process of the running container; Start runs it.
    //   1. Into what may one exec (FailedPrecondition otherwise), and how often with one exec id
    //      (AlreadyExists)?
    //   2. Nothing runs yet: what must the record keep for Start (the process spec, its stdio, a
    //      terminal or not)? The spec is an OCI process, JSON in an Any (the text's "exec").
    //   3. containerd is told (TaskExecAdded).
    throw new NotImplementedError('10-shim', 'exec')
  }
  // #endregion exec

  // #region resizePty
  /** ResizePty: the process's terminal takes the size of ctr's. */
  async resizePty(request: any): Promise<object> {
    // TODO(10): ResizePty: ctr sends its own terminal's size at start and on every change.
    //   1. Which process, and what if it has no terminal (FailedPrecondition: containerd expects
    //      an error)?
    //   2. The request says width and height (ResizePtyRequest in runtime/v2/task/shim.proto); a
    //      terminal's size is rows and columns (tty_ioctl(4), TIOCSWINSZ, struct winsize). Which is
    //      which?
    throw new NotImplementedError('10-shim', 'resizePty')
  }
  // #endregion resizePty

  // #region state
  async state(request: any): Promise<object> {
    // TODO(10): State: what the shim knows of the process (the task's or an exec's).
    //   1. StateResponse (runtime/v2/task/shim.proto) is what ctr task ls and containerd's Tasks
    //      service show: fill what the shim knows, in the units the .proto says (a status is a
    //      containerd.v1.types.Status; lib/shim-task.ts maps the record's).
    //   2. Ask the runtime nothing: the shim holds the truth, and answers it also after containerd
    //      restarted. An unknown exec id is NotFound.
    throw new NotImplementedError('10-shim', 'state')
  }
  // #endregion state

  // #region wait
  async wait(request: any): Promise<object> {
    // TODO(10): Wait: answer when the process has exited, with its exit status and time.
    //   1. containerd sends it before Start and keeps it outstanding: it must not hold anything up,
    //      and it must not poll.
    //   2. Any number of callers, before or after the exit, get the same answer, and never one from
    //      before the exit was recorded.
    throw new NotImplementedError('10-shim', 'wait')
  }
  // #endregion wait

  // #region kill
  /**
   * Kill: a signal to the task's init (or all its processes) or to an exec. A process that has
   * already exited is an error that containerd must recognise as "already gone".
   */
  async kill(request: any): Promise<object> {
    // TODO(10): Kill: a signal to the process.
    //   1. A process that already exited: what does containerd-shim-runc-v2 answer (its process/
    //      package, where runc kill fails), and what of it does containerd read? The same if it
    //      exits under you.
    //   2. Who signals the init, all of the container's processes when `all` is asked, in its PID
    //      namespace (chapter 09's kill)? An exec is a process the shim knows by PID (kill(2)).
    throw new NotImplementedError('10-shim', 'kill')
  }
  // #endregion kill

  // #region delete
  /** Delete: forget a process that no longer runs; answers how it ended. */
  async delete(request: any): Promise<object> {
    // TODO(10): Delete: forget a process that is no longer running.
    //   1. What would deleting a running process do behind containerd's back (FailedPrecondition:
    //      containerd kills first)? One that was created and never started may go.
    //   2. What does the init leave that an exec does not (in the runtime, mounted, a terminal's
    //      keeper)? Any of it may be gone already. After the init's Delete the task is NotFound.
    //   3. Which deletes is containerd told of (TaskDelete), and what would it take the event for
    //      (runc's shim: task/service.go, Delete)? The answer carries the same numbers: how did
    //      it end?
    throw new NotImplementedError('10-shim', 'delete')
  }
  // #endregion delete

  // #region shutdown
  /** Shutdown: containerd is done with this shim. */
  async shutdown(request: any): Promise<object> {
    // TODO(10): Shutdown: leave, but only when nothing is left to serve.
    //   1. When does containerd send it, and what may a shim that leaves too early lose? When
    //      does the request decide for the shim? runc's shim: task/service.go, Shutdown.
    //   2. The answer must reach containerd before the shim goes (TaskOptions.shutdown ends it).
    throw new NotImplementedError('10-shim', 'shutdown')
  }
  // #endregion shutdown
}
