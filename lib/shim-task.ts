/**
 * Chapter 10's given part of the shim's Task service, which the starter and the reference
 * share: a process's record, the task's options, finding a process by exec id, running the
 * runtime with a process's stdio, and the methods that answer from the records or act on a
 * process already made (Exec, State, Wait, Kill, Delete, Shutdown, ResizePty, Pids, Connect,
 * CloseIO). Making a process and catching its exit (Create, Start, the exit) is the chapter's:
 * the Task class of task.ts extends this one. containerd 1.6's runc shim is the model:
 * runtime/v2/runc/task/service.go and pkg/process.
 */
import type { Reaper } from '#ch/10-shim/reaper.ts'
import type { Runtime } from '#ch/10-shim/runtime.ts'
import { copyStdio, type Copying, type StdioPaths } from '#ch/10-shim/stdio.ts'
import { Code, RpcError, Status, timestamp } from './containerd-proto.ts'
import { Terminal } from './shim.ts'
import type { Publisher } from './shim-events.ts'

/** One process of the task: the container's init ('' as its id) or an exec. */
export interface Proc {
  id: string
  pid: number
  status: 'created' | 'running' | 'stopped'
  stdio: StdioPaths & { terminal: boolean }
  exitStatus: number
  exitedAt: Date | null
  /** settles when the exit is recorded (and published) */
  exited: Promise<void>
  /** settles `exited` */
  markExited(): void
  io: Copying | Terminal | null
  /** an exec's process, as Exec sent it: an OCI `process` as JSON */
  spec?: Buffer
}

export interface TaskOptions {
  id: string
  bundle: string
  runtime: Pick<Runtime, 'run' | 'ps'>
  reaper: Pick<Reaper, 'exited'>
  publisher: Pick<Publisher, 'publish'>
  /** mount the rootfs mounts Create carries on bundle/rootfs, and the reverse */
  mountRootfs(mounts: { type: string; source: string; target: string; options: string[] }[]): Promise<void>
  unmountRootfs(): Promise<void>
  /** the shim is asked to go: close the socket and exit once the answer is out */
  shutdown(): void
}

/** How long Delete waits for the exit of the process the runtime's delete ended. */
const EXIT_PATIENCE_MS = 2000

/** containerd.v1.types.Status of each state */
export const STATUS = { created: Status.CREATED, running: Status.RUNNING, stopped: Status.STOPPED }

export abstract class TaskBase {
  /** the container's init process, once Create made it */
  protected init: Proc | null = null
  /** the exec'd processes by exec id */
  protected readonly execs = new Map<string, Proc>()
  /** set when init is deleted: the task is NotFound from then on */
  protected deleted = false
  /** a Create under way, as task.ts records it (containerd's runc shim: task/service.go, its lock) */
  protected creating: Promise<void> | null = null

  constructor(readonly options: TaskOptions) {}

  /** The process an exec id names ('' for init); NotFound if there is none. */
  protected proc(execId: string): Proc {
    const p = execId ? this.execs.get(execId) : this.init
    if (!p || (!execId && this.deleted)) throw new RpcError(Code.NotFound, `process ${execId || this.options.id} does not exist: not found`)
    return p
  }

  /** A new process record, created; markExited settles its `exited`. */
  protected newProc(id: string, stdio: Proc['stdio']): Proc {
    let markExited!: () => void
    const exited = new Promise<void>((resolve) => (markExited = resolve))
    return { id, pid: 0, status: 'created', stdio, exitStatus: 0, exitedAt: null, exited, io: null, markExited }
  }

  async pids(): Promise<object> {
    if (!this.init || this.deleted) throw new RpcError(Code.NotFound, `task ${this.options.id}: not found`)
    const pids = await this.options.runtime.ps(this.options.id)
    return { processes: pids.map((pid) => ({ pid })) }
  }

  async connect(): Promise<object> {
    return { shim_pid: process.pid, task_pid: this.init?.pid ?? 0, version: '' }
  }

  async closeIO(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (request.stdin) p.io?.closeStdin()
    return {}
  }
  // #region runWithStdio
  /**
   * Run the runtime's `create` or `exec` (`args`, then the container's id) with the process's
   * stdio: for a terminal, the console socket listens before the runtime runs (the runtime
   * connects to it during its run) and its keeper copies from the moment the master arrives;
   * a runtime that fails leaves no keeper behind. Otherwise pipes, copied to the FIFOs.
   */
  protected async runWithStdio(p: Proc, args: string[], id: string): Promise<Terminal | Copying> {
    if (!p.stdio.terminal) {
      const pipes = await this.options.runtime.run([...args, id], [p.stdio.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'])
      return copyStdio(p.stdio, pipes)
    }
    const terminal = await Terminal.listen(p.stdio)
    try {
      await this.options.runtime.run([...args, '--console-socket', terminal.socket, id], ['ignore', 'ignore', 'ignore'])
    } catch (error) {
      terminal.close()
      throw error
    }
    return terminal
  }
  // #endregion runWithStdio

  // #region exec
  /** Exec: record the process (its spec is an OCI `process`, as JSON in an Any); Start runs it. */
  async exec(request: any): Promise<object> {
    if (!this.init || this.init.status !== 'running') throw new RpcError(Code.FailedPrecondition, `container ${this.options.id} is not running`)
    if (this.execs.has(request.exec_id)) throw new RpcError(Code.AlreadyExists, `exec ${request.exec_id}: already exists`)
    const p = this.newProc(request.exec_id, { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal })
    p.spec = request.spec?.value
    this.execs.set(request.exec_id, p)
    this.options.publisher.publish('/tasks/exec-added', { container_id: this.options.id, exec_id: request.exec_id })
    return {}
  }
  // #endregion exec

  /** ResizePty: the window size (width columns, height rows) to the process's terminal. */
  async resizePty(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (!(p.io instanceof Terminal)) throw new RpcError(Code.FailedPrecondition, `process ${request.exec_id || this.options.id} has no terminal`)
    await p.io.resize(request.height, request.width)
    return {}
  }

  /** State: from the record, never from the runtime (the shim holds the truth, also after containerd restarted). */
  async state(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    return {
      id: p.id || this.options.id, exec_id: p.id, bundle: this.options.bundle, pid: p.pid, status: STATUS[p.status],
      stdin: p.stdio.stdin, stdout: p.stdio.stdout, stderr: p.stdio.stderr, terminal: p.stdio.terminal,
      exit_status: p.exitStatus, exited_at: p.exitedAt ? timestamp(p.exitedAt) : null,
    }
  }

  /** Wait: answers once the exit is recorded; any number of callers, before or after it. */
  async wait(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    await p.exited
    return { exit_status: p.exitStatus, exited_at: timestamp(p.exitedAt!) }
  }

  // #region kill
  /**
   * Kill: the runtime's `kill` for init (`--all` when asked), kill(2) for an exec, which is the
   * shim's to signal by its PID (runc's shim: process/exec.go, kill). An exec is signalled only
   * once it runs: one that is created has not started. A process that has already exited is
   * NotFound, with "process already finished" in the message: containerd matches those words
   * to know the process is gone.
   */
  async kill(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (p.status === 'stopped') throw new RpcError(Code.NotFound, `process ${request.exec_id || this.options.id}: process already finished: not found`)
    if (p.id) {
      if (p.status === 'created') throw new RpcError(Code.FailedPrecondition, `process ${p.id}: process not started`)
      try {
        process.kill(p.pid, request.signal)
      } catch {
        throw new RpcError(Code.NotFound, `process ${p.id}: process already finished: not found`)
      }
      return {}
    }
    await this.options.runtime.run(['kill', ...(request.all ? ['--all'] : []), this.options.id, String(request.signal)])
    return {}
  }
  // #endregion kill

  // #region delete
  /**
   * Delete: only a process that is not running. For init, the runtime's `delete --force`, which
   * ends a container created and never started (a failed Start): that exit is told first, as
   * containerd's runc shim tells it (TaskExit, then TaskDelete). Then the process's stdio closed
   * (Copying.close or the terminal's), the rootfs unmounted, and
   * TaskDelete with the exit status (an exec's delete sends none, as runc's shim); the exit
   * status is also the answer.
   */
  async delete(request: any): Promise<object> {
    if (!request.exec_id) await this.creating
    const p = this.proc(request.exec_id)
    if (p.status === 'running') throw new RpcError(Code.FailedPrecondition, `cannot delete process ${request.exec_id || this.options.id}: it is running`)
    if (p.id) this.execs.delete(p.id)
    else {
      await this.options.runtime.run(['delete', '--force', this.options.id]).catch((error: RpcError) => {
        if (error.code !== Code.NotFound) throw error
      })
      if (p.pid && p.status !== 'stopped') await Promise.race([p.exited, new Promise((resolve) => setTimeout(resolve, EXIT_PATIENCE_MS).unref())])
    }
    p.io?.close() // the process's stdio is nobody's from now on (runc's shim: process/exec.go and init.go, delete)
    if (!p.id) {
      await this.options.unmountRootfs()
      this.deleted = true
    }
    const exitedAt = p.exitedAt ?? new Date()
    if (!p.id) this.options.publisher.publish('/tasks/delete', {
      container_id: this.options.id, pid: p.pid, exit_status: p.exitStatus, exited_at: timestamp(exitedAt), id: this.options.id,
    })
    return { pid: p.pid, exit_status: p.exitStatus, exited_at: timestamp(exitedAt) }
  }
  // #endregion delete

  /** Shutdown: the shim exits once its task is deleted, or never had one (a failed Create), or when told `now`. */
  async shutdown(request: any): Promise<object> {
    if (!request.now) await this.creating
    if (request.now || !this.init || this.deleted) setImmediate(() => this.options.shutdown())
    return {}
  }
}
