/**
 * Chapter 10's given shim plumbing, which the starter and the reference share: containerd's
 * flags, where the shim's socket is, the Task service's method table, mounting the rootfs
 * Create carries through the helper, lines to containerd's log FIFO, waiting until a FIFO's
 * output is read, a terminal's keeper, the events' topics, and containerd's side of a call to a shim.
 */
import { createHash } from 'node:crypto'
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { Task } from '#ch/10-shim/task.ts'
import type { Service, TtrpcClient } from '#ch/10-shim/ttrpc.ts'
import { Helper } from '../native/helper.ts'
import { serviceMethods } from './containerd-proto.ts'

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
 * a FIFO holds; the helper can.
 */
export async function outputRead(path: string, patience = 1000): Promise<void> {
  const helper = Helper.start()
  try {
    let last = -1
    let since = Date.now()
    for (;;) {
      const bytes = await helper.fifoUnread(path)
      if (bytes === 0) return
      if (bytes !== last) [last, since] = [bytes, Date.now()]
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

  private constructor(readonly socket: string, readonly dir: string, readonly keeper: Helper, stdout: string) {
    this.done = keeper.exited.then(() => {
      this.#ended = true
      return stdout ? outputRead(stdout) : undefined
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
