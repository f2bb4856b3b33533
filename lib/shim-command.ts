/**
 * Chapter 10's given shim command, which the starter and the reference share:
 * containerd-shim-minidocker-v2, the executable containerd runs for `--runtime
 * io.containerd.minidocker.v2`. containerd calls it three ways (runtime/v2/shim/shim.go):
 *   start   launch the long-lived shim for a container, print its socket's address, exit;
 *   delete  clean up after a task whose shim is gone (and after every task), print a
 *           DeleteResponse;
 *   serve   (ours, not containerd's) the long-lived shim itself, which start launches.
 * The parts it puts together (the Reaper, the Runtime, the Task, serveConnection) are the chapter's.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { Reaper } from '#ch/10-shim/reaper.ts'
import { Runtime } from '#ch/10-shim/runtime.ts'
import { Task } from '#ch/10-shim/task.ts'
import { serveConnection } from '#ch/10-shim/ttrpc.ts'
import { requireFraming } from './ttrpc-client.ts'
import { Helper } from '../native/helper.ts'
import { Code, RpcError, encode, timestamp } from './containerd-proto.ts'
import { DEFAULT_RUNTIME, listening, mountRootfs, REAPER_FD, shimLog, socketPath, SOCKET_DIR, taskService, unmountRootfs, type ShimFlags } from './shim.ts'
import { Publisher } from './shim-events.ts'

export { DEFAULT_RUNTIME, parseFlags, REAPER_FD, socketPath, SOCKET_DIR, type ShimFlags } from './shim.ts'

/**
 * The runtime: MINIDOCKER_SHIM_RUNTIME (containerd passes its environment to the shims it
 * starts), else minirunc. runc's shim reads it from the runc options instead, which ctr sends
 * only to io.containerd.runc.v2.
 */
export function runtimeFor(flags: ShimFlags): Runtime {
  const binary = process.env.MINIDOCKER_SHIM_RUNTIME || DEFAULT_RUNTIME
  return new Runtime(binary, join('/run/containerd/runc', flags.namespace), flags.bundle)
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
  // A shim whose framing cannot read fails here, where containerd shows ctr the reason,
  // rather than in a shim that dies unseen.
  requireFraming()
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
  process.on('uncaughtException', (error) => {
    log(`the shim failed: ${error.stack ?? error.message}`) // into containerd's log
    process.exit(1)
  })
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
