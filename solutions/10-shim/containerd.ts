/**
 * minicontainerd: a containerd of our own, for the subset a daemon needs. It serves gRPC on a
 * unix socket under containerd's own service, method and message names (version, containers,
 * tasks), so the real `ctr --address` talks to it; it keeps containers' metadata on disk,
 * prepares a bundle per task, starts one shim per task (ours or containerd's own), talks ttrpc
 * to it, takes the shims' events on SOCKET.ttrpc, and after a restart finds the shims still
 * running. containerd's own: core/runtime/v2 (shim.go,
 * shim_load.go, binary.go) and core/metadata.
 */
import { execa } from 'execa'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import { MinicontainerdBase } from '../../lib/minicontainerd.ts'
import { shimCall } from '../../lib/shim.ts'
import { dialTtrpc } from './ttrpc.ts'

// #region shimBinary
/** containerd's BinaryName: io.containerd.runc.v2 is containerd-shim-runc-v2 on the PATH. */
export function shimBinary(runtime: string): string {
  const parts = runtime.split('.')
  if (parts.length < 2 || !parts.at(-2) || !/^v\d+$/.test(parts.at(-1)!)) throw new RpcError(Code.InvalidArgument, `runtime ${JSON.stringify(runtime)} is not of the form io.containerd.NAME.vN`)
  return `containerd-shim-${parts.at(-2)}-${parts.at(-1)}`
}
// #endregion shimBinary

/** Our containerd: the given services of MinicontainerdBase, with tasks made and found again here. */
export class Minicontainerd extends MinicontainerdBase {
  // #region reconnect
  /**
   * After a restart: every bundle whose shim wrote an address is a task that may still run.
   * Connect answers for a live shim; a bundle whose shim is gone is cleaned up with the
   * shim binary's delete, as containerd's loadShims does.
   */
  async reconnect(): Promise<void> {
    const tasks = join(this.root, 'tasks')
    if (!existsSync(tasks)) return
    for (const namespace of readdirSync(tasks)) {
      for (const id of readdirSync(join(tasks, namespace))) {
        const bundle = join(tasks, namespace, id)
        const runtime = readFileSync(join(bundle, 'runtime-name'), 'utf8')
        try {
          const shim = await dialTtrpc(readFileSync(join(bundle, 'address'), 'utf8'))
          await shimCall(shim, 'Connect', { id })
          this.tasks.set(`${namespace}/${id}`, { namespace, id, bundle, runtime, shim })
        } catch {
          await this.#shimDelete(runtime, namespace, id, bundle)
        }
      }
    }
  }
  // #endregion reconnect

  // #region createTask
  /**
   * Tasks/Create: a bundle (config.json from the container's spec, an empty rootfs, the log
   * FIFO), the shim binary's start with TTRPC_ADDRESS set, a ttrpc connection to the address
   * it prints, and the shim's Create.
   */
  async createTask(namespace: string, request: any): Promise<object> {
    const id = request.container_id
    if (this.tasks.has(`${namespace}/${id}`)) throw new RpcError(Code.AlreadyExists, `task ${id}: already exists`)
    const container = this.container(namespace, id)
    const runtime = container.runtime?.name || 'io.containerd.runc.v2'
    const bundle = join(this.root, 'tasks', namespace, id)
    mkdirSync(join(bundle, 'rootfs'), { recursive: true })
    writeFileSync(join(bundle, 'config.json'), container.spec.value)
    writeFileSync(join(bundle, 'runtime-name'), runtime)
    await execa('mkfifo', [join(bundle, 'log')])
    const log = execa('cat', [join(bundle, 'log')], { reject: false }) // the shims' log; cat ends when they do
    log.catch(() => {})
    const started = await execa(shimBinary(runtime), [...this.shimFlags(namespace, id), 'start'], { cwd: bundle, input: '', reject: false, env: this.shimEnv() })
    if (started.exitCode !== 0) {
      rmSync(bundle, { recursive: true, force: true })
      throw new RpcError(Code.Unknown, `failed to start shim: ${String(started.stderr).trim() || `exit status ${started.exitCode}`}`)
    }
    const shim = await dialTtrpc(String(started.stdout).trim())
    this.tasks.set(`${namespace}/${id}`, { namespace, id, bundle, runtime, shim })
    try {
      const { pid } = await shimCall(shim, 'Create', {
        id, bundle, rootfs: request.rootfs, terminal: request.terminal, stdin: request.stdin, stdout: request.stdout, stderr: request.stderr,
      })
      return { container_id: id, pid }
    } catch (error) {
      await this.deleteTask(namespace, id).catch(() => {})
      throw error
    }
  }
  // #endregion createTask

  // #region deleteTask
  /** Tasks/Delete: the shim's Delete and Shutdown, then the binary's delete and the bundle gone. */
  async deleteTask(namespace: string, id: string): Promise<object> {
    const t = this.task(namespace, id)
    const deleted = await shimCall(t.shim, 'Delete', { id }).catch((error: RpcError) => {
      if (error.code === Code.FailedPrecondition) throw error // still running: containerd says so too
      return { pid: 0, exit_status: 0, exited_at: null }
    })
    await shimCall(t.shim, 'Shutdown', { id }).catch(() => {})
    t.shim.close()
    this.tasks.delete(`${namespace}/${id}`)
    await this.#shimDelete(t.runtime, namespace, id, t.bundle)
    return { id, pid: deleted.pid, exit_status: deleted.exit_status, exited_at: deleted.exited_at }
  }
  // #endregion deleteTask

  /** The shim binary's `delete`, which cleans up after a task (its shim gone or not), then the bundle. */
  async #shimDelete(runtime: string, namespace: string, id: string, bundle: string): Promise<void> {
    await execa(shimBinary(runtime), [...this.shimFlags(namespace, id), '-bundle', bundle, 'delete'], { cwd: bundle, input: '', reject: false, env: this.shimEnv() })
    this.removeBundle(bundle)
  }
}
