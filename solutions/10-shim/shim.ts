/**
 * containerd-shim-minidocker-v2: the executable containerd runs for `--runtime
 * io.containerd.minidocker.v2`. containerd calls it three ways (runtime/v2/shim/shim.go):
 *   start   launch the long-lived shim for a container, print its socket's address, exit;
 *   delete  clean up after a task whose shim is gone (and after every task), print a
 *           DeleteResponse;
 *   serve   (ours, not containerd's) the long-lived shim itself, below the helper's reaper.
 */
import { createHash } from 'node:crypto'
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { connect, createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { Helper } from '../../native/helper.ts'
import { Code, RpcError, encode, serviceMethods, timestamp } from '../../lib/containerd-proto.ts'
import { Publisher } from './events.ts'
import { Reaper } from './reaper.ts'
import { Runtime } from './runtime.ts'
import { Task } from './task.ts'
import { serveConnection, type Service } from './ttrpc.ts'

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

/** Where the reaper's socket reaches the long-lived shim. */
export const REAPER_FD = 4
/** The runtime the shim starts: MINIDOCKER_SHIM_RUNTIME, or minirunc (chapter 09) on the PATH. */
export const DEFAULT_RUNTIME = 'minirunc'
/** Where shims put their sockets: short, because a unix socket path has room for 107 bytes. */
export const SOCKET_DIR = '/run/minidocker-shim'

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

/**
 * The runtime: MINIDOCKER_SHIM_RUNTIME (containerd passes its environment to the shims it
 * starts), else minirunc. runc's shim reads it from the runc options instead, which ctr sends
 * only to io.containerd.runc.v2.
 */
export function runtimeFor(flags: ShimFlags): Runtime {
  const binary = process.env.MINIDOCKER_SHIM_RUNTIME || DEFAULT_RUNTIME
  return new Runtime(binary, join('/run/containerd/runc', flags.namespace), flags.bundle)
}

/** One socket per container, named by a hash of containerd's address, namespace and id. */
export function socketPath(flags: ShimFlags): string {
  const hash = createHash('sha256').update(`${flags.address}/${flags.namespace}/${flags.id}`).digest('hex').slice(0, 32)
  return join(SOCKET_DIR, `${hash}.sock`)
}

/** True when something accepts connections on the socket. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

// #region startShim
/**
 * `start`: launch the long-lived shim and print its address. containerd waits until this
 * process has exited and its stdout and stderr are closed, so the shim must be a detached
 * process in its own session holding neither. It runs below the helper's reaper, a subreaper
 * (so the container's process is reparented to it, not to init, when the runtime exits),
 * which reports every exit to it. The address is printed only once the shim listens.
 */
export async function startShim(flags: ShimFlags, argv: string[], script: string): Promise<string> {
  const path = socketPath(flags)
  const address = `unix://${path}`
  if (await listening(path)) return address // this container's shim already runs
  mkdirSync(SOCKET_DIR, { recursive: true })
  const helper = Helper.start({ detached: true, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' })
  await helper.setSubreaper()
  await helper.reaper(REAPER_FD)
  const serveArgs = argv.filter((a) => a !== flags.action).concat('serve')
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`)
  await helper.exec(process.execPath, [process.execPath, script, ...serveArgs], env)
  for (let waited = 0; !(await listening(path)); waited += 20) {
    if (waited > 10_000) throw new Error(`the shim did not listen on ${path} within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return address
}
// #endregion startShim

// #region serve
/**
 * `serve`: the shim itself. Read exits from the reaper, serve the Task service on the socket,
 * write the address file, publish events to containerd, and exit on Shutdown.
 */
export async function serve(flags: ShimFlags): Promise<void> {
  const path = socketPath(flags)
  const log = shimLog(flags.bundle)
  const reaper = new Reaper(new Socket({ fd: REAPER_FD, readable: true, writable: false }))
  const publisher = new Publisher(process.env.TTRPC_ADDRESS ?? `${flags.address}.ttrpc`, flags.namespace, log)
  const server = createServer((socket) => serveConnection(socket, [taskService(task)]))
  const task = new Task({
    id: flags.id, bundle: flags.bundle, runtime: runtimeFor(flags), reaper, publisher,
    mountRootfs: (mounts) => mountRootfs(flags.bundle, mounts),
    unmountRootfs: () => unmountRootfs(flags.bundle),
    async shutdown() {
      server.close()
      rmSync(path, { force: true })
      await publisher.flush()
      process.exit(0)
    },
  })
  rmSync(path, { force: true })
  await new Promise<void>((resolve, reject) => server.listen(path, resolve).once('error', reject))
  writeFileSync(join(flags.bundle, 'address'), `unix://${path}`)
}
// #endregion serve

/** The Task service: every method of shim.proto; those the Task does not implement answer Unimplemented. */
function taskService(task: Task): Service {
  const handlers: Record<string, (request: any) => Promise<object>> = {
    Create: (r) => task.create(r), Start: (r) => task.start(r), State: (r) => task.state(r), Wait: (r) => task.wait(r),
    Kill: (r) => task.kill(r), Delete: (r) => task.delete(r), Pids: () => task.pids(), Connect: () => task.connect(),
    Exec: (r) => task.exec(r), CloseIO: (r) => task.closeIO(r), Shutdown: (r) => task.shutdown(r),
  }
  const methods: Service['methods'] = {}
  for (const [name, types] of Object.entries(serviceMethods('containerd.task.v2.Task'))) methods[name] = { ...types, handle: handlers[name] }
  return { name: 'containerd.task.v2.Task', methods }
}

// #region deleteShim
/**
 * `delete`: runs after every task, and after a shim died. Idempotent: the runtime's `delete
 * --force` (a container that does not exist is fine), the rootfs unmounted, the socket
 * removed; prints a DeleteResponse as 128 + SIGKILL, as containerd's runc shim does.
 */
export async function deleteShim(flags: ShimFlags): Promise<Uint8Array> {
  await runtimeFor(flags).run(['delete', '--force', flags.id]).catch((error: RpcError) => {
    if (error.code !== Code.NotFound) throw error
  })
  await unmountRootfs(flags.bundle)
  rmSync(socketPath(flags), { force: true })
  return encode('containerd.task.v2.DeleteResponse', { pid: 0, exit_status: 128 + 9, exited_at: timestamp(new Date()) })
}
// #endregion deleteShim

/** Mount what Create carries (a snapshotter's overlay, say) on bundle/rootfs, through the helper. */
async function mountRootfs(bundle: string, mounts: { type: string; source: string; options: string[] }[]): Promise<void> {
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
async function unmountRootfs(bundle: string): Promise<void> {
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
function shimLog(bundle: string): (message: string) => void {
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

/** The command: containerd-shim-minidocker-v2 FLAGS start|delete|serve. */
export async function main(argv: string[], script: string): Promise<void> {
  const flags = parseFlags(argv)
  if (flags.action === 'start') {
    process.stdout.write(await startShim(flags, argv, script))
    process.exit(0)
  } else if (flags.action === 'delete') {
    process.stdout.write(await deleteShim(flags))
    process.exit(0)
  } else if (flags.action === 'serve') await serve(flags)
  else throw new Error(`expected start, delete or serve, not "${flags.action}"`)
}
