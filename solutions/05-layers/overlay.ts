/**
 * Chapter 05: a union mount. overlayfs stacks read-only lower directories under one
 * writable upper directory and shows the union at a mount point, the way Docker's overlay2
 * graph driver builds every container's root filesystem.
 */
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
 * The data string mount(2) takes for overlayfs, naming every directory of `dirs`. The kernel
 * splits it at ',' and ':' and knows no escaping, so a path holding either is refused with an
 * Error naming the path; an overlay without a lower directory is refused with one saying "lower".
 */
export function overlayOptions(dirs: OverlayDirs): string {
  if (dirs.lower.length === 0) throw new Error('an overlay needs at least one lower directory')
  for (const dir of [...dirs.lower, dirs.upper, dirs.work]) {
    if (/[,:]/.test(dir)) throw new Error(`overlay paths cannot contain ',' or ':' (the kernel splits at them): ${dir}`)
  }
  return `lowerdir=${dirs.lower.join(':')},upperdir=${dirs.upper},workdir=${dirs.work}`
}
// #endregion overlayOptions

// #region mountOverlay
/**
 * Mount the union of `dirs` at `target`, in the helper's mount namespace (given: the decisions
 * are overlayOptions'). An overlay has no device, so the source is only the name /proc/mounts shows.
 */
export async function mountOverlay(helper: Helper, dirs: OverlayDirs, target: string): Promise<void> {
  await helper.mount('overlay', target, 'overlay', [], overlayOptions(dirs))
}
// #endregion mountOverlay

// #region unmountOverlay
/**
 * Unmount the union at `target`, even when a process still uses it: a container that left a
 * process behind must not leak its mount. Any other failure is thrown.
 */
export async function unmountOverlay(helper: Helper, target: string): Promise<void> {
  try {
    await helper.umount2(target)
  } catch (error) {
    if ((error as { code?: string }).code !== 'EBUSY') throw error
    await helper.umount2(target, ['detach'])
  }
}
// #endregion unmountOverlay
