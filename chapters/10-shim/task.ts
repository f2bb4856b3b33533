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
  /**
   * Create: mount the rootfs, start the runtime's `create` with pipes for stdio and copy them
   * to containerd's FIFOs (or, for a terminal, with a console socket listening first), learn
   * the init's PID, watch for its exit, publish TaskCreate.
   * A runtime that fails leaves nothing mounted and reports the runtime's own error.
   */
  async create(request: any): Promise<object> {
    // TODO(10): Create: make the container exist, not yet running.
    //   1. One init per shim: a second Create is AlreadyExists. Note whether it wants a terminal.
    //   2. Mount what the request's rootfs carries; then the runtime's create (its arguments, the
    //      pid file included: chapter 09's text, "The real thing") with the process's stdio
    //      (#runWithStdio); the init's PID is in the pid file.
    //   3. If the runtime fails: nothing may stay behind (its half-made container, a terminal's
    //      keeper, the mount), and the error says "OCI runtime create failed: " and then the
    //      runtime's own words.
    //   4. Then watch for the exit, publish /tasks/create (container id, bundle, rootfs, io, pid)
    //      and answer the PID. Where to look: containerd's runc shim, service.go Create and
    //      pkg/process/init.go.
    throw new NotImplementedError('10-shim', 'create')
  }
  // #endregion create

  // #region runWithStdio
  /**
   * Run the runtime's `create` or `exec` (`args`, then the container's id) with the process's
   * stdio: for a terminal, the console socket listens before the runtime runs (the runtime
   * connects to it) and its keeper copies from the moment the master arrives; otherwise pipes,
   * copied to the FIFOs.
   */
  async #runWithStdio(p: Proc, args: string[], id: string): Promise<Terminal | Copying> {
    // TODO(10): the process's stdio, through the runtime.
    //   1. Without a terminal: pipes for the stdio containerd gave paths for, then copyStdio.
    //   2. With one: the runtime sends the pty master to a console socket it connects to while it
    //      runs (chapter 09's text and runc's --console-socket), so the socket must listen before
    //      (Terminal.listen, given: its keeper copies and resizes). Give the runtime no stdio then.
    //   3. A runtime that fails leaves no keeper behind.
    throw new NotImplementedError('10-shim', 'runWithStdio')
  }
  // #endregion runWithStdio

  // #region watch
  /**
   * When the reaper reports the process's exit: wait until a Start in progress has published
   * TaskStart, and until the output is copied, then record the status and publish TaskExit.
   * Exactly once per process.
   */
  #watch(p: Proc & { markExited?: () => void }): void {
    // TODO(10): record the process's exit once the reaper reports it, exactly once.
    //   1. TaskExit must never go out before TaskStart: if a Start is still running (p.starting),
    //      wait for it.
    //   2. Wait for the output to be copied, so that containerd, told of the exit, does not close
    //      its FIFOs before the last bytes are in.
    //   3. Then the status, exit status and time, the /tasks/exit event (container id, id: the exec
    //      id or the container's, pid, exit_status, exited_at) and, last, the end of p.exited.
    throw new NotImplementedError('10-shim', 'watch')
  }
  // #endregion watch

  // #region start
  /** Start: the runtime's `start` for init, `exec --detach` for an exec; then TaskStart or TaskExecStarted. */
  async start(request: any): Promise<object> {
    // TODO(10): Start: run what Create or Exec prepared.
    //   1. Only a created process starts; anything else is FailedPrecondition.
    //   2. While it starts, p.starting must be a promise that settles when the start is over,
    //      however it ends, so #watch can hold a fast exit back until TaskStart is out.
    //   3. init: the runtime's start; an exec: #startExec. Then running (unless it already
    //      exited), and /tasks/start (container id, pid) or /tasks/exec-started (container id,
    //      exec id, pid). Answer the PID.
    throw new NotImplementedError('10-shim', 'start')
  }
  // #endregion start

  /** `exec --detach` with the process spec containerd sent, then the exec's PID and its exit. */
  async #startExec(p: Proc & { spec?: Buffer }): Promise<void> {
    // TODO(10): run an exec with the runtime.
    //   1. The runtime takes the process spec from a file (exec --process FILE --detach, with a
    //      pid file: chapter 09's text, "exec"); write the spec's bytes there, remove it afterwards.
    //   2. The stdio as for init (#runWithStdio), read the PID, watch for the exit.
    //   3. A failure says "OCI runtime exec failed: " and the runtime's words.
    throw new NotImplementedError('10-shim', 'startExec')
  }

  // #region exec
  /** Exec: record the process (its spec is an OCI `process`, as JSON in an Any); Start runs it. */
  async exec(request: any): Promise<object> {
    // TODO(10): Exec: record a new process of the running container; Start runs it.
    //   1. Only into a running init (FailedPrecondition otherwise), and never twice the same exec
    //      id (AlreadyExists). Note whether it wants a terminal.
    //   2. The spec is an OCI process, as JSON in the request's Any: keep its bytes for Start.
    //   3. Publish /tasks/exec-added (container id, exec id).
    throw new NotImplementedError('10-shim', 'exec')
  }
  // #endregion exec

  // #region resizePty
  /** ResizePty: the window size (width columns, height rows) to the process's terminal. */
  async resizePty(request: any): Promise<object> {
    // TODO(10): ResizePty: ctr sends its own terminal's size at start and on every change.
    //   1. The process (init or an exec) must have a terminal: otherwise FailedPrecondition.
    //   2. Its Terminal sets the size (rows are the height, columns the width).
    throw new NotImplementedError('10-shim', 'resizePty')
  }
  // #endregion resizePty

  // #region state
  async state(request: any): Promise<object> {
    // TODO(10): State: what the shim knows of the process (the task's or an exec's).
    //   1. Every field of StateResponse that containerd shows: id, exec id, bundle, pid, status
    //      (the containerd.v1.types.Status number), the stdio paths, terminal, exit status, exited at.
    //   2. Ask the runtime nothing: the shim holds the truth, and answers it also after containerd
    //      restarted. An unknown exec id is NotFound.
    throw new NotImplementedError('10-shim', 'state')
  }
  // #endregion state

  // #region wait
  async wait(request: any): Promise<object> {
    // TODO(10): Wait: answer when the process has exited, with its exit status and time.
    //   1. containerd sends it before Start and keeps it outstanding: it must not hold anything up.
    //   2. The answer comes from the recorded exit, so any number of waiters get the same one.
    throw new NotImplementedError('10-shim', 'wait')
  }
  // #endregion wait

  // #region kill
  /** Kill: the runtime's `kill` for init (`--all` when asked), kill(2) for an exec. */
  async kill(request: any): Promise<object> {
    // TODO(10): Kill: a signal to the process.
    //   1. A process that already exited is NotFound ("process already finished"), as runc's shim says.
    //   2. init: the runtime's kill, with --all when asked (the signal is a number). An exec is a
    //      plain process of the shim's: signal it directly, see kill(2).
    throw new NotImplementedError('10-shim', 'kill')
  }
  // #endregion kill

  // #region delete
  /**
   * Delete: only a process that is not running. For init, the runtime's `delete` and the
   * rootfs unmounted; then TaskDelete with the exit status, which is also the answer.
   */
  async delete(request: any): Promise<object> {
    // TODO(10): Delete: forget a process that is no longer running.
    //   1. A running process is FailedPrecondition. A created one may be deleted (never started).
    //   2. A terminal's keeper has nothing left to keep: close it. init: the runtime's delete (a
    //      container the runtime no longer has is fine), the rootfs unmounted; from then on the
    //      task is NotFound. An exec is just forgotten.
    //   3. Publish /tasks/delete (container id, pid, exit status, exited at, id) and answer the
    //      same numbers.
    throw new NotImplementedError('10-shim', 'delete')
  }
  // #endregion delete

  // #region shutdown
  /** Shutdown: the shim exits once its task is deleted (or when told `now`); otherwise it stays. */
  async shutdown(request: any): Promise<object> {
    // TODO(10): Shutdown: leave, but only when nothing is left to serve.
    //   1. containerd sends it after Delete; also when it is done with a shim whose task is gone.
    //      With a live task and without `now`, stay.
    //   2. The answer must reach containerd before the shim goes: exit after replying, not before.
    throw new NotImplementedError('10-shim', 'shutdown')
  }
  // #endregion shutdown
}
