/**
 * Chapter 10's given part of the shim's Task service, which the starter and the reference
 * share: a process's record, the task's options, finding a process by exec id, and the methods
 * that only read what the shim holds (Pids, Connect, CloseIO). The life cycle (Create, Start,
 * the exit, Kill, Delete...) is the chapter's: the Task class of task.ts extends this one.
 */
import { Code, RpcError, Status } from './containerd-proto.ts'
import type { Publisher } from '#ch/10-shim/events.ts'
import type { Reaper } from '#ch/10-shim/reaper.ts'
import type { Runtime } from '#ch/10-shim/runtime.ts'
import type { Copying, StdioPaths } from '#ch/10-shim/stdio.ts'

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
  io: Copying | null
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

/** containerd.v1.types.Status of each state */
export const STATUS = { created: Status.CREATED, running: Status.RUNNING, stopped: Status.STOPPED }

export abstract class TaskBase {
  /** the container's init process, once Create made it */
  protected init: Proc | null = null
  /** the exec'd processes by exec id */
  protected readonly execs = new Map<string, Proc>()
  /** set when init is deleted: the task is NotFound from then on */
  protected deleted = false

  constructor(readonly options: TaskOptions) {}

  /** The process an exec id names ('' for init); NotFound if there is none. */
  protected proc(execId: string): Proc {
    const p = execId ? this.execs.get(execId) : this.init
    if (!p || (!execId && this.deleted)) throw new RpcError(Code.NotFound, `process ${execId || this.options.id} does not exist: not found`)
    return p
  }

  /** A new process record, created; markExited settles its `exited`. */
  protected newProc(id: string, stdio: Proc['stdio']): Proc & { markExited(): void } {
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
}
