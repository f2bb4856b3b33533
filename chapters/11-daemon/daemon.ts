/**
 * Chapter 11: minidockerd's containers, as dockerd runs them (moby daemon/start.go,
 * daemon/monitor.go, daemon/attach.go, daemon/wait.go, daemon/delete.go): the life of a
 * container from create to rm, its output fanned out to the log and to every attached
 * client, and the exit that wakes the waiters. The HTTP side is in routes.ts.
 */
import { NotImplementedError } from '../../lib/errors.ts'
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
    // TODO(11): POST /containers/create (moby daemon/create.go).
    //   1. Find the image in chapter 06's store by the reference as the store tags it (imageRef): what must a
    //      missing image answer for the CLI to pull it and try again?
    //   2. Which network modes can this daemon honour (refuse the others with a clear 501)? Security
    //      options dockerd refuses (an unknown capability) are refused here too, with a 400:
    //      lib/docker-security.ts's daemonSecurity() throws on them (chapter 13).
    //   3. Record the container (records.ts), give it its two layers on top of the image's (chapter 05), mark
    //      the image as in use, and save. If a step fails, nothing of the container may stay behind.
    throw new NotImplementedError('11-daemon', 'create')
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
    // TODO(11): POST /containers/{id}/start (moby daemon/start.go, the text's "Start, and the FIFOs").
    //   1. What answers a start of a running container?
    //   2. The shim writes the output into FIFOs you create: which ones, with and without a tty and stdin?
    //      Why must your ends be open before the shim opens its own (fifo(7): who blocks, who reads EOF)?
    //      How do you read a FIFO without a thread of Node blocking in read() (the text's "Start, and the FIFOs")?
    //   3. Each chunk goes to the log and to every attached client that asked for its stream, framed or raw.
    //   4. The rootfs: the container's overlay (chapter 05) as a mount for Tasks.Create. Then record the PID and
    //      StartedAt, hand over stdin that came early, and watch for the exit (monitor). A failed start must
    //      close what it opened.
    throw new NotImplementedError('11-daemon', 'start')
  }
  // #endregion start

  // #region monitor
  /**
   * After the exit: forget the task in containerd (the shim has then copied all output into
   * the FIFOs and closed them), let our readers drain, record ExitCode and FinishedAt, end the
   * attached streams, wake the waiters, and remove the container itself when AutoRemove.
   */
  private async monitor(c: Container, readers: { socket: Socket; drained: Promise<void> }[], log: ReturnType<typeof logWriter>): Promise<void> {
    // TODO(11): the exit (moby daemon/monitor.go handleContainerExit).
    //   1. When has all of the output reached your FIFO readers, and when do they see end-of-file?
    //   2. In which order: containerd cleanup, draining, the record (ExitCode, FinishedAt), the attached
    //      clients, the waiters, AutoRemove? What would a client of `docker run --rm` see if you woke the
    //      waiters before the output was drained?
    throw new NotImplementedError('11-daemon', 'monitor')
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
    // TODO(11): a hijacked connection joins the container (moby daemon/attach.go).
    //   1. Which streams did the client ask for, and what does an attach to an exited container get?
    //   2. stdin: the client may send it (and half-close) before the container starts. Where does it wait?
    //      What does the half-close mean for the container, and what must a client WITHOUT stdin's half-close
    //      not do to your writing?
    //   3. A client that goes away must stop receiving.
    throw new NotImplementedError('11-daemon', 'attach')
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
    // TODO(11): the three wait conditions (moby daemon/wait.go, the API reference's ContainerWait).
    //   1. Which condition is answered at once for a container that is not running, and which only at the next
    //      exit or at the removal? What answers an unknown condition?
    //   2. A client that goes away (docker run -d drops its wait) must not leave a listener behind.
    throw new NotImplementedError('11-daemon', 'wait')
  }
  // #endregion wait

  // #region stop
  /**
   * `docker stop`: SIGTERM, and SIGKILL when the container is still running `timeout`
   * seconds later; resolves once it has exited. A container that is not running: 'not running' (a 304).
   */
  async stop(c: Container, timeout: number): Promise<'stopped' | 'not running'> {
    // TODO(11): docker stop (moby daemon/stop.go).
    //   1. Which signal first, and what after `timeout` seconds? The request returns once the container has exited.
    //   2. What does stopping a container that is not running answer?
    throw new NotImplementedError('11-daemon', 'stop')
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
    // TODO(11): docker rm (moby daemon/delete.go).
    //   1. When is a running container refused (the doc comment has the words), and what does force do first?
    //   2. What goes: the record, the folder, the layers, the image's "in use" mark. Who waits for the removal?
    //   3. `docker run --rm` removes through AutoRemove while the CLI may send its own rm: remove only once.
    throw new NotImplementedError('11-daemon', 'remove')
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
    // TODO(11): docker exec (moby daemon/exec.go ContainerExecStart, libcontainerd's task.Exec).
    //   1. The exec's FIFOs and readers are as in start(), but its output goes only to this socket.
    //   2. containerd wants the whole OCI process: which parts come from the container's spec, which from the exec?
    //      How is it packed (lib/containerd.ts)? Then the same Start and Wait as the container's, with the exec's ID.
    //   3. stdin: the shim holds the FIFO open itself; what ends the process's stdin, and when may you send it
    //      (what happens to bytes in a FIFO that nobody holds open any more)?
    //   4. The exit code is what GET /exec/ID/json reports; the socket ends after the output is drained.
    throw new NotImplementedError('11-daemon', 'startExec')
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
