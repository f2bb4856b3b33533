/**
 * containerd-shim-minidocker-v2: the executable containerd runs for `--runtime
 * io.containerd.minidocker.v2`. containerd calls it three ways (runtime/v2/shim/shim.go):
 *   start   launch the long-lived shim for a container, print its socket's address, exit;
 *   delete  clean up after a task whose shim is gone (and after every task), print a
 *           DeleteResponse;
 *   serve   (ours, not containerd's) the long-lived shim itself, below the helper's reaper.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { Helper } from '../../native/helper.ts'
import { Code, RpcError, encode, timestamp } from '../../lib/containerd-proto.ts'
import { DEFAULT_RUNTIME, listening, mountRootfs, REAPER_FD, shimLog, socketPath, SOCKET_DIR, taskService, unmountRootfs, type ShimFlags } from '../../lib/shim.ts'
import { Publisher } from './events.ts'
import { Reaper } from './reaper.ts'
import { Runtime } from './runtime.ts'
import { Task } from './task.ts'
import { serveConnection } from './ttrpc.ts'
import { NotImplementedError } from '../../lib/errors.ts'

export { DEFAULT_RUNTIME, parseFlags, REAPER_FD, socketPath, SOCKET_DIR, type ShimFlags } from '../../lib/shim.ts'

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
  // TODO(10): the start subcommand: launch the long-lived shim, answer its address, return.
  //   1. containerd waits until this process has exited AND its stdout and stderr are closed:
  //      the shim must run detached, in its own session, holding neither.
  //   2. The shim must be below a subreaper that reports exits (the helper: its subreaper prctl,
  //      then its reaper op, with REAPER_FD), and then become the serve subcommand of this
  //      same script with the same flags (the helper's exec, with this process's environment).
  //   3. Answer only once the socket accepts connections (poll it, with a limit), as
  //      unix://PATH; when a shim for this container already listens, answer its address.
  //   4. Where to look: containerd's runtime/v2/runc/v2/manager.go (StartShim), and the text's
  //      "Why the shim outlives containerd".
  throw new NotImplementedError('10-shim', 'startShim')
}
// #endregion startShim

// #region serve
/**
 * `serve`: the shim itself. Read exits from the reaper, serve the Task service on the socket,
 * write the address file, publish events to containerd, and exit on Shutdown.
 */
export async function serve(flags: ShimFlags): Promise<void> {
  // TODO(10): the shim itself.
  //   1. Exits come from the reaper's socket at REAPER_FD; events go to containerd's ttrpc
  //      address (TTRPC_ADDRESS, which containerd sets).
  //   2. Serve the Task service (taskService) on socketPath; Shutdown closes the server, removes
  //      the socket, lets the events out, then exits.
  //   3. Write bundle/address (unix://PATH): a restarted containerd reads it to find the shim.
  throw new NotImplementedError('10-shim', 'serve')
}
// #endregion serve

// #region deleteShim
/**
 * `delete`: runs after every task, and after a shim died. Idempotent: the runtime's `delete
 * --force` (a container that does not exist is fine), the rootfs unmounted, the socket
 * removed; prints a DeleteResponse as 128 + SIGKILL, as containerd's runc shim does.
 */
export async function deleteShim(flags: ShimFlags): Promise<Uint8Array> {
  // TODO(10): the delete subcommand, run after every task and after a shim died.
  //   1. Idempotent: the runtime's delete, forced (a container it no longer has is fine), the
  //      rootfs unmounted, the socket removed. Any of it may already be done.
  //   2. Answer a containerd.task.v2.DeleteResponse: as containerd's runc shim, an exit status
  //      of 128 + SIGKILL and the time now.
  throw new NotImplementedError('10-shim', 'deleteShim')
}
// #endregion deleteShim
