/**
 * Chapter 11: minidockerd's containers, as dockerd runs them (moby daemon/start.go,
 * daemon/monitor.go, daemon/attach.go, daemon/wait.go, daemon/delete.go): the life of a
 * container from create to rm, its output fanned out to the log and to every attached
 * client, and the exit that wakes the waiters. The HTTP side is in routes.ts.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { existsSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { createContainerLayers } from '#ch/05-layers/init.ts'
import { overlayDirs, removeLayer } from '#ch/05-layers/driver.ts'
import { overlayOptions } from '#ch/05-layers/overlay.ts'
import { imageLayers, resolveImage, storePaths, imageConfig } from '#ch/06-images/store.ts'
import type { UserFiles } from '#ch/06-images/config.ts'
import { PROCESS_TYPE_URL, type Containerd, type Mount } from '../../lib/containerd.ts'
import { forgetContainer, recordContainer } from '../../lib/image.ts'
import { resolveInRoot } from '../../lib/paths.ts'
import { outputReaders } from '../../lib/engine.ts'
import { badRequest, conflict, EngineError } from './api.ts'
import { findContainer, loadContainers, newContainer, saveContainer, ZERO_TIME, type Container, type ContainerConfig, type HostConfig } from './records.ts'
import { frame, logWriter, type StreamName } from './streams.ts'
import { deleteTask, killTask, runtimeSpec, startTask, waitTask, type TaskIO } from './tasks.ts'

/** A client attached to a container's output (and maybe its input). */
interface Attachment {
  socket: Duplex
  streams: Set<StreamName>
}

/** What the daemon holds in memory for a container besides its record. */
interface Live {
  attached: Set<Attachment>
  /** stdin that arrived before the task could take it, and whether its end came too */
  stdinEarly: Buffer[]
  stdinEnded: boolean
  stdin?: Socket
  /** 'exit' (code) after the output is drained and the record saved; 'removed' */
  events: EventEmitter
  /** set while the container runs: resolves once it has exited and been cleaned up */
  finished?: Promise<void>
  removing?: Promise<void>
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
}

export class Daemon {
  readonly containers = new Map<string, Container>()
  readonly execs = new Map<string, Exec>()
  private readonly live = new Map<string, Live>()
  constructor(readonly options: DaemonOptions) {
    for (const c of loadContainers(options.root)) this.containers.set(c.ID, c)
  }

  /**
   * After a restart of the daemon: the containers that were running are still held by
   * containerd and their shims (moby daemon/daemon.go restore). One still running gets its
   * FIFOs read again (what it wrote meanwhile waited in the pipes) and is watched as if just
   * started; one that exited meanwhile reports the shim's exit status and is cleaned up (its
   * FIFOs died with its process: output written after the old daemon went is lost); one
   * containerd does not know any more has exited with 255.
   */
  async restore(): Promise<void> {
    for (const c of this.containers.values()) {
      if (!c.State.Running) continue
      const live = this.liveOf(c.ID)
      const fifoDir = join(this.options.runRoot, 'containerd', c.ID)
      let status = 'UNKNOWN'
      try {
        status = (await this.options.containerd.tasks.Get({ container_id: c.ID })).process.status
      } catch {
        // no such task: containerd lost it
      }
      if (status === 'UNKNOWN' || !existsSync(join(fifoDir, 'init-stdout'))) {
        await deleteTask(this.options.containerd, c.ID).catch(() => {})
        Object.assign(c.State, { Running: false, Pid: 0, ExitCode: 255, FinishedAt: new Date().toISOString() })
        this.save(c)
        continue
      }
      const log = logWriter(c.LogPath)
      if (status === 'STOPPED') {
        // the shim closed the FIFOs at the exit: what the container wrote after the old daemon went is lost
        live.finished = this.monitor(c, [], log)
        continue
      }
      const readers = outputReaders({ stdout: join(fifoDir, 'init-stdout'), stderr: c.Config.Tty ? undefined : join(fifoDir, 'init-stderr') }, (stream, chunk) => {
        log.write(stream, chunk)
        for (const a of live.attached) if (a.streams.has(stream)) a.socket.write(c.Config.Tty ? chunk : frame(stream, chunk))
      })
      if (existsSync(join(fifoDir, 'init-stdin'))) {
        live.stdin = new Socket({ fd: openSync(join(fifoDir, 'init-stdin'), 'r+'), readable: false, writable: true })
        live.stdin.on('error', () => {})
      }
      live.finished = this.monitor(c, readers, log) // Tasks.Wait answers at once for a task that has exited
    }
  }

  get(ref: string): Container {
    return findContainer(this.containers.values(), ref)
  }

  private liveOf(id: string): Live {
    let live = this.live.get(id)
    if (!live) {
      live = { attached: new Set(), stdinEarly: [], stdinEnded: false, events: new EventEmitter() }
      live.events.setMaxListeners(0)
      this.live.set(id, live)
    }
    return live
  }

  private save(c: Container): void {
    saveContainer(this.options.root, c, existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '')
  }

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
    const mode = body.HostConfig?.NetworkMode || 'default'
    if (!['none', 'host'].includes(mode))
      throw new EngineError(501, `network mode "${mode}" needs a bridge, which minidockerd does not have yet: use --network none or --network host`)
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

  /** The image's /etc/passwd and /etc/group, read from its layers top down (a user name is looked up there). */
  private userFiles(c: Container): UserFiles {
    const graph = storePaths(this.options.root).graph
    const layers = imageLayers(this.options.root, c.Image).reverse()
    const read = (path: string) => {
      for (const layer of layers) {
        const dir = join(graph, layer.cacheId, 'diff')
        const file = resolveInRoot(dir, path, { escapes: 'scope', followLast: true })
        if (lstatSync(file, { throwIfNoEntry: false })?.isFile()) return readFileSync(file, 'utf8')
      }
      return undefined
    }
    return { passwd: read('etc/passwd'), group: read('etc/group') }
  }

  // #region start
  /**
   * `POST /containers/{id}/start`: make the stdio FIFOs and open our ends before containerd's
   * shim opens theirs, run the task with the container's layers as an overlay rootfs mount,
   * record the PID, and watch for the exit. Starting a running container is a 304.
   */
  async start(c: Container): Promise<'started' | 'already'> {
    if (c.State.Running) return 'already'
    const live = this.liveOf(c.ID)
    const fifoDir = join(this.options.runRoot, 'containerd', c.ID)
    mkdirSync(fifoDir, { recursive: true, mode: 0o700 })
    const io: TaskIO = { stdout: join(fifoDir, 'init-stdout'), terminal: c.Config.Tty }
    if (!c.Config.Tty) io.stderr = join(fifoDir, 'init-stderr')
    if (c.Config.OpenStdin) io.stdin = join(fifoDir, 'init-stdin')
    const fifos = [io.stdout, io.stderr, io.stdin].filter((f): f is string => f !== undefined)
    execFileSync('mkfifo', ['-m', '600', ...fifos.filter((f) => !existsSync(f))])

    const log = logWriter(c.LogPath)
    const readers = outputReaders(io, (stream, chunk) => {
      log.write(stream, chunk)
      for (const a of live.attached) if (a.streams.has(stream)) a.socket.write(c.Config.Tty ? chunk : frame(stream, chunk))
    })
    if (io.stdin) {
      live.stdin = new Socket({ fd: openSync(io.stdin, 'r+'), readable: false, writable: true })
      live.stdin.on('error', () => {})
    }
    const rootfs: Mount[] = [{ type: 'overlay', source: 'overlay', options: overlayOptions(overlayDirs(storePaths(this.options.root).graph, c.ID)).split(',') }]
    let pid: number
    try {
      pid = await startTask(this.options.containerd, c, runtimeSpec(c, this.userFiles(c)), rootfs, io)
    } catch (error) {
      for (const r of readers) r.socket.destroy()
      live.stdin?.destroy()
      log.close()
      throw error
    }
    Object.assign(c.State, { Running: true, Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME })
    this.save(c)
    for (const chunk of live.stdinEarly.splice(0)) live.stdin?.write(chunk)
    if (live.stdinEnded) void this.closeStdin(c)
    live.finished = this.monitor(c, readers, log)
    return 'started'
  }
  // #endregion start

  // #region monitor
  /**
   * After the exit: forget the task in containerd (the shim has then copied all output into
   * the FIFOs and closed them), let our readers drain, record ExitCode and FinishedAt, end the
   * attached streams, wake the waiters, and remove the container itself when AutoRemove.
   */
  private async monitor(c: Container, readers: { socket: Socket; drained: Promise<void> }[], log: ReturnType<typeof logWriter>): Promise<void> {
    const live = this.liveOf(c.ID)
    let code: number
    try {
      code = await waitTask(this.options.containerd, c.ID)
    } catch (error) {
      code = 255
      c.State.Error = (error as Error).message
    }
    await deleteTask(this.options.containerd, c.ID).catch(() => {})
    await Promise.all(readers.map((r) => r.drained))
    log.close()
    live.stdin?.destroy()
    live.stdin = undefined
    rmSync(join(this.options.runRoot, 'containerd', c.ID), { recursive: true, force: true })
    Object.assign(c.State, { Running: false, Pid: 0, ExitCode: code, FinishedAt: new Date().toISOString() })
    if (this.containers.has(c.ID)) this.save(c)
    for (const a of live.attached) a.socket.end()
    live.attached.clear()
    live.finished = undefined
    live.events.emit('exit', code)
    if (c.HostConfig.AutoRemove) await this.remove(c, true).catch(() => {})
  }
  // #endregion monitor

  // #region attach
  /**
   * A hijacked connection joins the container's output: the streams asked for, framed unless
   * the container has a tty. With `stdin`, what the client sends goes to the container's
   * stdin (kept until the task runs), and the client's half-close ends it. A container that
   * has already exited has no stream to join: the connection ends at once.
   */
  attach(c: Container, socket: Duplex, want: { stdin: boolean; stdout: boolean; stderr: boolean }): void {
    const live = this.liveOf(c.ID)
    const streams = new Set<StreamName>()
    if (want.stdout) streams.add('stdout')
    if (want.stderr) streams.add('stderr')
    const attachment = { socket, streams }
    if (c.State.FinishedAt !== ZERO_TIME && !c.State.Running) {
      socket.end()
      return
    }
    live.attached.add(attachment)
    socket.on('close', () => live.attached.delete(attachment))
    if (want.stdin && c.Config.OpenStdin) {
      socket.on('data', (chunk: Buffer) => {
        if (live.stdin) live.stdin.write(chunk)
        else live.stdinEarly.push(chunk)
      })
      socket.on('end', () => {
        live.stdinEnded = true
        // while start() is under way the FIFO has no reader but ours: start() closes it once the task runs
        if (live.stdin && c.State.Running) void this.closeStdin(c)
      })
    }
    // without stdin, a client half-closes at once: read its end, keep writing to it
    socket.resume()
  }
  // #endregion attach

  /** The client's stdin ended: close our end of the FIFO, so the shim reads EOF and closes the process's stdin. */
  private async closeStdin(c: Container): Promise<void> {
    const live = this.liveOf(c.ID)
    live.stdin?.end()
    live.stdin = undefined
    await this.options.containerd.tasks.CloseIO({ container_id: c.ID, stdin: true }).catch(() => {})
  }

  // #region wait
  /**
   * The exit code once `condition` holds: "not-running" (now, if the container is not
   * running), "next-exit" (the next exit), "removed" (once the container is gone). Anything
   * else is a 400 "invalid condition". The caller has sent its headers already.
   */
  wait(c: Container, condition: string): { done: Promise<number>; cancel(): void } {
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badRequest(`invalid condition: "${condition}"`)
    const live = this.liveOf(c.ID)
    if (condition === 'not-running' && !c.State.Running) return { done: Promise.resolve(c.State.ExitCode), cancel() {} }
    const event = condition === 'removed' ? 'removed' : 'exit'
    let listener: () => void = () => {}
    const done = new Promise<number>((resolve) => {
      listener = () => resolve(c.State.ExitCode)
      live.events.once(event, listener)
    })
    return { done, cancel: () => live.events.off(event, listener) }
  }
  // #endregion wait

  // #region stop
  /**
   * `docker stop`: SIGTERM, and SIGKILL when the container is still running `timeout`
   * seconds later; resolves once it has exited. A container that is not running: 'not running' (a 304).
   */
  async stop(c: Container, timeout: number): Promise<'stopped' | 'not running'> {
    const live = this.liveOf(c.ID)
    if (!c.State.Running || !live.finished) return 'not running'
    const finished = live.finished
    await killTask(this.options.containerd, c.ID, 15).catch(() => {})
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), timeout * 1000).unref())
    if ((await Promise.race([finished.then(() => 'done' as const), timer])) === 'late') {
      await killTask(this.options.containerd, c.ID, 9).catch(() => {})
      await finished
    }
    return 'stopped'
  }
  // #endregion stop

  /** `docker kill -s SIG`: a container that is not running is a 409 naming it as the client did (`ref`) and by its ID. */
  async kill(c: Container, signal: number, ref = c.ID): Promise<void> {
    if (!c.State.Running) throw conflict(`Cannot kill container: ${ref}: Container ${c.ID} is not running`)
    await killTask(this.options.containerd, c.ID, signal)
  }

  // #region remove
  /**
   * `docker rm`: a running container is a 409 ("You cannot remove a running container ID.
   * Stop the container before attempting removal or force remove") unless forced, then it is
   * killed and its exit awaited first. Its layers, its folder and its record go; the
   * "removed" waiters wake. Removing twice at once removes once.
   */
  remove(c: Container, force: boolean): Promise<void> {
    const live = this.liveOf(c.ID)
    if (live.removing) return live.removing
    if (c.State.Running && !force)
      throw conflict(`You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`)
    live.removing = (async () => {
      if (c.State.Running && live.finished) {
        const finished = live.finished
        await killTask(this.options.containerd, c.ID, 9).catch(() => {})
        await finished
      }
      this.containers.delete(c.ID)
      this.dropFiles(c)
      this.live.delete(c.ID)
      live.events.emit('removed')
    })()
    return live.removing
  }
  // #endregion remove

  private dropFiles(c: Container): void {
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
   * `POST /exec/{id}/start` on a hijacked socket: run the exec's process in the container
   * through Tasks.Exec (its OCI process as an Any of type PROCESS_TYPE_URL: the container's
   * own, with the exec's command, env added, user and directory), stream its output to
   * `socket` as attach does, and end the socket once it has exited and its output is drained;
   * ExitCode then answers `GET /exec/{id}/json`. An exec runs once: a second start is a 409.
   */
  async startExec(exec: Exec, socket: Duplex): Promise<void> {
    if (exec.Running || exec.ExitCode !== null) throw conflict(`Exec ${exec.ID} has already run`)
    const c = this.get(exec.ContainerID)
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`)
    const dir = join(this.options.runRoot, 'containerd', c.ID)
    const paths = { stdout: join(dir, `${exec.ID}-stdout`), stderr: exec.Tty ? undefined : join(dir, `${exec.ID}-stderr`), stdin: exec.AttachStdin ? join(dir, `${exec.ID}-stdin`) : undefined }
    execFileSync('mkfifo', ['-m', '600', ...[paths.stdout, paths.stderr, paths.stdin].filter((f): f is string => f !== undefined)])
    const wanted = new Set<StreamName>([...(exec.AttachStdout ? ['stdout' as const] : []), ...(exec.AttachStderr ? ['stderr' as const] : [])])
    const readers = outputReaders({ stdout: paths.stdout, stderr: paths.stderr }, (stream, chunk) => {
      if (wanted.has(stream)) socket.write(exec.Tty ? chunk : frame(stream, chunk))
    })
    const containerd = this.options.containerd
    // the shim holds the stdin FIFO open itself: only CloseIO ends the process's stdin, and only once the process exists
    let stdin: Socket | undefined
    let inputEnded = false
    // (our own end closes only then too: a FIFO nobody holds open loses what it buffered)
    const closeIO = () => {
      stdin?.end()
      void containerd.tasks.CloseIO({ container_id: c.ID, exec_id: exec.ID, stdin: true }).catch(() => {})
    }
    if (paths.stdin) {
      stdin = new Socket({ fd: openSync(paths.stdin, 'r+'), readable: false, writable: true })
      stdin.on('error', () => {})
      socket.on('data', (chunk: Buffer) => stdin?.write(chunk))
      socket.on('end', () => {
        inputEnded = true
        if (exec.Running) closeIO()
      })
    }
    socket.resume()
    const spec = runtimeSpec(c, this.userFiles(c))
    const user = exec.User ? runtimeSpec({ ...c, Config: { ...c.Config, User: exec.User } }, this.userFiles(c)).process.user : spec.process.user
    const process = { ...spec.process, args: exec.Cmd, env: [...spec.process.env, ...exec.Env], cwd: exec.WorkingDir || spec.process.cwd, terminal: exec.Tty, user }
    try {
      await containerd.tasks.Exec({
        container_id: c.ID, exec_id: exec.ID, terminal: exec.Tty, stdin: paths.stdin ?? '', stdout: paths.stdout, stderr: paths.stderr ?? '',
        spec: { type_url: PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(process)) },
      })
      exec.Pid = (await containerd.tasks.Start({ container_id: c.ID, exec_id: exec.ID })).pid
      exec.Running = true
      if (inputEnded) closeIO()
      const { exit_status } = await containerd.tasks.Wait({ container_id: c.ID, exec_id: exec.ID })
      await containerd.tasks.DeleteProcess({ container_id: c.ID, exec_id: exec.ID }).catch(() => {})
      await Promise.all(readers.map((r) => r.drained))
      exec.ExitCode = exit_status
    } catch (error) {
      readers.forEach((r) => r.socket.destroy())
      exec.ExitCode = 126
      socket.write(frame('stderr', Buffer.from(`${(error as Error).message}\n`)))
    } finally {
      exec.Running = false
      stdin?.destroy()
      for (const path of [paths.stdout, paths.stderr, paths.stdin]) if (path) rmSync(path, { force: true })
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

  /** Stop every running container's watching (not the containers) and close the connection to containerd. */
  close(): void {
    this.options.containerd.close()
  }
}
