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
  // TODO(05): the one string that configures an overlay mount.
  //   1. man 8 mount, "Mount options for overlay", and the kernel's
  //      Documentation/filesystems/overlayfs.rst ("Multiple lower layers"): which option names,
  //      which separators, and in which order the lower layers are listed.
  //   2. OverlayDirs.lower is ordered as its doc comment says; the order the kernel reads decides
  //      which layer wins when two hold the same file.
  //   3. The kernel splits this string at its separators and knows no escaping: refuse, with an
  //      Error naming the path, any path that holds one, and an overlay with no lower layer.
  throw new NotImplementedError('05-layers', 'overlayOptions')
}
// #endregion overlayOptions

// #region mountOverlay
/** Mount the union of `dirs` at `target`, in the helper's mount namespace. */
export async function mountOverlay(helper: Helper, dirs: OverlayDirs, target: string): Promise<void> {
  // TODO(05): mount the union at `target`, from the helper.
  //   1. Node cannot mount; the helper can (native/helper.ts). It mounts in its own mount
  //      namespace, which the caller made private, so nothing here reaches the host's mounts.
  //   2. An overlay has no device: its source only shows in /proc/mounts. The filesystem type and
  //      the data string (overlayOptions) are what count.
  //   3. Let the helper's SyscallError through: it names the call and the errno.
  throw new NotImplementedError('05-layers', 'mountOverlay')
}
// #endregion mountOverlay

// #region unmountOverlay
/**
 * Unmount the union at `target`. A lazy (detached) unmount is the fallback when something
 * still holds it busy, so that a container that left a process behind does not leak a mount.
 */
export async function unmountOverlay(helper: Helper, target: string): Promise<void> {
  // TODO(05): unmount the union, even when something still uses it.
  //   1. man 2 umount2: a mount a process still uses (an open file, a working directory inside)
  //      refuses with EBUSY.
  //   2. A container that left such a process behind must not leak its mount: Docker then
  //      detaches it lazily (which flag?). Any other error is a real one.
  throw new NotImplementedError('05-layers', 'unmountOverlay')
}
// #endregion unmountOverlay
