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

/**
 * How long an exit waits for its output to be delivered: a process an exec left running can
 * hold the exec's pipe open for as long as it likes, and the exit must still be told.
 */
const OUTPUT_GRACE_MS = 3000

/** The Task service of one container: the given TaskBase, with the life cycle written here. */
export class Task extends TaskBase {
  /** each process's Start while it runs: settles once its event is out or it failed */
  readonly #starting = new Map<Proc, Promise<void>>()

  // #region create
  /**
   * Create: mount the rootfs, start the runtime's `create` with pipes for stdio and copy them
   * to containerd's FIFOs (or, for a terminal, with a console socket listening first), learn
   * the init's PID, watch for its exit, publish TaskCreate.
   * A runtime that fails leaves nothing mounted and reports the runtime's own error.
   */
  async create(request: any): Promise<object> {
    const { id, bundle } = this.options
    if (this.init) throw new RpcError(Code.AlreadyExists, `task ${id}: already exists`)
    const p = this.newProc('', { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal })
    await this.options.mountRootfs(request.rootfs)
    const pidFile = join(bundle, 'init.pid')
    try {
      p.io = await this.#runWithStdio(p, ['create', '--bundle', bundle, '--pid-file', pidFile], id)
      p.pid = Number(readFileSync(pidFile, 'utf8'))
    } catch (error) {
      if (p.io instanceof Terminal) p.io.close()
      await this.options.runtime.run(['delete', '--force', id]).catch(() => {})
      await this.options.unmountRootfs()
      throw new RpcError((error as RpcError).code ?? Code.Unknown, `OCI runtime create failed: ${(error as Error).message}`)
    }
    this.init = p
    this.#watch(p)
    this.options.publisher.publish('/tasks/create', {
      container_id: id, bundle, rootfs: request.rootfs, pid: p.pid,
      io: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
    })
    return { pid: p.pid }
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

  // #region watch
  /**
   * When the reaper reports the process's exit: wait until a Start in progress has published
   * TaskStart, and until the output is copied, then record the status and publish TaskExit.
   * Exactly once per process.
   */
  #watch(p: Proc & { markExited?: () => void }): void {
    this.options.reaper.exited(p.pid).then(async (exit: Exit) => {
      await this.#starting.get(p)
      await Promise.race([p.io?.done, new Promise((resolve) => setTimeout(resolve, OUTPUT_GRACE_MS).unref())])
      p.status = 'stopped'
      p.exitStatus = exit.status
      p.exitedAt = exit.at
      this.options.publisher.publish('/tasks/exit', {
        container_id: this.options.id, id: p.id || this.options.id, pid: p.pid, exit_status: p.exitStatus, exited_at: timestamp(exit.at),
      })
      p.markExited?.()
    })
  }
  // #endregion watch

  // #region start
  /** Start: the runtime's `start` for init, `exec --detach` for an exec; then TaskStart or TaskExecStarted. */
  async start(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (p.status !== 'created') throw new RpcError(Code.FailedPrecondition, `process ${request.exec_id || this.options.id} is ${p.status}, not created`)
    let started!: () => void
    this.#starting.set(p, new Promise((resolve) => (started = resolve)))
    try {
      if (p.id) await this.#startExec(p)
      else await this.options.runtime.run(['start', this.options.id])
      if (p.status === 'created') p.status = 'running'
      if (p.id) this.options.publisher.publish('/tasks/exec-started', { container_id: this.options.id, exec_id: p.id, pid: p.pid })
      else this.options.publisher.publish('/tasks/start', { container_id: this.options.id, pid: p.pid })
    } finally {
      started()
      this.#starting.delete(p)
    }
    return { pid: p.pid }
  }
  // #endregion start

  /** `exec --detach` with the process spec containerd sent, then the exec's PID and its exit. */
  async #startExec(p: Proc & { spec?: Buffer }): Promise<void> {
    const { bundle, id } = this.options
    const processFile = join(bundle, `${p.id}.process.json`)
    const pidFile = join(bundle, `${p.id}.pid`)
    writeFileSync(processFile, p.spec!)
    try {
      p.io = await this.#runWithStdio(p, ['exec', '--process', processFile, '--detach', '--pid-file', pidFile], id)
      p.pid = Number(readFileSync(pidFile, 'utf8'))
    } catch (error) {
      throw new RpcError((error as RpcError).code ?? Code.Unknown, `OCI runtime exec failed: ${(error as Error).message}`)
    } finally {
      rmSync(processFile, { force: true })
    }
    this.#watch(p)
  }

  // #region exec
  /** Exec: record the process (its spec is an OCI `process`, as JSON in an Any); Start runs it. */
  async exec(request: any): Promise<object> {
    if (!this.init || this.init.status !== 'running') throw new RpcError(Code.FailedPrecondition, `container ${this.options.id} is not running`)
    if (this.execs.has(request.exec_id)) throw new RpcError(Code.AlreadyExists, `exec ${request.exec_id}: already exists`)
    const p = Object.assign(this.newProc(request.exec_id, { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal }), { spec: request.spec?.value })
    this.execs.set(request.exec_id, p)
    this.options.publisher.publish('/tasks/exec-added', { container_id: this.options.id, exec_id: request.exec_id })
    return {}
  }
  // #endregion exec

  // #region resizePty
  /** ResizePty: the window size (width columns, height rows) to the process's terminal. */
  async resizePty(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (!(p.io instanceof Terminal)) throw new RpcError(Code.FailedPrecondition, `process ${request.exec_id || this.options.id} has no terminal`)
    await p.io.resize(request.height, request.width)
    return {}
  }
  // #endregion resizePty

  // #region state
  async state(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    return {
      id: p.id || this.options.id, exec_id: p.id, bundle: this.options.bundle, pid: p.pid, status: STATUS[p.status],
      stdin: p.stdio.stdin, stdout: p.stdio.stdout, stderr: p.stdio.stderr, terminal: p.stdio.terminal,
      exit_status: p.exitStatus, exited_at: p.exitedAt ? timestamp(p.exitedAt) : null,
    }
  }
  // #endregion state

  // #region wait
  async wait(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    await p.exited
    return { exit_status: p.exitStatus, exited_at: timestamp(p.exitedAt!) }
  }
  // #endregion wait

  // #region kill
  /**
   * Kill: the runtime's `kill` for init (`--all` when asked), kill(2) for an exec. A process that
   * has already exited is NotFound, with "process already finished" in the message: containerd
   * matches those words to know the process is gone.
   */
  async kill(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (p.status === 'stopped') throw new RpcError(Code.NotFound, `process ${request.exec_id || this.options.id}: process already finished: not found`)
    if (p.id) {
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
   * Delete: only a process that is not running. For init, the runtime's `delete` and the
   * rootfs unmounted, then TaskDelete with the exit status (an exec's delete sends none, as
   * runc's shim); the exit status is also the answer.
   */
  async delete(request: any): Promise<object> {
    const p = this.proc(request.exec_id)
    if (p.status === 'running') throw new RpcError(Code.FailedPrecondition, `cannot delete process ${request.exec_id || this.options.id}: it is running`)
    if (p.io instanceof Terminal) p.io.close() // its keeper has nothing left to keep
    if (p.id) this.execs.delete(p.id)
    else {
      await this.options.runtime.run(['delete', '--force', this.options.id]).catch((error: RpcError) => {
        if (error.code !== Code.NotFound) throw error
      })
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

  // #region shutdown
  /** Shutdown: the shim exits once its task is deleted (or when told `now`); otherwise it stays. */
  async shutdown(request: any): Promise<object> {
    if (request.now || !this.init || this.deleted) setImmediate(() => this.options.shutdown())
    return {}
  }
  // #endregion shutdown
}
