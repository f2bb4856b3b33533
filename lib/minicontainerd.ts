/**
 * Chapter 10's given containerd, which the starter and the reference share: the containers'
 * metadata on disk, the gRPC services under containerd's names, the events socket the shims
 * publish to and the streams of `ctr events`, and what a task is made of (a bundle, a shim
 * started by its binary, a ttrpc connection, found again after a restart). It runs shims
 * through the chapter's ttrpc (serveConnection for the events; the client frames with its
 * encodeFrame and FrameReader). containerd's own: core/runtime/v2 (shim.go, shim_load.go,
 * binary.go) and core/metadata.
 */
import * as grpc from '@grpc/grpc-js'
import { execa } from 'execa'
import { randomUUID } from 'node:crypto'
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { serveConnection } from '#ch/10-shim/ttrpc.ts'
import { Code, RpcError } from './containerd-proto.ts'
import { addServices, stream, type Handler, type StreamHandler } from './containerd-server.ts'
import { shimCall } from './shim.ts'
import { dialTtrpc, type TtrpcClient } from './ttrpc-client.ts'

export const VERSION = { version: '1.6.20+minicontainerd', revision: 'minidocker' }

/** A task: its shim's connection and what containerd keeps of it. */
export interface TaskEntry {
  namespace: string
  id: string
  bundle: string
  runtime: string
  shim: Pick<TtrpcClient, 'call' | 'close'>
}

export abstract class MinicontainerdBase {
  /** the tasks by NAMESPACE/ID */
  protected readonly tasks = new Map<string, TaskEntry>()
  #grpc = new grpc.Server()
  #events: Server | undefined
  /** topics the shims published, in order: what `ctr events` would have shown */
  readonly events: { namespace: string; topic: string }[] = []
  /** the Events/Subscribe streams open now (`ctr events`): each gets every envelope from then on */
  #subscribers = new Set<(envelope: Record<string, unknown>) => void>()

  constructor(
    /** metadata and bundles */
    readonly root: string,
    /** the gRPC socket; the shims publish to ADDRESS.ttrpc */
    readonly address: string,
  ) {}

  /** After a restart: take back the tasks whose shims still run. */
  abstract reconnect(): Promise<void>
  /** Tasks/Create */
  abstract createTask(namespace: string, request: any): Promise<object>
  /** Tasks/Delete */
  abstract deleteTask(namespace: string, id: string): Promise<object>

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

  /** A container's metadata (its spec's bytes as a Buffer); NotFound if there is none. */
  protected container(namespace: string, id: string): any {
    const file = this.#containerFile(namespace, id)
    if (!existsSync(file)) throw new RpcError(Code.NotFound, `container "${id}" in namespace "${namespace}": not found`)
    const c = JSON.parse(readFileSync(file, 'utf8'))
    if (c.spec) c.spec.value = Buffer.from(c.spec.value, 'base64')
    return c
  }

  /** A task; NotFound if there is none. */
  protected task(namespace: string, id: string): TaskEntry {
    const t = this.tasks.get(`${namespace}/${id}`)
    if (!t) throw new RpcError(Code.NotFound, `no running task found: task ${id} not found`)
    return t
  }

  /** The flags containerd gives a shim binary, Go style. */
  protected shimFlags(namespace: string, id: string): string[] {
    return ['-namespace', namespace, '-address', this.address, '-publish-binary', process.execPath, '-id', id]
  }

  /** The environment of a shim binary: TTRPC_ADDRESS is where it publishes events. */
  protected shimEnv(): NodeJS.ProcessEnv {
    return { ...process.env, TTRPC_ADDRESS: `${this.address}.ttrpc` }
  }

  /** Remove a task's bundle once no shim uses it, ending a reader of its log FIFO first. */
  protected removeBundle(bundle: string): void {
    // A reader of the log FIFO that no shim ever opened is still waiting in open(): opening
    // the other end and closing it gives that reader its end of file.
    try {
      closeSync(openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK))
    } catch {} // no reader waiting (ENXIO) or no FIFO: nothing to end
    rmSync(bundle, { recursive: true, force: true })
  }

  /** containerd.v1.types.Process of a task, from its shim's State. */
  async #process(t: TaskEntry): Promise<object> {
    const s = await shimCall(t.shim, 'State', { id: t.id })
    return { container_id: t.id, id: t.id, pid: s.pid, status: s.status, stdin: s.stdin, stdout: s.stdout, stderr: s.stderr, terminal: s.terminal, exit_status: s.exit_status, exited_at: s.exited_at }
  }

  /** The gRPC services: each call runs with the namespace from the containerd-namespace header. */
  #services(): Record<string, Record<string, Handler | { stream: StreamHandler }>> {
    return {
      'events.v1.Events': {
        Subscribe: stream((_ns, r, subscriber) => {
          const wanted = (r.filters as string[]).map(parseFilter)
          const send = (envelope: Record<string, unknown>) => {
            if (wanted.length === 0 || wanted.some((all) => all.every(([field, value]) => envelope[field] === value))) subscriber.write(envelope)
          }
          this.#subscribers.add(send)
          subscriber.cancelled.then(() => this.#subscribers.delete(send))
        }),
        Publish: async (ns, r) => {
          const now = Date.now()
          const envelope = { timestamp: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 }, namespace: ns, topic: r.topic, event: r.event }
          for (const send of this.#subscribers) send(envelope)
          return {}
        },
      },
      'version.v1.Version': { Version: async () => VERSION },
      // ctr version also asks for the server's UUID
      'introspection.v1.Introspection': { Server: async () => ({ uuid: this.#uuid() }) },
      // ctr run holds a lease while it works; with no content or snapshots to protect, a lease is only a name
      'leases.v1.Leases': {
        Create: async (_ns, r) => ({ lease: { id: r.id || randomUUID(), created_at: { seconds: Math.floor(Date.now() / 1000), nanos: 0 }, labels: r.labels } }),
        Delete: async () => ({}),
        List: async () => ({ leases: [] }),
      },
      'containers.v1.Containers': {
        Get: async (ns, r) => ({ container: this.container(ns, r.id) }),
        List: async (ns) => ({ containers: this.#containers(ns) }),
        Create: async (ns, r) => {
          const c = r.container
          const file = this.#containerFile(ns, c.id)
          if (existsSync(file)) throw new RpcError(Code.AlreadyExists, `container "${c.id}": already exists`)
          const now = { seconds: Math.floor(Date.now() / 1000), nanos: 0 }
          const stored = { ...c, created_at: now, updated_at: now, spec: c.spec && { type_url: c.spec.type_url, value: Buffer.from(c.spec.value).toString('base64') } }
          mkdirSync(join(this.root, 'containers', ns), { recursive: true })
          writeFileSync(file, JSON.stringify(stored))
          return { container: this.container(ns, c.id) }
        },
        Delete: async (ns, r) => {
          this.container(ns, r.id)
          if (this.tasks.has(`${ns}/${r.id}`)) throw new RpcError(Code.FailedPrecondition, `cannot delete container ${r.id}: its task exists`)
          rmSync(this.#containerFile(ns, r.id))
          return {}
        },
      },
      'tasks.v1.Tasks': {
        Create: (ns, r) => this.createTask(ns, r),
        Start: async (ns, r) => shimCall(this.task(ns, r.container_id).shim, 'Start', { id: r.container_id, exec_id: r.exec_id }),
        Get: async (ns, r) => ({ process: await this.#process(this.task(ns, r.container_id)) }),
        List: async (ns) => ({ tasks: await Promise.all([...this.tasks.values()].filter((t) => t.namespace === ns).map((t) => this.#process(t))) }),
        Kill: async (ns, r) => shimCall(this.task(ns, r.container_id).shim, 'Kill', { id: r.container_id, exec_id: r.exec_id, signal: r.signal, all: r.all }),
        Wait: async (ns, r) => shimCall(this.task(ns, r.container_id).shim, 'Wait', { id: r.container_id, exec_id: r.exec_id }),
        Delete: (ns, r) => this.deleteTask(ns, r.container_id),
        ListPids: async (ns, r) => shimCall(this.task(ns, r.container_id).shim, 'Pids', { id: r.container_id }),
      },
    }
  }

  #containers(namespace: string): object[] {
    const dir = join(this.root, 'containers', namespace)
    return existsSync(dir) ? readdirSync(dir).map((f) => this.container(namespace, f.replace(/\.json$/, ''))) : []
  }

  /** Stop listening; the shims, and their tasks, go on. */
  async stop(): Promise<void> {
    this.#grpc.forceShutdown()
    this.#events?.close()
    for (const t of this.tasks.values()) t.shim.close()
  }

  /** Listen: gRPC on `address`, ttrpc for events on `address.ttrpc`; then find the shims left running. */
  async start(): Promise<void> {
    addServices(this.#grpc, this.#services())
    rmSync(this.address, { force: true })
    await new Promise<void>((resolve, reject) => this.#grpc.bindAsync(`unix://${this.address}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())))
    this.#events = createServer((socket) => {
      try {
        this.#serveEvents(socket)
      } catch (error) {
        // a server that cannot serve (the chapter's code not written yet, say) costs this one connection
        console.error(`minicontainerd: events: ${(error as Error).message}`)
        socket.destroy()
      }
    })
    rmSync(`${this.address}.ttrpc`, { force: true })
    await new Promise<void>((resolve) => this.#events!.listen(`${this.address}.ttrpc`, resolve))
    await this.reconnect()
  }

  /** The Events service the shims publish to, on one connection. */
  #serveEvents(socket: Socket): void {
    serveConnection(socket, [{
      name: 'containerd.services.events.ttrpc.v1.Events',
      methods: {
        Forward: {
          request: 'containerd.services.events.ttrpc.v1.ForwardRequest',
          response: 'google.protobuf.Empty',
          handle: async (r) => {
            this.events.push({ namespace: r.envelope.namespace, topic: r.envelope.topic })
            for (const send of this.#subscribers) send(r.envelope)
            return {}
          },
        },
      },
    }])
  }
}

/**
 * One of containerd's event filters (`namespace==x,topic=="/tasks/exit"`: each comma-separated
 * term must hold, a value quoted or bare) as [field, value] pairs; an envelope passes a
 * subscription when one of its filters holds. Only `==` on the envelope's own fields.
 */
function parseFilter(filter: string): [string, string][] {
  return filter.split(',').map((term) => {
    const match = /^\s*(\w+)\s*==\s*(?:"([^"]*)"|([^\s"]*))\s*$/.exec(term)
    if (!match) throw new RpcError(Code.InvalidArgument, `filter ${JSON.stringify(filter)}: only field==value terms are understood here`)
    return [match[1]!, match[2] ?? match[3]!]
  })
}

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
