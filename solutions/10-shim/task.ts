/**
 * The Task service (containerd.task.v2.Task) for one container: its init process and the
 * processes exec'd into it. containerd calls it over ttrpc; the shim answers from what it
 * holds (the PIDs, the states, the exit statuses) and asks the runtime only to act. containerd
 * 1.6's runc shim is the model: runtime/v2/runc/task/service.go and pkg/process. What answers
 * from the records (State, Wait, Kill, Delete, ...) is given in lib/shim-task.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError, timestamp } from '../../lib/containerd-proto.ts'
import { Terminal } from '../../lib/shim.ts'
import { TaskBase, type Proc } from '../../lib/shim-task.ts'
import type { Exit } from './reaper.ts'

/**
 * How long an exit waits for its output while none of it moves: a process an exec left running
 * can hold the exec's pipe open for as long as it likes, and a reader can stop reading, or never
 * come; the exit must still be told. A reader that keeps reading, however slowly, gets it all first.
 */
const OUTPUT_QUIET_MS = 3000
/** How long the init's exit waits for the execs that still run (the kernel kills them when the init dies). */
const EXECS_GRACE_MS = 10_000

/** Settles once `io`'s output is delivered, or once none of it has moved for OUTPUT_QUIET_MS. */
async function delivered(io: { done: Promise<void>; readonly progress: number }): Promise<void> {
  let over = false
  io.done.then(() => (over = true), () => (over = true))
  for (let seen = io.progress, since = Date.now(); !over; ) {
    await Promise.race([io.done.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 100).unref())])
    if (io.progress !== seen) [seen, since] = [io.progress, Date.now()]
    else if (Date.now() - since > OUTPUT_QUIET_MS) return
  }
}

/**
 * The gRPC code an error stands for: an RpcError's own, if it is one of gRPC's codes. Node's
 * errors (fs, net, the helper) carry a `code` too, a string such as 'ENOENT', which a status
 * would carry as 0, OK: those are Unknown, as ttrpc makes of a Go error that is no status.
 */
function codeOf(error: unknown): number {
  const code = (error as RpcError)?.code
  return error instanceof RpcError && Number.isInteger(code) && code > Code.OK && code <= 16 ? code : Code.Unknown
}

/**
 * Whether the init's death leaves the container's other processes alive: when it has no PID
 * namespace of its own (none, or one it joins by path), the kernel kills nobody, and it is the
 * shim's to end them (containerd's runc shim: ShouldKillAllOnExit, which says so also when it
 * cannot read the spec).
 */
function sharesPidNamespace(bundle: string): boolean {
  try {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    return !(spec.linux?.namespaces ?? []).some((ns: { type?: string; path?: string }) => ns.type === 'pid' && !ns.path)
  } catch {
    return true
  }
}

/** A PID to come: the reaper is asked for its exit before the runtime runs, and told the PID after. */
function pidToCome(): { pid: Promise<number>; told(pid: number): void; failed(error: unknown): void } {
  let told!: (pid: number) => void
  let failed!: (error: unknown) => void
  const pid = new Promise<number>((resolve, reject) => ((told = resolve), (failed = reject)))
  pid.catch(() => {}) // a failure is the runtime's error, thrown by the caller
  return { pid, told, failed }
}

/** The Task service of one container: the given TaskBase, with the life cycle written here. */
export class Task extends TaskBase {
  /** each process's Start while it runs: settles once its event is out or it failed */
  readonly #starting = new Map<Proc, Promise<void>>()
  /** set once the init's exit is reaped, before it is recorded and told */
  #initReaped = false

  // #region create
  /** Create: the container's init exists, stopped before its command; answers its PID. */
  async create(request: any): Promise<object> {
    const { id, bundle } = this.options
    if (this.init || this.creating) throw new RpcError(Code.AlreadyExists, `task ${id}: already exists`)
    // containerd's runc shim holds its lock through all of Create: a second Create, and the Delete
    // and Shutdown of a containerd that gave up on this one, wait for it or are refused
    const creating = this.#create(request)
    this.creating = creating.then(() => {}, () => {})
    try {
      return await creating
    } finally {
      this.creating = null
    }
  }

  async #create(request: any): Promise<object> {
    const { id, bundle } = this.options
    const p = this.newProc('', { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal })
    try {
      await this.options.mountRootfs(request.rootfs)
    } catch (error) {
      // a rootfs of several mounts can fail at the second: the first is still there
      await this.options.unmountRootfs()
      throw new RpcError(codeOf(error), `failed to mount rootfs component: ${(error as Error).message}`)
    }
    const pidFile = join(bundle, 'init.pid')
    const coming = pidToCome()
    const exit = this.options.reaper.exited(coming.pid) // before the runtime runs: the process may be reaped before its PID is read
    try {
      p.io = await this.runWithStdio(p, ['create', '--bundle', bundle, '--pid-file', pidFile], id)
      p.pid = Number(readFileSync(pidFile, 'utf8'))
    } catch (error) {
      coming.failed(error)
      exit.catch(() => {})
      if (p.io instanceof Terminal) p.io.close()
      await this.options.runtime.run(['delete', '--force', id]).catch(() => {})
      await this.options.unmountRootfs()
      throw new RpcError(codeOf(error), `OCI runtime create failed: ${(error as Error).message}`)
    }
    coming.told(p.pid)
    this.init = p
    this.#watch(p, exit)
    this.options.publisher.publish('/tasks/create', {
      container_id: id, bundle, rootfs: request.rootfs, pid: p.pid,
      io: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
    })
    return { pid: p.pid }
  }
  // #endregion create

  // #region watch
  /**
   * When the process's exit comes: wait until a Start in progress has published its event, and
   * until the output is delivered (for a while), then record the status and publish TaskExit.
   * Exactly once per process.
   */
  #watch(p: Proc, exit: Promise<Exit>): void {
    exit.then(async (exit: Exit) => {
      if (!p.id) {
        this.#initReaped = true
        // without a PID namespace of its own, nothing ends the execs but the shim
        if (sharesPidNamespace(this.options.bundle)) await this.options.runtime.run(['kill', '--all', this.options.id, '9']).catch(() => {})
      }
      await this.#starting.get(p)
      if (p.io) await delivered(p.io)
      // The init's exit is the last the task tells: containerd (and dockerd after it) takes it for
      // the end of the task, and an exec's exit told after it belongs to a task already gone.
      if (!p.id) await Promise.race([this.#execsEnded(), new Promise((resolve) => setTimeout(resolve, EXECS_GRACE_MS).unref())])
      p.status = 'stopped'
      p.exitStatus = exit.status
      p.exitedAt = exit.at
      this.options.publisher.publish('/tasks/exit', {
        container_id: this.options.id, id: p.id || this.options.id, pid: p.pid, exit_status: p.exitStatus, exited_at: timestamp(exit.at),
      })
      p.markExited()
    })
  }
  // #endregion watch

  /** Settles once no exec is starting or running: each one's Start is over, and each that ran has told its exit. */
  async #execsEnded(): Promise<void> {
    for (;;) {
      const busy = [...this.execs.values()].filter((e) => this.#starting.has(e) || e.status === 'running')
      if (busy.length === 0) return
      await Promise.all(busy.map(async (e) => {
        await this.#starting.get(e)
        if (e.status === 'running') await e.exited
      }))
    }
  }

  // #region start
  /** Start: the runtime's `start` for init, `exec --detach` for an exec; then TaskStart or TaskExecStarted. */
  async start(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (p.status !== 'created' || this.#starting.has(p)) throw new RpcError(Code.FailedPrecondition, `process ${request.exec_id || this.options.id} is ${p.status}, not created`)
    // The init's record says running until its exit is told, which waits for its output: an exec
    // started meanwhile would join a container that is gone (containerd 2.x: Start, containerInitExit).
    if (p.id && this.#initReaped) throw new RpcError(Code.FailedPrecondition, `container ${this.options.id} init process is not running`)
    let started!: () => void
    this.#starting.set(p, new Promise((resolve) => (started = resolve)))
    try {
      if (!p.id) {
        await this.options.runtime.run(['start', this.options.id])
        if (p.status === 'created') p.status = 'running'
        this.options.publisher.publish('/tasks/start', { container_id: this.options.id, pid: p.pid })
      } else {
        await this.#startExec(p)
        if (p.status === 'created') p.status = 'running'
        this.options.publisher.publish('/tasks/exec-started', { container_id: this.options.id, exec_id: p.id, pid: p.pid })
      }
    } finally {
      started()
      this.#starting.delete(p)
    }
    return { pid: p.pid }
  }
  // #endregion start

  /** `exec --detach` with the process spec containerd sent, then the exec's PID and its exit. */
  async #startExec(p: Proc): Promise<void> {
    const { bundle, id } = this.options
    // the exec id is the client's word, and may hold "/" or "..": the files are named by the shim
    const dir = mkdtempSync(join(bundle, 'exec-'))
    const processFile = join(dir, 'process.json')
    const pidFile = join(dir, 'pid')
    writeFileSync(processFile, p.spec!)
    const coming = pidToCome()
    const exit = this.options.reaper.exited(coming.pid)
    try {
      p.io = await this.runWithStdio(p, ['exec', '--process', processFile, '--detach', '--pid-file', pidFile], id)
      p.pid = Number(readFileSync(pidFile, 'utf8'))
    } catch (error) {
      coming.failed(error)
      exit.catch(() => {})
      // no process, no exit to come: containerd's Wait, sent before this Start, ends now (as
      // runc's shim closes its waitBlock); the record stays created, and Delete removes it
      p.exitedAt = new Date()
      p.markExited()
      throw new RpcError(codeOf(error), `OCI runtime exec failed: ${(error as Error).message}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    coming.told(p.pid)
    this.#watch(p, exit)
  }
}
