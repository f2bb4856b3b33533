/**
 * Chapter 11: minidockerd's containers, as dockerd runs them (moby daemon/start.go,
 * daemon/monitor.go, daemon/attach.go, daemon/wait.go, daemon/delete.go): the life of a
 * container from create to rm, its output fanned out to the log and to every attached
 * client, and the exit that wakes the waiters. The HTTP side is in routes.ts.
 */
import { execFileSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { createContainerLayers } from '#ch/05-layers/init.ts'
import { overlayDirs } from '#ch/05-layers/driver.ts'
import { overlayOptions } from '#ch/05-layers/overlay.ts'
import { imageLayers, resolveImage, storePaths, imageConfig } from '#ch/06-images/store.ts'
import { ContainerdError, GRPC_NOT_FOUND, PROCESS_TYPE_URL, type Mount } from '../../lib/containerd.ts'
import { recordContainer } from '../../lib/image.ts'
import { DaemonBase, type Exec } from '../../lib/engine-daemon.ts'
import { badRequest, conflict, EngineError } from './api.ts'
import { newContainer, ZERO_TIME, type Container, type ContainerConfig, type HostConfig } from './records.ts'
import { frame, logWriter, noMoreWriters, outputReaders, type OutputReader, type StreamName } from './streams.ts'
import { deleteTask, killTask, runtimeSpec, startTask, subscribeEvents, type TaskIO } from './tasks.ts'
import { daemonSecurity } from '../../lib/docker-security.ts'

export type { DaemonOptions, Exec } from '../../lib/engine-daemon.ts'

/** containerd.events.TaskExit, as a `/tasks/exit` envelope carries it (lib/proto/api/events/task.proto). */
export interface TaskExit { container_id: string; id: string; pid: number; exit_status: number }

/** The life of a container; what is not the chapter's subject is given in DaemonBase (lib/engine-daemon.ts). */
export class Daemon extends DaemonBase {
  /** What this daemon keeps for a container besides DaemonBase's Live: stdin sent before there was a task, the events waiters listen to, a removal under way. */
  private readonly own = new Map<string, { stdinEarly: Buffer[]; stdinEnded: boolean; events: EventEmitter; removing?: Promise<void> }>()
  private ownOf(id: string) {
    let own = this.own.get(id)
    if (!own) {
      own = { stdinEarly: [], stdinEnded: false, events: new EventEmitter() }
      own.events.setMaxListeners(0)
      this.own.set(id, own)
    }
    return own
  }

  /**
   * Per container, the run its monitor waits for: the PID of its init process, and its exit,
   * which the event stream or restore's question to containerd settles (a promise settles once).
   */
  private readonly runs = new Map<string, { pid: number; exit: Promise<number>; heard(code: number): void }>()
  private watchRun(id: string, pid: number): void {
    let heard: (code: number) => void = () => {}
    const exit = new Promise<number>((resolve) => (heard = resolve))
    this.runs.set(id, { pid, exit, heard })
  }

  /** An exit containerd reported, by either way: the run it ends, if it is one this daemon watches. */
  private exited(exit: TaskExit): void {
    const run = this.runs.get(exit.container_id)
    // an exec's process (an id of its own), or news of a run that is over (another PID): not this run's end
    if (!run || exit.id !== exit.container_id || exit.pid !== run.pid) return
    run.heard(exit.exit_status)
  }

  /** The client's stdin ended: the container's process reads end-of-file on its stdin. */
  private async closeStdin(c: Container): Promise<void> {
    const live = this.liveOf(c.ID)
    live.stdin?.end()
    live.stdin = undefined
    // the shim holds the FIFO open too: only CloseIO makes it close its end
    await this.options.containerd.tasks.CloseIO({ container_id: c.ID, stdin: true }).catch(() => {})
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

  // #region openStreams
  /**
   * The daemon's ends of the FIFOs through which containerd's shim passes a container's stdio
   * (`io`, as startTask takes it): made if they are not there yet, the output read from its
   * first byte into the container's log and to every client attached to it, and stdin (with
   * OpenStdin) ready to be written. start() opens them before the task exists; restore()
   * opens them again for a task that ran on while no daemon did.
   */
  protected openStreams(c: Container): { io: TaskIO; readers: OutputReader[]; log: ReturnType<typeof logWriter> } {
    const live = this.liveOf(c.ID)
    const fifoDir = join(this.options.runRoot, 'containerd', c.ID)
    mkdirSync(fifoDir, { recursive: true, mode: 0o700 })
    const io: TaskIO = { stdout: join(fifoDir, 'init-stdout'), terminal: c.Config.Tty }
    if (!c.Config.Tty) io.stderr = join(fifoDir, 'init-stderr')
    if (c.Config.OpenStdin) io.stdin = join(fifoDir, 'init-stdin')
    const missing = [io.stdout, io.stderr, io.stdin].filter((f): f is string => f !== undefined && !existsSync(f))
    if (missing.length > 0) execFileSync('mkfifo', ['-m', '600', ...missing])

    const log = logWriter(c.LogPath)
    const readers = outputReaders(io, (stream, chunk) => {
      log.write(stream, chunk)
      for (const a of live.attached) if (a.streams.has(stream)) a.socket.write(c.Config.Tty ? chunk : frame(stream, chunk))
    })
    if (io.stdin) {
      // read and write: an open that never waits for the shim, and a FIFO never without a reader
      live.stdin = new Socket({ fd: openSync(io.stdin, 'r+'), readable: false, writable: true })
      live.stdin.on('error', () => {})
    }
    return { io, readers, log }
  }
  // #endregion openStreams

  // #region start
  /**
   * `POST /containers/{id}/start`: the container runs on its own layers with its network, its
   * output reaches the log and every attached client from the first byte, and its exit will be
   * noticed. Starting a running container is a 304; a start that fails leaves nothing running,
   * open or connected behind.
   */
  async start(c: Container): Promise<'started' | 'already'> {
    if (c.State.Running) return 'already'
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    const { io, readers, log } = this.openStreams(c)
    const rootfs: Mount[] = [{ type: 'overlay', source: 'overlay', options: overlayOptions(overlayDirs(storePaths(this.options.root).graph, c.ID)).split(',') }]
    let pid: number
    try {
      // the network is wired while the process waits in runc's create, before its command runs
      pid = await startTask(this.options.containerd, c, runtimeSpec(c, this.userFiles(c)), rootfs, io, async (pid) => {
        this.watchRun(c.ID, pid) // before Tasks.Start: the exit may be reported before startTask returns
        await this.connect(c, pid)
      })
    } catch (error) {
      this.runs.delete(c.ID)
      await this.disconnect(c)
      for (const r of readers) r.close()
      live.stdin?.destroy()
      log.close()
      // as dockerd does: `docker run --rm` waits for the removal after a failed start
      if (c.HostConfig.AutoRemove) await this.remove(c, true)
      throw error
    }
    Object.assign(c.State, { Running: true, Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME })
    this.save(c)
    for (const chunk of own.stdinEarly.splice(0)) live.stdin?.write(chunk)
    if (own.stdinEnded) void this.closeStdin(c)
    live.finished = this.monitor(c, readers, log)
    return 'started'
  }
  // #endregion start

  // #region monitor
  /**
   * After the exit: the record says how the container ended, containerd and the network hold
   * nothing of it any more, and the attached clients and waiters hear of it, but never before
   * every byte it wrote has reached the log and them; with AutoRemove the container then goes.
   */
  protected async monitor(c: Container, readers: OutputReader[], log: ReturnType<typeof logWriter>): Promise<void> {
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    const run = this.runs.get(c.ID)
    const code = run ? await run.exit : 255
    if (this.runs.get(c.ID) === run) this.runs.delete(c.ID)
    await deleteTask(this.options.containerd, c.ID).catch(() => {})
    // no writer can come any more: readers opened after the shim had let go (restore) see their end too
    for (const r of readers) noMoreWriters(r.path)
    await this.disconnect(c) // its ports are free again before anyone hears of the exit
    await Promise.all(readers.map((r) => r.drained))
    log.close()
    live.stdin?.destroy()
    live.stdin = undefined
    own.stdinEnded = false // the next start (`docker start -ai`) gets a stdin of its own
    rmSync(join(this.options.runRoot, 'containerd', c.ID), { recursive: true, force: true })
    Object.assign(c.State, { Running: false, Pid: 0, ExitCode: code, FinishedAt: new Date().toISOString() })
    if (this.containers.has(c.ID)) this.save(c)
    for (const a of live.attached) a.socket.end()
    live.attached.clear()
    live.finished = undefined
    own.events.emit('exit', code)
    // not awaited: a `docker rm -f` under way awaits this monitor, and this removal would await that rm (own.removing)
    if (c.HostConfig.AutoRemove) void this.remove(c, true).catch(() => {})
  }
  // #endregion monitor

  // #region watchExits
  /**
   * The daemon's one subscription to containerd's events, open for its whole life (moby
   * libcontainerd/remote/client.go processEventStream, daemon/monitor.go ProcessEvent): the
   * exit of a container's own process reaches the monitor of that run, once; an exec's exit
   * ends only the exec (startExec waits for it itself); other namespaces of the same
   * containerd are other daemons' business. Resolves once containerd has the subscription in
   * place (tasks.ts subscribeEvents), so that an exit after that is certain to be heard.
   */
  protected async watchExits(): Promise<void> {
    const { containerd } = this.options
    await subscribeEvents(containerd, [`namespace==${JSON.stringify(containerd.namespace)},topic=="/tasks/exit"`], (envelope) => this.exited(envelope.event as TaskExit), (error) => {
      process.stderr.write(`no more exits from containerd (${error.message}): subscribing again once it answers\n`)
      void this.resumeExits()
    })
  }
  // #endregion watchExits

  // #region resumeExits
  /**
   * The event stream ended by itself: containerd went away (a crash, a restart) while its shims
   * and their containers ran on (moby libcontainerd/remote/client.go processEventStream, which
   * waits for containerd to serve again and subscribes anew). From here on exits are heard
   * again, and each run this daemon watches is settled as containerd has it now: an exit that
   * happened while no one listened (containerd never sends it again) is recorded with the status
   * containerd kept, one that happens at any moment meanwhile is not lost, and no exit ends a run
   * twice or ends a run that is not its own. Stops waiting once the daemon is closed.
   */
  protected async resumeExits(): Promise<void> {
    const { containerd } = this.options
    // containerd serves again once it answers a call (moby's waitServe asks every 100 ms); then
    // subscribed, in place, before asking: an exit from now on is heard, one before is what Tasks.Get reports
    for (;;) {
      if (this.closed) return
      if (await containerd.version.Version({}).then(() => this.watchExits()).then(() => true, () => false)) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    for (const [id, run] of [...this.runs]) {
      let task: { pid: number; status: string; exit_status: number }
      try {
        task = (await containerd.tasks.Get({ container_id: id })).process
      } catch (error) {
        // containerd came back without the task (its state was lost): as restore records a lost one
        if (error instanceof ContainerdError && error.code === GRPC_NOT_FOUND) this.exited({ container_id: id, id, pid: run.pid, exit_status: 255 })
        continue
      }
      // the answer may arrive after the container was started again: its PID says which run it ends
      if (task.status === 'STOPPED') this.exited({ container_id: id, id, pid: task.pid, exit_status: task.exit_status })
    }
  }
  // #endregion resumeExits

  // #region restore
  /**
   * When the daemon starts, before it serves (moby daemon/daemon.go restore): from now on it
   * hears of every exit, and each container its records call running is found again as
   * containerd has it: a task still running is read and watched again, one that exited while
   * no daemon watched is recorded with the code it exited with, one containerd no longer knows
   * is recorded as exited with 255. No exit is missed, none is handled twice.
   */
  async restore(): Promise<void> {
    // subscribed, in place, first: an exit from now on is heard, and one before it is what Tasks.Get reports
    await this.watchExits()
    for (const c of this.containers.values()) {
      if (!c.State.Running) continue
      const live = this.liveOf(c.ID)
      this.watchRun(c.ID, c.State.Pid)
      // read before asking: a task that still runs when asked has the shim's ends of the FIFOs open, so ours see their end-of-file
      const { readers, log } = this.openStreams(c)
      let task: { status: string; exit_status: number } | undefined
      try {
        task = (await this.options.containerd.tasks.Get({ container_id: c.ID })).process
      } catch {
        // no such task: containerd lost it
      }
      if (task && task.status !== 'STOPPED' && task.status !== 'UNKNOWN') await this.reconnect(c)
      // it exited while no daemon watched (if the stream reports it too, the run is settled already), or containerd lost it
      else this.exited({ container_id: c.ID, id: c.ID, pid: c.State.Pid, exit_status: task?.status === 'STOPPED' ? task.exit_status : 255 })
      live.finished = this.monitor(c, readers, log)
    }
  }
  // #endregion restore

  // #region attach
  /**
   * A hijacked connection joins the container: it gets the output streams its client asked for,
   * in the form that client expects for this container, and what it sends goes to the
   * container's stdin. The client may come before the container runs (`docker start -a`
   * attaches, then starts), and may send its stdin, and end it, before then too.
   */
  attach(c: Container, socket: Duplex, want: { stdin: boolean; stdout: boolean; stderr: boolean }): void {
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    const streams = new Set<StreamName>()
    if (want.stdout) streams.add('stdout')
    if (want.stderr) streams.add('stderr')
    const attachment = { socket, streams }
    live.attached.add(attachment)
    socket.on('close', () => live.attached.delete(attachment))
    if (want.stdin && c.Config.OpenStdin) {
      socket.on('data', (chunk: Buffer) => {
        if (live.stdin) live.stdin.write(chunk)
        else own.stdinEarly.push(chunk)
      })
      socket.on('end', () => {
        own.stdinEnded = true
        // while start() is under way the FIFO has no reader but ours: start() closes it once the task runs
        if (live.stdin && c.State.Running) void this.closeStdin(c)
      })
    }
    // without stdin, a client half-closes at once: read its end, keep writing to it
    socket.resume()
  }
  // #endregion attach

  // #region wait
  /**
   * `docker wait`, and the wait of `docker run`: the exit code, once the condition the client
   * names holds (the Engine API's three wait conditions). The caller has sent its headers
   * already. A condition the API does not have is answered as dockerd 20.10 answers it (ask
   * the real one: moby's postContainersWait has changed since).
   */
  wait(c: Container, condition: string): { done: Promise<number>; cancel(): void } {
    if (condition !== 'next-exit' && condition !== 'removed') condition = 'not-running' // as dockerd 20.10: any other is its default
    const own = this.ownOf(c.ID)
    if (condition === 'not-running' && !c.State.Running) return { done: Promise.resolve(c.State.ExitCode), cancel() {} }
    const event = condition === 'removed' ? 'removed' : 'exit'
    let listener: () => void = () => {}
    const done = new Promise<number>((resolve) => {
      listener = () => resolve(c.State.ExitCode)
      own.events.once(event, listener)
    })
    return { done, cancel: () => own.events.off(event, listener) }
  }
  // #endregion wait

  // #region stop
  /**
   * `docker stop`: the container's process gets the chance to shut down cleanly, and is ended
   * by force if it is still running `timeout` seconds later (docker-stop(1)); resolves once it
   * has exited. A container that is not running: 'not running' (a 304).
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

  // #region remove
  /**
   * `docker rm`: the container and everything it owns are gone, and whoever waits for its
   * removal hears of it. A running container is refused unless forced, as dockerd refuses it
   * (status and words of moby's daemon/delete.go). `docker run --rm` (AutoRemove) and a
   * `docker rm -f` may remove the same container at the same moment.
   */
  remove(c: Container, force: boolean): Promise<void> {
    const live = this.liveOf(c.ID)
    const own = this.ownOf(c.ID)
    if (own.removing) return own.removing
    if (c.State.Running && !force)
      throw conflict(`You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`)
    own.removing = (async () => {
      if (c.State.Running && live.finished) {
        const finished = live.finished
        await killTask(this.options.containerd, c.ID, 9).catch(() => {})
        await finished
      }
      this.containers.delete(c.ID)
      this.dropFiles(c)
      for (const a of live.attached) a.socket.end() // clients waiting for a start that will not come
      this.live.delete(c.ID)
      this.own.delete(c.ID)
      own.events.emit('removed')
    })()
    return own.removing
  }
  // #endregion remove

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
      readers.forEach((r) => r.close())
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
}
