/**
 * Chapter 05: a union mount. overlayfs stacks read-only lower directories under one
 * writable upper directory and shows the union at a mount point, the way Docker's overlay2
 * graph driver builds every container's root filesystem.
 *
 * Check your work with `npx workbook check 5`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Helper } from '../../native/helper.ts'

/** The directories of one overlay mount. */
export interface OverlayDirs {
  /** read-only layers, the TOPMOST first (the order of the lowerdir= option) */
  lower: string[]
  /** the writable layer: every change lands here */
  upper: string
  /** overlayfs's scratch space; must be empty and on the same filesystem as upper */
  work: string
}

// #region overlayOptions
/**
 * The data string mount(2) takes for overlayfs: `lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W`.
 * The kernel splits it at ',' and lowerdir at ':', so paths holding either are refused.
 */
export function overlayOptions(dirs: OverlayDirs): string {
  // TODO(05): build "lowerdir=...,upperdir=...,workdir=...".
  //   1. An overlay with no lower directory is no union: throw an Error.
  //   2. The kernel splits the data at "," and lowerdir at ":": throw an Error naming any path
  //      (lower, upper or work) that contains either character.
  //   3. Join the lower dirs with ":" in the order given: lower[0] is the TOPMOST layer.
  //   4. Return `lowerdir=${...},upperdir=${dirs.upper},workdir=${dirs.work}`.
  throw new NotImplementedError('05-layers', 'overlayOptions')
}
// #endregion overlayOptions

// #region mountOverlay
/** Mount the union of `dirs` at `target`, in the helper's mount namespace. */
export async function mountOverlay(helper: Helper, dirs: OverlayDirs, target: string): Promise<void> {
  // TODO(05): one mount(2) call, made by the helper.
  //   1. Source "overlay" (only shown in /proc/mounts), filesystem type "overlay", no flags.
  //   2. The data string is overlayOptions(dirs).
  //   3. helper.mount(source, target, fstype, flags, data); let its SyscallError through.
  throw new NotImplementedError('05-layers', 'mountOverlay')
}
// #endregion mountOverlay

// #region unmountOverlay
/**
 * Unmount the union at `target`. A lazy (detached) unmount is the fallback when something
 * still holds it busy, so that a container that left a process behind does not leak a mount.
 */
export async function unmountOverlay(helper: Helper, target: string): Promise<void> {
  // TODO(05): umount2 the union.
  //   1. await helper.umount2(target).
  //   2. If that fails with code "EBUSY" (a process still has a file open in it), retry with
  //      the ['detach'] flag: a lazy unmount, finished once the last user is gone.
  //   3. Rethrow any other error.
  throw new NotImplementedError('05-layers', 'unmountOverlay')
}
// #endregion unmountOverlay
