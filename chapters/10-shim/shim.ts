/**
 * containerd-shim-minidocker-v2: the executable containerd runs for `--runtime
 * io.containerd.minidocker.v2`. containerd calls it three ways (runtime/v2/shim/shim.go):
 *   start   launch the long-lived shim for a container, print its socket's address, exit;
 *   delete  clean up after a task whose shim is gone (and after every task), print a
 *           DeleteResponse;
 *   serve   (ours, not containerd's) the long-lived shim itself, which start launches.
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
 * `start`: launch the long-lived shim for this container and answer its address (unix://PATH),
 * which the caller prints.
 */
export async function startShim(flags: ShimFlags, argv: string[], script: string): Promise<string> {
  // TODO(10): the start subcommand: a shim that outlives this process, and containerd, and its address.
  //   1. containerd waits for this process to exit AND for its stdout and stderr to close. What
  //      must the long-lived shim not share with it, and what must it not be a child of, so that
  //      killing containerd (or its process group) leaves the container alone?
  //   2. The container's process will be orphaned when the runtime's create exits. Who must adopt
  //      it, so that the shim learns its exit at all, and what must be in place before the shim
  //      runs? Node can do neither part (the text says why); native/helper.ts can. The shim itself
  //      is this same script's serve subcommand, with the same flags and environment.
  //   3. containerd dials the address as soon as it reads it: answer only once the socket accepts
  //      connections, and give up with an error if it never does. A shim of this container that
  //      already listens is the answer (start may be called twice).
  //   4. Where to look: the runc shim's manager_linux.go (Start, newCommand) and pkg/shim/shim.go
  //      (the subreaper); the text's "The real thing" and "Why the shim outlives containerd".
  throw new NotImplementedError('10-shim', 'startShim')
}
// #endregion startShim

// #region serve
/** `serve`: the shim itself, from its start until Shutdown. */
export async function serve(flags: ShimFlags): Promise<void> {
  // TODO(10): the shim itself: the Task service of one container, on its socket.
  //   1. What does a Task need (lib/shim-task.ts, TaskOptions), and where does each part come from
  //      here: the exits (what startShim set up), the events (where containerd said to send them),
  //      the runtime, the rootfs?
  //   2. Serve the Task service (lib/shim.ts has its method table) on this container's socket.
  //      Shutdown ends the shim, but only after its answer and every event published before it
  //      are out; it leaves no socket behind.
  //   3. containerd may die and restart while the shim runs: how does the new one find this shim
  //      (the text's "Why the shim outlives containerd"; core/runtime/v2/shim_load.go)?
  throw new NotImplementedError('10-shim', 'serve')
}
// #endregion serve

// #region deleteShim
/**
 * `delete`: runs after every task, and after a shim died; answers the DeleteResponse the
 * caller prints.
 */
export async function deleteShim(flags: ShimFlags): Promise<Uint8Array> {
  // TODO(10): the delete subcommand: whatever a task may have left behind, gone.
  //   1. When a shim was killed, this is the only code left to end its container: what did the
  //      task leave (in the runtime, mounted, on disk)? After a clean Delete all of it is gone
  //      already: running twice, or after nothing, must succeed too.
  //   2. The answer is a containerd.task.v2.DeleteResponse, with the status containerd's runc shim
  //      reports for a container it had to kill.
  //   3. Where to look: the text's "delete, after every task"; the runc shim's manager_linux.go
  //      (Stop), which does the same.
  throw new NotImplementedError('10-shim', 'deleteShim')
}
// #endregion deleteShim
