/**
 * minicontainerd: a containerd of our own, for the subset a daemon needs. It serves gRPC on a
 * unix socket under containerd's own service, method and message names (version, containers,
 * tasks), so the real `ctr --address` talks to it; it keeps containers' metadata on disk,
 * prepares a bundle per task, starts one shim per task (ours or containerd's own), talks ttrpc
 * to it, takes the shims' events on SOCKET.ttrpc, and after a restart finds the shims still
 * running from the address files in the bundles. containerd's own: core/runtime/v2 (shim.go,
 * shim_load.go, binary.go) and core/metadata.
 */
import * as grpc from '@grpc/grpc-js'
import { execa } from 'execa'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import { addServices, type Handler } from '../../lib/containerd-server.ts'
import { shimCall } from '../../lib/shim.ts'
import { dialTtrpc, serveConnection, type TtrpcClient } from './ttrpc.ts'

export const VERSION = { version: '1.6.20+minicontainerd', revision: 'minidocker' }

/** A task: its shim's connection and what containerd keeps of it. */
interface TaskEntry {
  namespace: string
  id: string
  bundle: string
  runtime: string
  shim: TtrpcClient
}

// #region shimBinary
/** containerd's BinaryName: io.containerd.runc.v2 is containerd-shim-runc-v2 on the PATH. */
export function shimBinary(runtime: string): string {
  const parts = runtime.split('.')
  if (parts.length < 2 || !parts.at(-2) || !/^v\d+$/.test(parts.at(-1)!)) throw new RpcError(Code.InvalidArgument, `runtime ${JSON.stringify(runtime)} is not of the form io.containerd.NAME.vN`)
  return `containerd-shim-${parts.at(-2)}-${parts.at(-1)}`
}
// #endregion shimBinary

export class Minicontainerd {
  #tasks = new Map<string, TaskEntry>()
  #grpc = new grpc.Server()
  #events: Server | undefined
  /** topics the shims published, in order: what `ctr events` would have shown */
  readonly events: { namespace: string; topic: string }[] = []

  constructor(
    /** metadata and bundles */
    readonly root: string,
    /** the gRPC socket; the shims publish to ADDRESS.ttrpc */
    readonly address: string,
  ) {}

  /** The server's UUID, made once and kept with the metadata. */
  #uuid(): string {
    const file = join(this.root, 'uuid')
    if (!existsSync(file)) {
      mkdirSync(this.root, { recursive: true })
      writeFileSync(file, randomUUID())
    }
    return readFileSync(file, 'utf8')
  }

  #containerFile(namespace: string, id: string): string {
    return join(this.root, 'containers', namespace, `${id}.json`)
  }

  #container(namespace: string, id: string): any {
    const file = this.#containerFile(namespace, id)
    if (!existsSync(file)) throw new RpcError(Code.NotFound, `container "${id}" in namespace "${namespace}": not found`)
    const c = JSON.parse(readFileSync(file, 'utf8'))
    if (c.spec) c.spec.value = Buffer.from(c.spec.value, 'base64')
    return c
  }

  #task(namespace: string, id: string): TaskEntry {
    const t = this.#tasks.get(`${namespace}/${id}`)
    if (!t) throw new RpcError(Code.NotFound, `no running task found: task ${id} not found`)
    return t
  }

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
          this.#tasks.set(`${namespace}/${id}`, { namespace, id, bundle, runtime, shim })
        } catch {
          await this.#shimDelete(namespace, id, bundle, runtime)
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
    if (this.#tasks.has(`${namespace}/${id}`)) throw new RpcError(Code.AlreadyExists, `task ${id}: already exists`)
    const container = this.#container(namespace, id)
    const runtime = container.runtime?.name || 'io.containerd.runc.v2'
    const bundle = join(this.root, 'tasks', namespace, id)
    mkdirSync(join(bundle, 'rootfs'), { recursive: true })
    writeFileSync(join(bundle, 'config.json'), container.spec.value)
    writeFileSync(join(bundle, 'runtime-name'), runtime)
    await execa('mkfifo', [join(bundle, 'log')])
    const log = execa('cat', [join(bundle, 'log')], { reject: false }) // the shims' log; cat ends when they do
    log.catch(() => {})
    const flags = ['-namespace', namespace, '-address', this.address, '-publish-binary', process.execPath, '-id', id]
    const started = await execa(shimBinary(runtime), [...flags, 'start'], {
      cwd: bundle, input: '', reject: false, env: { ...process.env, TTRPC_ADDRESS: `${this.address}.ttrpc` },
    })
    if (started.exitCode !== 0) {
      rmSync(bundle, { recursive: true, force: true })
      throw new RpcError(Code.Unknown, `failed to start shim: ${String(started.stderr).trim() || `exit status ${started.exitCode}`}`)
    }
    const shim = await dialTtrpc(String(started.stdout).trim())
    this.#tasks.set(`${namespace}/${id}`, { namespace, id, bundle, runtime, shim })
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
    const t = this.#task(namespace, id)
    const deleted = await shimCall(t.shim, 'Delete', { id }).catch((error: RpcError) => {
      if (error.code === Code.FailedPrecondition) throw error // still running: containerd says so too
      return { pid: 0, exit_status: 0, exited_at: null }
    })
    await shimCall(t.shim, 'Shutdown', { id }).catch(() => {})
    t.shim.close()
    this.#tasks.delete(`${namespace}/${id}`)
    await this.#shimDelete(namespace, id, t.bundle, t.runtime)
    return { id, pid: deleted.pid, exit_status: deleted.exit_status, exited_at: deleted.exited_at }
  }
  // #endregion deleteTask

  async #shimDelete(namespace: string, id: string, bundle: string, runtime: string): Promise<void> {
    const flags = ['-namespace', namespace, '-address', this.address, '-publish-binary', process.execPath, '-id', id, '-bundle', bundle]
    await execa(shimBinary(runtime), [...flags, 'delete'], { cwd: bundle, input: '', reject: false, env: { ...process.env, TTRPC_ADDRESS: `${this.address}.ttrpc` } })
    rmSync(bundle, { recursive: true, force: true })
  }

  /** containerd.v1.types.Process of a task, from its shim's State. */
  async #process(t: TaskEntry): Promise<object> {
    const s = await shimCall(t.shim, 'State', { id: t.id })
    return { container_id: t.id, id: t.id, pid: s.pid, status: s.status, stdin: s.stdin, stdout: s.stdout, stderr: s.stderr, terminal: s.terminal, exit_status: s.exit_status, exited_at: s.exited_at }
  }

  /** The gRPC services: each call runs with the namespace from the containerd-namespace header. */
  #services(): Record<string, Record<string, Handler>> {
    return {
      'version.v1.Version': { Version: async () => VERSION },
      // ctr version also asks for the server's UUID
      'introspection.v1.Introspection': { Server: async () => ({ uuid: this.#uuid() }) },
      'containers.v1.Containers': {
        Get: async (ns, r) => ({ container: this.#container(ns, r.id) }),
        List: async (ns) => ({ containers: this.#containers(ns) }),
        Create: async (ns, r) => {
          const c = r.container
          const file = this.#containerFile(ns, c.id)
          if (existsSync(file)) throw new RpcError(Code.AlreadyExists, `container "${c.id}": already exists`)
          const now = { seconds: Math.floor(Date.now() / 1000), nanos: 0 }
          const stored = { ...c, created_at: now, updated_at: now, spec: c.spec && { type_url: c.spec.type_url, value: Buffer.from(c.spec.value).toString('base64') } }
          mkdirSync(join(this.root, 'containers', ns), { recursive: true })
          writeFileSync(file, JSON.stringify(stored))
          return { container: this.#container(ns, c.id) }
        },
        Delete: async (ns, r) => {
          this.#container(ns, r.id)
          if (this.#tasks.has(`${ns}/${r.id}`)) throw new RpcError(Code.FailedPrecondition, `cannot delete container ${r.id}: its task exists`)
          rmSync(this.#containerFile(ns, r.id))
          return {}
        },
      },
      'tasks.v1.Tasks': {
        Create: (ns, r) => this.createTask(ns, r),
        Start: async (ns, r) => shimCall(this.#task(ns, r.container_id).shim, 'Start', { id: r.container_id, exec_id: r.exec_id }),
        Get: async (ns, r) => ({ process: await this.#process(this.#task(ns, r.container_id)) }),
        List: async (ns) => ({ tasks: await Promise.all([...this.#tasks.values()].filter((t) => t.namespace === ns).map((t) => this.#process(t))) }),
        Kill: async (ns, r) => shimCall(this.#task(ns, r.container_id).shim, 'Kill', { id: r.container_id, exec_id: r.exec_id, signal: r.signal, all: r.all }),
        Wait: async (ns, r) => shimCall(this.#task(ns, r.container_id).shim, 'Wait', { id: r.container_id, exec_id: r.exec_id }),
        Delete: (ns, r) => this.deleteTask(ns, r.container_id),
        ListPids: async (ns, r) => shimCall(this.#task(ns, r.container_id).shim, 'Pids', { id: r.container_id }),
      },
    }
  }

  #containers(namespace: string): object[] {
    const dir = join(this.root, 'containers', namespace)
    return existsSync(dir) ? readdirSync(dir).map((f) => this.#container(namespace, f.replace(/\.json$/, ''))) : []
  }

  /** Stop listening; the shims, and their tasks, go on. */
  async stop(): Promise<void> {
    this.#grpc.forceShutdown()
    this.#events?.close()
    for (const t of this.#tasks.values()) t.shim.close()
  }

  /** Listen: gRPC on `address`, ttrpc for events on `address.ttrpc`; then find the shims left running. */
  async start(): Promise<void> {
    addServices(this.#grpc, this.#services())
    rmSync(this.address, { force: true })
    await new Promise<void>((resolve, reject) => this.#grpc.bindAsync(`unix://${this.address}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())))
    this.#events = createServer((socket) =>
      serveConnection(socket, [{
        name: 'containerd.services.events.ttrpc.v1.Events',
        methods: {
          Forward: {
            request: 'containerd.services.events.ttrpc.v1.ForwardRequest',
            response: 'google.protobuf.Empty',
            handle: async (r) => (this.events.push({ namespace: r.envelope.namespace, topic: r.envelope.topic }), {}),
          },
        },
      }]),
    )
    rmSync(`${this.address}.ttrpc`, { force: true })
    await new Promise<void>((resolve) => this.#events!.listen(`${this.address}.ttrpc`, resolve))
    await this.reconnect()
  }
}
