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
  /** read-only layers, the TOPMOST first */
  lower: string[]
  /** the writable layer: every change lands here */
  upper: string
  /** overlayfs's scratch space; must be empty and on the same filesystem as upper */
  work: string
}

// #region overlayOptions
/**
 * The data string mount(2) takes for overlayfs, naming every directory of `dirs`. A path the
 * kernel would not read back as given is refused with an Error naming the path; an overlay
 * without a lower directory is refused with one saying "lower".
 */
export function overlayOptions(dirs: OverlayDirs): string {
  // TODO(05): the one string that configures an overlay mount.
  //   1. Which options name the three kinds of directory, and what separates the options and the
  //      lower directories? man 8 mount, "Mount options for overlay"; the kernel's
  //      Documentation/filesystems/overlayfs.rst, "Multiple lower layers".
  //   2. When two lower layers hold the same path, which one does the kernel show: the first it
  //      reads or the last? OverlayDirs.lower is topmost first; the topmost layer must win.
  //   3. The kernel reads each path back out of the string by its own rules: which paths would
  //      not arrive as they were given? Try directories with odd names, and compare with what
  //      /proc/mounts says the kernel took. Refuse those before building anything.
  throw new NotImplementedError('05-layers', 'overlayOptions')
}
// #endregion overlayOptions

// #region mountOverlay
/**
 * Mount the union of `dirs` at `target`, in the helper's mount namespace. An image may be deep
 * (more than a hundred layers) and the driver's root a long path: that stack must mount too.
 * Whatever the mount takes of the helper, the helper is as it was afterwards, whether the mount
 * worked or not: whoever drives it next relies on that. An overlay has no device, so the source is
 * only the name /proc/mounts shows.
 */
export async function mountOverlay(helper: Helper, dirs: OverlayDirs, target: string): Promise<void> {
  // TODO(05): mount the union in the helper's namespace, for a shallow stack and a deep one alike.
  //   1. overlayOptions() names every directory by the path it was given. How much of that string
  //      does mount(2) read, and what happens to the rest? man 2 mount (data).
  //   2. moby's daemon/graphdriver/overlay2/overlay.go mounts such an image anyway (Get, and
  //      mountFrom in mount.go): what does it hand the kernel then, and what must hold for the
  //      kernel to find every directory from it? What do the layout's short links have to do
  //      with it (chapter text, "A deep image")? And is that form short enough for every stack?
  //   3. The helper is one long-lived process that later steps drive, and moby does not run this
  //      mount in dockerd itself: why not, and what follows for you? Nothing about the helper may
  //      differ after mountOverlay, also when the mount fails, and whatever became of the
  //      places it stood in meanwhile.
  throw new NotImplementedError('05-layers', 'mountOverlay')
}
// #endregion mountOverlay

// #region unmountOverlay
/**
 * Unmount the union at `target`, even when a process still uses it: a container that left a
 * process behind must not leak its mount. Any other failure is thrown.
 */
export async function unmountOverlay(helper: Helper, target: string): Promise<void> {
  // TODO(05): unmount the union, even when something still uses it.
  //   1. What can keep a mount from going, and what does the kernel answer then (man 2 umount2)?
  //      The helper's SyscallError carries the errno.
  //   2. Docker neither kills such a process nor leaks the mount. Which of the kernel's answers
  //      are not yours to get round, and must reach the caller?
  //   3. Once docker stop is done, who else on the host could still reach the container's layers?
  //   4. The next docker start mounts on the same folder: what must it find there?
  throw new NotImplementedError('05-layers', 'unmountOverlay')
}
// #endregion unmountOverlay
