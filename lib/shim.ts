/**
 * Chapter 10's given shim plumbing, which the starter and the reference share: containerd's
 * flags, where the shim's socket is, the Task service's method table, mounting the rootfs
 * Create carries through the helper, lines to containerd's log FIFO, waiting until a FIFO's
 * output is read, a terminal's keeper, the events' topics, containerd's side of a call to a shim,
 * the reaper's lines, the runtime's log, and opening an output FIFO without blocking.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { connect, Socket } from 'node:net'
import { join } from 'node:path'
import type { Task } from '#ch/10-shim/task.ts'
import type { Service } from '#ch/10-shim/ttrpc.ts'
import { Helper } from '../native/helper.ts'
import { Code, RpcError, serviceMethods } from './containerd-proto.ts'
import type { TtrpcClient } from './ttrpc-client.ts'

/** The flags containerd passes, Go style (`-id ID`), and the action that follows them. */
export interface ShimFlags {
  namespace: string
  address: string
  publishBinary: string
  id: string
  bundle: string
  debug: boolean
  action: string
}

/** An fd number above stdio for startShim and serve to agree on, should they need one across exec. */
export const REAPER_FD = 4
/** The runtime the shim starts: MINIDOCKER_SHIM_RUNTIME, or minirunc (chapter 09) on the PATH. */
export const DEFAULT_RUNTIME = 'minirunc'
/** Where shims put their sockets: short, because a unix socket path has room for 107 bytes. */
export const SOCKET_DIR = '/run/minidocker-shim'

/** containerd's command line: the flags, Go style or with two dashes, and the action. */
export function parseFlags(argv: string[]): ShimFlags {
  const flags: ShimFlags = { namespace: '', address: '', publishBinary: '', id: '', bundle: process.cwd(), debug: false, action: '' }
  const names: Record<string, keyof ShimFlags> = { namespace: 'namespace', address: 'address', 'publish-binary': 'publishBinary', id: 'id', bundle: 'bundle' }
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--?/, '')
    if (name === 'debug') flags.debug = true
    else if (names[name]) (flags as unknown as Record<string, string>)[names[name]] = argv[++i] ?? ''
    else if (!argv[i]!.startsWith('-')) flags.action = argv[i]!
    else throw new Error(`unknown flag ${argv[i]}`)
  }
  return flags
}

/** One socket per container, named by a hash of containerd's address, namespace and id. */
export function socketPath(flags: ShimFlags): string {
  const hash = createHash('sha256').update(`${flags.address}/${flags.namespace}/${flags.id}`).digest('hex').slice(0, 32)
  return join(SOCKET_DIR, `${hash}.sock`)
}

/** True when something accepts connections on the socket. */
export function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** The Task service: every method of shim.proto; those the Task does not implement answer Unimplemented. */
export function taskService(task: Pick<Task, 'create' | 'start' | 'state' | 'wait' | 'kill' | 'delete' | 'pids' | 'connect' | 'exec' | 'resizePty' | 'closeIO' | 'shutdown'>): Service {
  const handlers: Record<string, (request: any) => Promise<object>> = {
    Create: (r) => task.create(r), Start: (r) => task.start(r), State: (r) => task.state(r), Wait: (r) => task.wait(r),
    Kill: (r) => task.kill(r), Delete: (r) => task.delete(r), Pids: () => task.pids(), Connect: () => task.connect(),
    Exec: (r) => task.exec(r), ResizePty: (r) => task.resizePty(r), CloseIO: (r) => task.closeIO(r), Shutdown: (r) => task.shutdown(r),
  }
  const methods: Service['methods'] = {}
  for (const [name, types] of Object.entries(serviceMethods('containerd.task.v2.Task'))) methods[name] = { ...types, handle: handlers[name] }
  return { name: 'containerd.task.v2.Task', methods }
}

/** Mount what Create carries (a snapshotter's overlay, say) on bundle/rootfs, through the helper. */
export async function mountRootfs(bundle: string, mounts: { type: string; source: string; options: string[] }[]): Promise<void> {
  if (mounts.length === 0) return
  const helper = Helper.start()
  try {
    for (const m of mounts) {
      const flags = m.options.filter((o) => ['rbind', 'bind', 'ro'].includes(o)).map((o) => (o === 'ro' ? 'rdonly' : o === 'rbind' ? 'bind' : o)) as ('rdonly' | 'bind')[]
      const data = m.options.filter((o) => !['rbind', 'bind', 'ro', 'rw'].includes(o)).join(',')
      await helper.mount(m.source, join(bundle, 'rootfs'), m.type, flags, data || null)
    }
  } finally {
    helper.close()
  }
}

/** Unmount bundle/rootfs if something is mounted there (mountinfo says; no helper otherwise). */
export async function unmountRootfs(bundle: string): Promise<void> {
  const rootfs = join(bundle, 'rootfs')
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === rootfs)
  if (!mounted) return
  const helper = Helper.start()
  try {
    for (;;) await helper.umount2(rootfs, ['detach'])
  } catch {
    // EINVAL: nothing (more) is mounted there
  } finally {
    helper.close()
  }
}

/** Lines to containerd's log FIFO (bundle/log), never blocking: a full FIFO drops the line. */
export function shimLog(bundle: string): (message: string) => void {
  return (message) => {
    try {
      const fd = openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK)
      try {
        writeSync(fd, `minidocker shim: ${message}\n`)
      } finally {
        closeSync(fd)
      }
    } catch {}
  }
}

/**
 * Resolves once nothing waits unread in the FIFO at `path`, once its reader has read nothing
 * for `patience` ms (gone, or never there), or when the FIFO is gone. Node cannot ask how much
 * a FIFO holds; the helper can. `read` is called each time the reader has taken some of it.
 * The default patience only frees the helper at last: how long an exit may wait for a reader
 * is its caller's to bound.
 */
export async function outputRead(path: string, patience = 60_000, read?: () => void): Promise<void> {
  const helper = Helper.start()
  try {
    let last = -1
    let since = Date.now()
    for (;;) {
      const bytes = await helper.fifoUnread(path)
      if (bytes === 0) return
      if (bytes !== last) {
        if (bytes < last) read?.()
        ;[last, since] = [bytes, Date.now()]
      }
      else if (Date.now() - since > patience) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  } catch {
    // the FIFO is gone: nobody will read it
  } finally {
    helper.close()
  }
}

/**
 * A terminal's keeper, a helper that holds a pty master for as long as it lives. `socket` is a
 * console socket that accepts one master; the keeper then joins that master to the stdio FIFOs
 * it was given. `done` settles when the terminal's output has ended (every slave closed) and
 * been read.
 */
export class Terminal {
  readonly done: Promise<void>
  #ended = false
  #read = 0
  /** grows as the reader takes what the keeper left in the FIFO (the keeper's own copy is not seen) */
  get progress(): number {
    return this.#read
  }

  private constructor(readonly socket: string, readonly dir: string, readonly keeper: Helper, stdout: string) {
    this.done = keeper.exited.then(() => {
      this.#ended = true
      return stdout ? outputRead(stdout, undefined, () => this.#read++) : undefined
    })
  }

  /** Listen on a new console socket for a process whose stdio FIFOs are `stdio` ('' for none). */
  static async listen(stdio: { stdin: string; stdout: string }): Promise<Terminal> {
    mkdirSync(SOCKET_DIR, { recursive: true })
    const dir = mkdtempSync(join(SOCKET_DIR, 'tty-'))
    const keeper = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
    const socket = join(dir, 'console.sock')
    try {
      await keeper.terminal(socket, stdio.stdin, stdio.stdout)
    } catch (error) {
      keeper.close()
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
    return new Terminal(socket, dir, keeper, stdio.stdout)
  }

  /** Set the terminal's window size (ResizePty); a terminal already gone is not an error. */
  async resize(rows: number, cols: number): Promise<void> {
    await this.keeper.windowSize(rows, cols).catch((error) => {
      if (!this.#ended) throw error
    })
  }

  /** A terminal's input ends with the terminal (^D is the user's to type), not with CloseIO. */
  closeStdin(): void {}

  /** End the keeper (the terminal is no longer anyone's) and remove the console socket. */
  close(): void {
    this.keeper.close()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Topics and the message each carries. */
export const TOPICS = {
  '/tasks/create': 'containerd.events.TaskCreate',
  '/tasks/start': 'containerd.events.TaskStart',
  '/tasks/exit': 'containerd.events.TaskExit',
  '/tasks/delete': 'containerd.events.TaskDelete',
  '/tasks/exec-added': 'containerd.events.TaskExecAdded',
  '/tasks/exec-started': 'containerd.events.TaskExecStarted',
} as const
export type Topic = keyof typeof TOPICS

/** The shim's ttrpc service. */
export const TASK_SERVICE = 'containerd.task.v2.Task'

/** Call a Task method on a shim: METHOD's request and response are containerd.task.v2's. */
export function shimCall(shim: Pick<TtrpcClient, 'call'>, method: string, request: object): Promise<any> {
  const type = (suffix: string) => `containerd.task.v2.${method === 'Create' ? 'CreateTask' : method}${suffix}`
  const empty = ['Kill', 'Shutdown', 'CloseIO', 'ResizePty', 'Exec'].includes(method)
  return shim.call(TASK_SERVICE, method, type('Request'), request, empty ? 'google.protobuf.Empty' : type('Response'))
}

/** How a process ended, as containerd reports it: the exit code, or 128 + the signal. */
export interface Exit {
  pid: number
  status: number
  at: Date
}

// #region parseReaperLine
/**
 * One line of the helper's reaper report ("PID exit CODE" or "PID signal SIG", written by
 * native/helper.c, op_reaper) as an Exit; null for a line that is not one. containerd, like a
 * shell, reports a death by signal N as 128 + N: `ctr run` exits with it (bash(1), EXIT STATUS).
 */
export function parseReaperLine(line: string, at = new Date()): Exit | null {
  const m = /^(\d+) (exit|signal) (\d+)$/.exec(line)
  if (!m) return null
  const n = Number(m[3])
  return { pid: Number(m[1]), status: m[2] === 'signal' ? 128 + n : n, at }
}
// #endregion parseReaperLine

// #region lastError
/**
 * The message of the last `"level":"error"` line of a runtime's JSON log (runc writes one JSON
 * object per line: level, msg, time), or undefined when there is none. Lines that are not JSON
 * (a panic, a warning) are skipped. go-runc reads its log back the same way after a failure.
 */
export function lastError(log: string): string | undefined {
  let found: string | undefined
  for (const line of log.split('\n')) {
    try {
      const entry = JSON.parse(line)
      if (entry.level === 'error' && typeof entry.msg === 'string') found = entry.msg
    } catch {
      // not JSON: a runtime may print other lines there (a panic, a warning)
    }
  }
  return found
}
// #endregion lastError

// #region openOutput
/**
 * Open an output FIFO for writing once its reader is there, without blocking: a non-blocking
 * write-only open fails (ENXIO) until someone opens the FIFO for reading. Then hold a read end
 * too (`keeper`), as containerd's runc shim does (process/io.go, copyPipes): with it, the FIFO
 * keeps its buffered output when the reader goes away (containerd restarting), and writes never
 * fail with EPIPE. The writer is a socket over the fd, polled by epoll, not a thread of the pool.
 * Rejects with `signal`'s reason once it is aborted, if no reader has come by then.
 */
export async function openOutput(path: string, signal?: AbortSignal): Promise<{ fifo: Socket; keeper: number }> {
  for (;;) {
    signal?.throwIfAborted()
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)
      const keeper = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
      return { fifo: new Socket({ fd, readable: false, writable: true }), keeper }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}
// #endregion openOutput

/** `ps --format json ID` of a runtime: the container's PIDs as the host sees them. */
export async function runtimePids(runtime: { binary: string; root: string; bundle: string }, id: string): Promise<number[]> {
  const child = spawn(runtime.binary, ['--root', runtime.root, 'ps', '--format', 'json', id], { cwd: runtime.bundle, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new RpcError(Code.NotFound, `${runtime.binary} ps ${id}: exit status ${code}`)
  return JSON.parse(Buffer.concat(out).toString() || '[]')
}
