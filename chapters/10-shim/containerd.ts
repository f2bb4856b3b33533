/**
 * minicontainerd: a containerd of our own, for the subset a daemon needs. It serves gRPC on a
 * unix socket under containerd's own service, method and message names (version, containers,
 * tasks), so the real `ctr --address` talks to it; it keeps containers' metadata on disk,
 * prepares a bundle per task, starts one shim per task (ours or containerd's own), talks ttrpc
 * to it, takes the shims' events on SOCKET.ttrpc, and after a restart finds the shims still
 * running from the address files in the bundles. containerd's own: core/runtime/v2 (shim.go,
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
/** containerd's BinaryName: io.containerd.runc.v2 is containerd-shim-runc-v2 on the PATH. */
export function shimBinary(runtime: string): string {
  // TODO(10): the shim executable a runtime name stands for.
  //   1. containerd's rule (pkg/shim/util.go, BinaryName): io.containerd.runc.v2 is the executable
  //      containerd-shim-runc-v2, looked up on the PATH. The last two dot-separated parts are the
  //      name and the version (vN).
  //   2. A name that does not have that form is InvalidArgument, naming it.
  throw new NotImplementedError('10-shim', 'shimBinary')
}
// #endregion shimBinary

/** Our containerd: the given services of MinicontainerdBase, with tasks made and found again here. */
export class Minicontainerd extends MinicontainerdBase {
  // #region reconnect
  /**
   * After a restart: every bundle whose shim wrote an address is a task that may still run.
   * Connect answers for a live shim; a bundle whose shim is gone is cleaned up with the
   * shim binary's delete, as containerd's loadShims does.
   */
  async reconnect(): Promise<void> {
    // TODO(10): after a restart, find the tasks whose shims still run.
    //   1. Every bundle under root/tasks/NAMESPACE/ID whose shim wrote `address` may still be served.
    //      Dial it and ask Connect: a shim that answers is a task again (with its runtime, which the
    //      bundle's `runtime-name` file keeps).
    //   2. A shim that is gone leaves a bundle to clean up: its binary's delete, then the bundle
    //      (the given shimDelete of lib/minicontainerd.ts does both).
    //   3. The tasks you find go in this.tasks, as createTask's do. Where to look: containerd's core/runtime/v2/shim_load.go (loadShims).
    throw new NotImplementedError('10-shim', 'reconnect')
  }
  // #endregion reconnect

  // #region createTask
  /**
   * Tasks/Create: a bundle (config.json from the container's spec, an empty rootfs, the log
   * FIFO), the shim binary's start with TTRPC_ADDRESS set, a ttrpc connection to the address
   * it prints, and the shim's Create.
   */
  async createTask(namespace: string, request: any): Promise<object> {
    // TODO(10): Tasks/Create, as containerd's runtime v2 does it.
    //   1. The container must exist (its metadata holds the spec and the runtime's name); a task that
    //      exists already is AlreadyExists.
    //   2. The bundle: config.json (the spec's bytes), an empty rootfs, a `runtime-name` file (runc's shim writes its own `runtime`), and the
    //      `log` FIFO the shim writes to (something must read it, or the shim blocks).
    //   3. The shim binary's start, with containerd's flags, cwd the bundle, TTRPC_ADDRESS set to
    //      where the events go (the given shimFlags and shimEnv), empty stdin; its stdout is the address to dial. A failed start
    //      leaves no bundle and reports the shim's stderr.
    //   4. Then the shim's Create with the request's rootfs and stdio; if it fails, the task is
    //      deleted again. The task lives in this.tasks (NAMESPACE/ID); this.container gives the
    //      metadata. Answer the container id and the PID. Chapter text: "Our containerd".
    throw new NotImplementedError('10-shim', 'createTask')
  }
  // #endregion createTask

  // #region deleteTask
  /** Tasks/Delete: the shim's Delete and Shutdown, then the binary's delete and the bundle gone. */
  async deleteTask(namespace: string, id: string): Promise<object> {
    // TODO(10): Tasks/Delete: the shim's Delete, its Shutdown, the binary's delete, the bundle.
    //   1. A task still running is FailedPrecondition, as the shim answers; other Delete errors do not
    //      stop the cleanup.
    //   2. The shim's connection closed, the task out of this.tasks, the bundle gone (shimDelete).
    //   3. Answer the id, PID, exit status and exit time the shim's Delete gave.
    throw new NotImplementedError('10-shim', 'deleteTask')
  }
  // #endregion deleteTask
}
