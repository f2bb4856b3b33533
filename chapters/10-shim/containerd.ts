/**
 * minicontainerd: a containerd of our own, for the subset a daemon needs. It serves gRPC on a
 * unix socket under containerd's own service, method and message names (version, containers,
 * tasks), so the real `ctr --address` talks to it; it keeps containers' metadata on disk,
 * prepares a bundle per task, starts one shim per task (ours or containerd's own), talks ttrpc
 * to it, takes the shims' events on SOCKET.ttrpc, and after a restart finds the shims still
 * running. containerd's own: core/runtime/v2 (shim.go,
 * shim_load.go, binary.go) and core/metadata.
 */
import { execa } from 'execa'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import { MinicontainerdBase } from '../../lib/minicontainerd.ts'
import { shimCall } from '../../lib/shim.ts'
import { dialTtrpc } from './ttrpc.ts'
import { NotImplementedError } from '../../lib/errors.ts'

// #region shimBinary
/** The executable containerd runs (found on the PATH) for a runtime name such as io.containerd.runc.v2. */
export function shimBinary(runtime: string): string {
  // TODO(10): the shim executable a runtime name stands for, by containerd's rule.
  //   1. Which parts of io.containerd.runc.v2 make containerd-shim-runc-v2, and does the rule
  //      care about the prefix? (The text's "The real thing"; pkg/shim/util.go, BinaryName.)
  //   2. A name that does not have the rule's form (a version that is no vN, too few parts) must
  //      not become an executable name: it is InvalidArgument, and the message names it.
  throw new NotImplementedError('10-shim', 'shimBinary')
}
// #endregion shimBinary

/** Our containerd: the given services of MinicontainerdBase, with tasks made and found again here. */
export class Minicontainerd extends MinicontainerdBase {
  // #region reconnect
  /** After a restart: take back the tasks whose shims still run, and clean up after the others. */
  async reconnect(): Promise<void> {
    // TODO(10): after a restart, find the tasks whose shims still run.
    //   1. This process remembers nothing: what did createTask, and the shims, leave on disk that
    //      tells which tasks there were, where each shim listens, and which runtime it was?
    //   2. A bundle's shim may be alive or gone (killed while containerd was down): how do you know
    //      which, without trusting a file? A live one is a task again, exactly as createTask
    //      records one; a gone one leaves a container running, perhaps, and a bundle: who cleans
    //      up after a dead shim (the text's "delete, after every task")?
    //   3. One broken bundle must not stop the others. Where to look: containerd's
    //      core/runtime/v2/shim_load.go (loadShims, cleanupAfterDeadShim).
    throw new NotImplementedError('10-shim', 'reconnect')
  }
  // #endregion reconnect

  // #region createTask
  /** Tasks/Create: a bundle and a shim for the container, and the shim's Create; answers the PID. */
  async createTask(namespace: string, request: any): Promise<object> {
    // TODO(10): Tasks/Create, as containerd's runtime v2 does it (core/runtime/v2/manager.go and
    //      binary.go, Start; bundle.go, NewBundle).
    //   1. The container must exist (this.container: its spec and its runtime's name); one task per
    //      container (AlreadyExists).
    //   2. What does a shim expect in the bundle, its working directory: the OCI config, a rootfs to
    //      mount on, the log FIFO it writes to (which something must read, or the shim blocks)? And
    //      what must the bundle keep for reconnect after a restart? Careful: runc's shim writes
    //      files of its own there (the text's "Our containerd").
    //   3. The shim binary's start, called as containerd calls it (the text's table in "The real
    //      thing"; lib/minicontainerd.ts has the flags and the environment that says where events
    //      go). Its stdout is the address. A start that fails leaves no bundle, and says why in the
    //      shim's words.
    //   4. Then the shim's Create with the request's rootfs and stdio. From then on the task is
    //      this.tasks' (NAMESPACE/ID); if Create fails, undo all of it. Answer the container id
    //      and the PID.
    throw new NotImplementedError('10-shim', 'createTask')
  }
  // #endregion createTask

  // #region deleteTask
  /** Tasks/Delete: the task and its shim gone; answers how the task's process ended. */
  async deleteTask(namespace: string, id: string): Promise<object> {
    // TODO(10): Tasks/Delete: the task, its shim and its bundle gone, in containerd's order.
    //   1. A task still running cannot be deleted (the shim refuses, and containerd passes that
    //      on); any other failure of the shim (gone, say) must not stop the cleanup.
    //   2. Which calls does containerd make on the shim, and on the shim binary, when a task is
    //      deleted (the text's "The Task service" lists them for ctr run --rm; core/runtime/v2/
    //      shim.go, Delete)? Nothing may stay: connection, entry, bundle.
    //   3. Answer how the process ended, as the shim said.
    throw new NotImplementedError('10-shim', 'deleteTask')
  }
  // #endregion deleteTask
}
