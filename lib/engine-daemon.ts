/**
 * Chapter 11's given part of minidockerd's containers, which the starter and the reference
 * share: what the daemon holds in memory for a container, the lookups and files, create and
 * rm, exec, the watch of containerd's exits (through the learner's subscribe), and the requests that are not the
 * chapter's subject (kill, stop, exec create, top, resize), and wait, which hears of an exit
 * from the monitor. The life of a container from its start (its streams, start, how its exit
 * is handled, attach, the restore after a restart, the confirmed subscription) is the learner's, in chapters/11-daemon/daemon.ts, a subclass of this one.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createSocket } from 'node:dgram'
import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Duplex, Writable } from 'node:stream'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import { createContainerLayers } from '#ch/05-layers/init.ts'
import { removeLayer } from '#ch/05-layers/driver.ts'
import { imageConfig, imageLayers, resolveImage, storePaths } from '#ch/06-images/store.ts'
import type { UserFiles } from './image-config.ts'
import { release } from './addresses.ts'
import { nameFiles } from './etc-files.ts'
import { macFor } from './links.ts'
import type { Bridge, PortMapping, Protocol, Published } from './net.ts'
import { dnatRule, ownedRule, startProxy, unpublishPorts } from './publish.ts'
import { execStdio } from './exec-stdio.ts'
import { attachNetwork, type Attachment as NetworkAttachment } from '#ch/08-network/network.ts'
import { findContainer, loadContainers, newContainer, saveContainer } from './container-records.ts'
import { frame } from './output-streams.ts'
import { killTask, runtimeSpec } from './containerd-tasks.ts'
import { PROCESS_TYPE_URL, type Containerd, type Envelope, type Subscription } from './containerd.ts'
import { daemonSecurity } from './docker-security.ts'
import { badRequest, conflict, containerDir, EngineError, type Container, type ContainerConfig, type HostConfig, type PortBindings, type StreamName } from './engine.ts'
import { ContainerError } from './errors.ts'
import { signalNumber } from './engine-routes.ts'
import { forgetContainer, recordContainer } from './image.ts'
import { parseSubnet, processStart, toAddress } from './net.ts'

/** containerd.events.TaskExit, as a `/tasks/exit` envelope carries it (lib/proto/api/events/task.proto). */
export interface TaskExit { container_id: string; id: string; pid: number; exit_status: number; exited_at?: { seconds: number; nanos: number } | null }

/** A client attached to a container's output (and maybe its input). */
export interface Attachment {
  socket: Duplex
  streams: Set<StreamName>
}

/**
 * What DaemonBase holds in memory for a container besides its record. A subclass keeps
 * whatever else its containers need in fields of its own.
 */
export interface Live {
  /** the clients attached to the container */
  attached: Set<Attachment>
  /** the daemon's open end of the container's stdin FIFO, while it has one */
  stdin?: Writable
  /** awaited by remove() and stop() (below), if set, once they have signalled a running container; stop() without it answers "not running" */
  finished?: Promise<void>
  /** chapter 08's network while the container runs: its veth, address, published ports */
  network?: NetworkAttachment
}

/** An exec instance (`docker exec`): created by one request, run by another, inspected by a third. */
export interface Exec {
  ID: string
  ContainerID: string
  Cmd: string[]
  Env: string[]
  User: string
  WorkingDir: string
  Tty: boolean
  AttachStdin: boolean
  AttachStdout: boolean
  AttachStderr: boolean
  Running: boolean
  ExitCode: number | null
  Pid: number
}

export interface DaemonOptions {
  /** the data root: the image store and ROOT/containers */
  root: string
  /** the exec root: the FIFOs of running containers */
  runRoot: string
  containerd: Containerd
  /** the cgroup its containers' cgroups go below (--cgroup-parent) */
  cgroupParent: string
  /** the bridge of `--network bridge` (chapter 08's, in the daemon's network namespace); none: only none and host */
  bridge?: Bridge
}

export abstract class DaemonBase {
  readonly containers = new Map<string, Container>()
  readonly execs = new Map<string, Exec>()
  protected readonly live = new Map<string, Live>()
  /** each container's start under way */
  readonly #starts = new Map<string, Promise<unknown>>()
  constructor(readonly options: DaemonOptions) {
    for (const c of loadContainers(options.root)) this.containers.set(c.ID, c)
  }

  /**
   * Called once, when the daemon starts and before it serves: from then on the daemon learns of
   * its containers' exits, and the containers the records call running are found again as
   * containerd has them (the learner's, in the chapter's daemon.ts).
   */
  abstract restore(): Promise<void>

  /** The event stream of watchExits ended by itself (the learner's, in the chapter's daemon.ts). */
  protected abstract resumeExits(): Promise<void>

  /**
   * containerd's events that match `filters`, resolved only once the subscription is in place
   * (the learner's, in the chapter's daemon.ts): every event containerd publishes afterwards
   * that `filters` ask for reaches `onEnvelope`, in order, and nothing else ever does. `onEnd`
   * hears of a stream that ends by itself afterwards; one that ends before then rejects.
   */
  abstract subscribe(filters: string[], onEnvelope: (envelope: Envelope) => void, onEnd: (error: Error) => void): Promise<Subscription>

  // #region create
  /**
   * `POST /containers/create`: the image must be in the store (else 404 "No such image: REF",
   * which makes the CLI pull and ask again); the container gets its record and its own two
   * layers on top of the image's, and the image is marked in use so rmi refuses it.
   */
  async create(body: Partial<ContainerConfig> & { HostConfig?: HostConfig }, name: string | undefined, imageRef: (ref: string) => string): Promise<Container> {
    const root = this.options.root
    const ref = imageRef(body.Image ?? '')
    let imageId: string
    try {
      imageId = resolveImage(root, ref)
    } catch (error) {
      if ((error as Error).name === 'NoSuchImageError') throw new EngineError(404, `No such image: ${ref}`)
      throw error
    }
    this.networkOf(body.HostConfig) // before anything is made: a network this daemon does not have is refused
    // Security options are refused now, as dockerd does, not when the container starts (13).
    try {
      daemonSecurity(body.HostConfig ?? {})
    } catch (error) {
      throw badRequest((error as Error).message)
    }
    const c = newContainer(root, body, { id: imageId, config: imageConfig(root, imageId) }, name, [...this.containers.values()])
    const top = imageLayers(root, imageId).at(-1)
    if (!top) throw badRequest(`image ${ref} has no layers to run`)
    recordContainer(root, c.ID, imageId)
    try {
      createContainerLayers(storePaths(root).graph, c.ID, top.cacheId, { hostname: c.Config.Hostname })
      this.save(c)
    } catch (error) {
      this.dropFiles(c)
      throw error
    }
    this.containers.set(c.ID, c)
    return c
  }
  // #endregion create

  // #region watchExits
  /**
   * The daemon's subscription to containerd's events (moby libcontainerd/remote/client.go
   * processEventStream): every `/tasks/exit` event of this daemon's containerd namespace goes
   * to `onExit`, in order, from the moment the promise resolves (the subscription is then in
   * place: the chapter's subscribe()). The namespace is not the daemon's own:
   * whatever else runs tasks in it is heard too. When the stream ends by itself (containerd went
   * away), resumeExits() is called.
   */
  protected async watchExits(onExit: (exit: TaskExit) => void): Promise<void> {
    const { containerd } = this.options
    await this.subscribe([`namespace==${JSON.stringify(containerd.namespace)},topic=="/tasks/exit"`], (envelope) => onExit(envelope.event as TaskExit), (error) => {
      process.stderr.write(`no more exits from containerd (${error.message}): subscribing again once it answers\n`)
      void this.resumeExits()
    })
  }
  // #endregion watchExits

  /** A removal under way or done, per container: its promise, and whoever waits for it. */
  private readonly removals = new Map<string, { removing?: Promise<void>; done: Promise<void>; resolve(): void }>()
  private removalOf(id: string) {
    let removal = this.removals.get(id)
    if (!removal) {
      let resolve = () => {}
      const done = new Promise<void>((r) => (resolve = r))
      removal = { done, resolve }
      this.removals.set(id, removal)
    }
    return removal
  }

  /** Resolves once the container `id` has been removed (by rm, or by its AutoRemove). */
  protected whenRemoved(id: string): Promise<void> {
    return this.removalOf(id).done
  }

  /** Per container, where its monitor tells the waiters that an exit has been handled. */
  readonly #handled = new Map<string, EventEmitter>()
  #handledOf(id: string): EventEmitter {
    let events = this.#handled.get(id)
    if (!events) {
      events = new EventEmitter()
      events.setMaxListeners(0)
      this.#handled.set(id, events)
    }
    return events
  }

  /** The monitor has handled an exit of container `id`: its waiters for not-running and next-exit answer with the record's ExitCode. */
  protected exitHandled(id: string): void {
    this.#handledOf(id).emit('exit')
  }

  // #region wait
  /**
   * `docker wait`, and the wait of `docker run`: the exit code, once the condition the client
   * names holds (the Engine API's three wait conditions; any other is `not-running`, as
   * dockerd 20.10 takes it). A wait may come after what it waits for, and a wait for
   * not-running sent while a start is under way answers that run's exit, as dockerd's does (its
   * wait takes the container's lock, which its start holds: moby container/state.go Wait).
   * cancel(), once the client has gone, leaves nothing behind.
   */
  wait(c: Container, condition: string): { done: Promise<number>; cancel(): void } {
    if (condition === 'removed') return { done: this.whenRemoved(c.ID).then(() => c.State.ExitCode), cancel() {} }
    const events = this.#handledOf(c.ID)
    let listener: () => void = () => {}
    const done = new Promise<number>((resolve) => {
      listener = () => resolve(c.State.ExitCode)
      events.once('exit', listener)
      if (condition !== 'next-exit') void this.afterStart(c.ID).then(() => {
        if (c.State.Running) return
        events.off('exit', listener)
        resolve(c.State.ExitCode)
      })
    })
    return { done, cancel: () => events.off('exit', listener) }
  }
  // #endregion wait

  // #region remove
  /**
   * `docker rm`: the container and everything it owns are gone, and whoever waits for its
   * removal hears of it. A running container is refused unless forced, as dockerd refuses it
   * (status and words of moby's daemon/delete.go); a forced one is killed first. `docker run
   * --rm` (AutoRemove) and a `docker rm -f` may remove the same container at the same moment:
   * both get the one removal.
   */
  remove(c: Container, force: boolean): Promise<void> {
    const live = this.liveOf(c.ID)
    const removal = this.removalOf(c.ID)
    if (removal.removing) return removal.removing
    if (c.State.Running && !force)
      throw conflict(`You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`)
    removal.removing = (async () => {
      if (c.State.Running && live.finished) {
        const finished = live.finished
        await killTask(this.options.containerd, c.ID, 9).catch(() => {})
        await finished
      }
      this.containers.delete(c.ID)
      this.dropFiles(c)
      for (const a of live.attached) a.socket.end() // clients waiting for a start that will not come
      this.live.delete(c.ID)
      this.#handled.delete(c.ID)
      this.removals.delete(c.ID)
      removal.resolve()
    })()
    return removal.removing
  }
  // #endregion remove

  /**
   * The network mode a create asks for, as this daemon can give it: "default" is the bridge;
   * a network it does not have is a 404 "network NAME not found", as dockerd says it.
   */
  protected networkOf(host: HostConfig | undefined): 'none' | 'host' | 'bridge' {
    const mode = host?.NetworkMode || 'default'
    const name = mode === 'default' ? 'bridge' : mode
    if (name === 'none' || name === 'host' || (name === 'bridge' && this.options.bridge)) {
      if (name !== 'bridge' && Object.keys(host?.PortBindings ?? {}).length > 0) throw badRequest('conflicting options: port publishing and the container type network mode')
      portMappings(host?.PortBindings)
      return name
    }
    throw new EngineError(404, `network ${name} not found`)
  }

  /**
   * Wire the network of `c`, whose process `pid` waits in its new namespaces (startTask's
   * beforeStart), with chapter 08's attachNetwork: lo up for "none"; for the bridge an address,
   * a veth and the published ports (a port without a host port, and with `-P` each port the
   * image exposes, on a free one the kernel picks), then the container's /etc/hosts names its
   * address, and NetworkSettings records it all. A port another container of this daemon
   * publishes is a 409 with dockerd's words; so is one the proxy cannot bind.
   */
  protected async connect(c: Container, pid: number): Promise<void> {
    const mode = this.networkOf(c.HostConfig)
    if (mode === 'host') return
    const endpoint = `driver failed programming external connectivity on endpoint ${c.Name.slice(1)} (${c.ID})`
    const ports = await choosePorts(portMappings(this.wantedBindings(c)))
    for (const other of this.containers.values()) {
      if (other.ID === c.ID || !other.State.Running) continue
      const taken = portMappings(other.NetworkSettings?.Ports).find((o) => ports.some((p) => p.proto === o.proto && p.hostPort === o.hostPort && [p.hostIp, '0.0.0.0'].includes(o.hostIp)))
      if (taken) throw conflict(`${endpoint}: Bind for ${taken.hostIp}:${taken.hostPort} failed: port is already allocated`)
    }
    const live = this.liveOf(c.ID)
    try {
      // chapter 08 keeps its IPAM state under ROOT/network and removes ROOT/containers/ID at the end: a root of its own
      live.network = await attachNetwork(pid, { mode, ports, root: join(this.options.runRoot, 'network'), id: c.ID, hostname: c.Config.Hostname, files: false, bridge: this.options.bridge })
    } catch (error) {
      if (error instanceof ContainerError) throw conflict(`${endpoint}: ${error.message}`)
      throw error
    }
    const address = live.network.address
    if (!address || !this.options.bridge) return
    const { network, prefix } = parseSubnet(this.options.bridge.subnet)
    // the files are bind-mounted already: rewritten in place, the container sees its address in /etc/hosts
    nameFiles(containerDir(this.options.root, c.ID), c.Config.Hostname, address)
    const bound: PortBindings = {}
    for (const p of ports) (bound[`${p.containerPort}/${p.proto}`] ??= [])!.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) })
    c.NetworkSettings = { IPAddress: address, Gateway: toAddress(network + 1), IPPrefixLen: prefix, MacAddress: macFor(address), Ports: bound }
  }

  /** The port bindings `c` asks for: HostConfig.PortBindings, and with PublishAllPorts each port its image exposes on a port the daemon chooses. */
  private wantedBindings(c: Container): PortBindings {
    const wanted: PortBindings = { ...c.HostConfig.PortBindings }
    if (!c.HostConfig.PublishAllPorts) return wanted
    for (const port of Object.keys(imageConfig(this.options.root, c.Image).config?.ExposedPorts ?? {})) wanted[port] ??= [{ HostIp: '', HostPort: '' }]
    return wanted
  }

  /**
   * After a restart of the daemon, for a container still running on the bridge: its DNAT rules,
   * veth and address stayed, its proxies ended with the old daemon. Start the proxies again
   * (the rules are not made twice) and undo it all at its exit, as connect's attachment would.
   */
  protected async reconnect(c: Container): Promise<void> {
    const settings = c.NetworkSettings
    if (!settings?.IPAddress || !this.options.bridge) return
    const root = join(this.options.runRoot, 'network')
    const ports = portMappings(settings.Ports)
    // the rules as connect made them, mark included, so that unpublishPorts finds them
    const owner = { pid: c.State.Pid, start: processStart(c.State.Pid) ?? '' }
    const published: Published = { rules: ports.map((p) => ownedRule(dnatRule(p, this.options.bridge!, settings.IPAddress), owner)), proxies: [] }
    this.liveOf(c.ID).network = {
      mounts: [], address: settings.IPAddress,
      detach: async () => {
        await unpublishPorts(published) // the veth went with the container's namespace
        await release(join(root, 'network'), settings.IPAddress)
        rmSync(join(root, 'containers', c.ID), { recursive: true, force: true })
      },
    }
    for (const p of ports) {
      try {
        published.proxies.push(await startProxy(p, settings.IPAddress))
      } catch (error) {
        process.stderr.write(`container ${c.ID}: ${(error as Error).message}\n`)
      }
    }
  }

  /** Undo connect once the container has exited: its ports, its veth, its address. */
  protected async disconnect(c: Container): Promise<void> {
    const live = this.liveOf(c.ID)
    const network = live.network
    live.network = undefined
    c.NetworkSettings = undefined
    await network?.detach()
  }

  get(ref: string): Container {
    return findContainer(this.containers.values(), ref)
  }

  protected liveOf(id: string): Live {
    let live = this.live.get(id)
    if (!live) {
      live = { attached: new Set() }
      this.live.set(id, live)
    }
    return live
  }

  protected save(c: Container): void {
    saveContainer(this.options.root, c, existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '')
  }

  /** The image's /etc/passwd and /etc/group, read from its layers top down (a user name is looked up there). */
  protected userFiles(c: Container): UserFiles {
    const graph = storePaths(this.options.root).graph
    const layers = imageLayers(this.options.root, c.Image).reverse()
    const read = (path: string) => {
      for (const layer of layers) {
        const dir = join(graph, layer.cacheId, 'diff')
        const file = secureJoin(dir, path, true)
        if (lstatSync(file, { throwIfNoEntry: false })?.isFile()) return readFileSync(file, 'utf8')
      }
      return undefined
    }
    return { passwd: read('etc/passwd'), group: read('etc/group') }
  }

  /**
   * Records `start` as container `id`'s start under way until it settles; afterStart waits for
   * it (compare moby daemon/start.go, ContainerStart and containerStart).
   */
  async starting<T>(id: string, start: Promise<T>): Promise<T> {
    this.#starts.set(id, start)
    try {
      return await start
    } finally {
      if (this.#starts.get(id) === start) this.#starts.delete(id)
    }
  }

  /** Once container `id`'s start under way, if any, has ended, however it ended. */
  async afterStart(id: string): Promise<void> {
    await this.#starts.get(id)?.catch(() => {})
  }

  /** `docker kill -s SIG`: a container that is not running is a 409 naming it as the client did (`ref`) and by its ID. */
  async kill(c: Container, signal: number, ref = c.ID): Promise<void> {
    if (!c.State.Running) throw conflict(`Cannot kill container: ${ref}: Container ${c.ID} is not running`)
    await killTask(this.options.containerd, c.ID, signal)
  }

  // #region stop
  /**
   * `docker stop`, as moby's containerStop (daemon/stop.go) and killWithSignal (daemon/kill.go)
   * do it: the container's own stop signal, SIGKILL once its grace period is over, and the
   * answer once its exit has been handled (Live.finished). The grace period is the client's `t`
   * when it sent one (0: none; below 0: no limit), else the container's StopTimeout, else 10 s.
   * A signal that finds the process already gone is no failure: its exit is on its way.
   */
  async stop(c: Container, timeout?: number): Promise<'stopped' | 'not running'> {
    const finished = this.liveOf(c.ID).finished
    if (!c.State.Running || !finished) return 'not running'
    const seconds = timeout ?? c.Config.StopTimeout ?? 10
    await killTask(this.options.containerd, c.ID, signalNumber(c.Config.StopSignal || null, 15)).catch(() => {})
    if (seconds >= 0) {
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), seconds * 1000).unref())
      if ((await Promise.race([finished, timer])) === 'late') await killTask(this.options.containerd, c.ID, 9).catch(() => {})
    }
    await finished
    return 'stopped'
  }
  // #endregion stop

  protected dropFiles(c: Container): void {
    const graph = storePaths(this.options.root).graph
    for (const layer of [c.ID, `${c.ID}-init`]) removeLayer(graph, layer)
    forgetContainer(this.options.root, c.ID)
  }

  /** `POST /containers/{id}/exec`: an exec instance of a running container, not started yet. */
  createExec(c: Container, body: { Cmd?: string[]; Env?: string[] | null; User?: string; WorkingDir?: string; Tty?: boolean; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean }): Exec {
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`)
    if (!body.Cmd?.length) throw badRequest('No exec command specified')
    const exec: Exec = {
      ID: randomBytes(32).toString('hex'), ContainerID: c.ID, Cmd: body.Cmd, Env: body.Env ?? [], User: body.User ?? '', WorkingDir: body.WorkingDir ?? '',
      Tty: body.Tty ?? false, AttachStdin: body.AttachStdin ?? false, AttachStdout: body.AttachStdout ?? true, AttachStderr: body.AttachStderr ?? true,
      Running: false, ExitCode: null, Pid: 0,
    }
    this.execs.set(exec.ID, exec)
    return exec
  }

  // #region startExec
  /**
   * `POST /exec/{id}/start` on a hijacked socket: run the exec's command as one more process of
   * the running container (in its namespaces, as its user unless the exec names one, with the
   * exec's env added and directory), stream its output to `socket` as attach does, and end the
   * socket once it has exited and its output is drained; ExitCode then answers
   * `GET /exec/{id}/json`. An exec runs once: a second start is a 409.
   */
  async startExec(exec: Exec, socket: Duplex): Promise<void> {
    if (exec.Running || exec.ExitCode !== null) throw conflict(`Exec ${exec.ID} has already run`)
    const c = this.get(exec.ContainerID)
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`)
    const containerd = this.options.containerd
    const stdio = execStdio(join(this.options.runRoot, 'containerd', c.ID), exec, socket, containerd)
    const readers = stdio.readers
    const spec = runtimeSpec(c, this.userFiles(c), this.options.cgroupParent)
    const user = exec.User ? runtimeSpec({ ...c, Config: { ...c.Config, User: exec.User } }, this.userFiles(c), this.options.cgroupParent).process.user : spec.process.user
    const process = { ...spec.process, args: exec.Cmd, env: [...spec.process.env, ...exec.Env], cwd: exec.WorkingDir || spec.process.cwd, terminal: exec.Tty, user }
    try {
      await containerd.tasks.Exec({
        container_id: c.ID, exec_id: exec.ID, terminal: exec.Tty, ...stdio.paths,
        spec: { type_url: PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(process)) },
      })
      exec.Pid = (await containerd.tasks.Start({ container_id: c.ID, exec_id: exec.ID })).pid
      exec.Running = true
      stdio.running()
      const { exit_status } = await containerd.tasks.Wait({ container_id: c.ID, exec_id: exec.ID })
      await containerd.tasks.DeleteProcess({ container_id: c.ID, exec_id: exec.ID }).catch(() => {})
      await Promise.all(readers.map((r) => r.drained))
      exec.ExitCode = exit_status
    } catch (error) {
      readers.forEach((r) => r.close())
      exec.ExitCode = 126
      socket.write(frame('stderr', Buffer.from(`${(error as Error).message}\n`)))
    } finally {
      exec.Running = false
      stdio.remove()
      socket.end()
    }
  }
  // #endregion startExec

  /** `docker top`: the container's processes (Tasks.ListPids), as the host's `ps -ef` shows them, as dockerd does. */
  async top(c: Container): Promise<{ Titles: string[]; Processes: string[][] }> {
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`)
    const { processes } = await this.options.containerd.tasks.ListPids({ container_id: c.ID })
    const pids = new Set((processes as { pid: number }[]).map((p) => String(p.pid)))
    const [head, ...lines] = execFileSync('ps', ['-ef'], { encoding: 'utf8' }).trimEnd().split('\n')
    const titles = head!.trim().split(/\s+/)
    const rows = lines.map((line) => {
      const fields = line.trim().split(/\s+/)
      return [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]
    })
    return { Titles: titles, Processes: rows.filter((row) => pids.has(row[titles.indexOf('PID')]!)) }
  }

  /** `POST /containers/{id}/resize` for a tty. */
  async resize(c: Container, width: number, height: number): Promise<void> {
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`)
    await this.options.containerd.tasks.ResizePty({ container_id: c.ID, exec_id: '', width, height })
  }

  /** close() has been called: whatever still waits for containerd (a stream to resume) stops waiting. */
  protected closed = false

  /** Stop every running container's watching (not the containers) and close the connection to containerd. */
  close(): void {
    this.closed = true
    this.options.containerd.close()
  }
}

/** Port bindings as chapter 08's mappings; a binding without a host port has hostPort 0, for choosePorts. */
export function portMappings(bindings: PortBindings | null | undefined): PortMapping[] {
  return Object.entries(bindings ?? {}).flatMap(([port, list]) => {
    const [number, proto = 'tcp'] = port.split('/')
    if (!/^\d+$/.test(number!) || (proto !== 'tcp' && proto !== 'udp')) throw badRequest(`invalid port specification: "${port}"`)
    return (list ?? []).map((b) => {
      if (b.HostPort !== '' && !/^\d+$/.test(b.HostPort)) throw badRequest(`invalid host port "${b.HostPort}" for ${port}`)
      return { hostIp: b.HostIp || '0.0.0.0', hostPort: Number(b.HostPort), containerPort: Number(number), proto: proto as Protocol }
    })
  })
}

/**
 * Give each mapping without a host port a free one, as dockerd does: an ephemeral port from the
 * kernel's range, bound (so it is really free) and kept bound until all are chosen, so two of
 * them never get the same port.
 */
async function choosePorts(mappings: PortMapping[]): Promise<PortMapping[]> {
  const held: { close(): void }[] = []
  try {
    const chosen: PortMapping[] = []
    for (const m of mappings) {
      if (m.hostPort !== 0) {
        chosen.push(m)
        continue
      }
      const port = m.proto === 'udp' ? await bindUdp(m.hostIp, held) : await bindTcp(m.hostIp, held)
      chosen.push({ ...m, hostPort: port })
    }
    return chosen
  } finally {
    for (const socket of held) socket.close()
  }
}

function bindTcp(hostIp: string, held: { close(): void }[]): Promise<number> {
  const server = createServer()
  held.push(server)
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new EngineError(500, `cannot choose a host port on ${hostIp}/tcp: ${error.message}`)))
    server.listen(0, hostIp, () => resolve((server.address() as AddressInfo).port))
  })
}

function bindUdp(hostIp: string, held: { close(): void }[]): Promise<number> {
  const socket = createSocket('udp4')
  held.push(socket)
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => reject(new EngineError(500, `cannot choose a host port on ${hostIp}/udp: ${error.message}`)))
    socket.bind(0, hostIp, () => resolve(socket.address().port))
  })
}
