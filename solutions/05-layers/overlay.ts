/**
 * Chapter 05: a union mount. overlayfs stacks read-only lower directories under one
 * writable upper directory and shows the union at a mount point, the way Docker's overlay2
 * graph driver builds every container's root filesystem.
 */
import { chmodSync, chownSync, lstatSync } from 'node:fs'
import { dirname, relative } from 'node:path'
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
  if (dirs.lower.length === 0) throw new Error('an overlay needs at least one lower directory')
  for (const dir of [...dirs.lower, dirs.upper, dirs.work]) {
    // ',' ends an option, ':' a lower directory, and '\\' escapes the character after it
    if (/[,:\\]/.test(dir)) throw new Error(`overlay paths cannot contain ',', ':' or '\\' (the kernel splits at the first two and unescapes the third): ${dir}`)
  }
  return `lowerdir=${dirs.lower.join(':')},upperdir=${dirs.upper},workdir=${dirs.work}`
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
  const data = overlayOptions(dirs)
  // The kernel copies one page and cuts it there (its last byte becomes the terminating NUL).
  if (Buffer.byteLength(data) < MOUNT_DATA_MAX) {
    await helper.mount('overlay', target, 'overlay', [], data)
    return
  }
  // As overlay2's mountFrom: name every directory relative to the one they all sit under, and
  // mount from there; the kernel resolves relative option paths against the caller's cwd.
  const all = [...dirs.lower, dirs.upper, dirs.work]
  const from = all.map((dir) => dirname(dir)).reduce(commonDir)
  const short = overlayOptions({ lower: dirs.lower.map((d) => relative(from, d)), upper: relative(from, dirs.upper), work: relative(from, dirs.work) })
  if (Buffer.byteLength(short) >= MOUNT_DATA_MAX)
    throw new Error(`the overlay's ${dirs.lower.length} lower directories do not fit in one page of mount data, even relative to ${from}`)
  // Held by an fd, not by its name: the name may lead elsewhere by now, or nowhere.
  const cwd = await helper.open('.')
  try {
    await helper.chdir(from)
    try {
      await helper.mount('overlay', target, 'overlay', [], short)
    } finally {
      await helper.fchdir(cwd)
    }
  } finally {
    await helper.closeFd(cwd)
  }
}

/** The most mount(2) reads of its data, the terminating NUL included: one page. */
const MOUNT_DATA_MAX = 4096

/** The deepest directory that holds both `a` and `b` (absolute paths). */
function commonDir(a: string, b: string): string {
  const [x, y] = [a.split('/'), b.split('/')]
  let n = 0
  while (n < x.length && n < y.length && x[n] === y[n]) n++
  return x.slice(0, n).join('/') || '/'
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
  // As overlay2's Put: a mount namespace made while the union was mounted (a systemd service's,
  // another container's) holds a copy of it, which no unmount here reaches. Removing the mount
  // point, no longer one in this namespace, detaches the union from every namespace that still
  // has it there (Linux 3.18); made again, the folder is ready for the next mount. It must be the
  // same folder to whoever mounts or enters it next: mkdir applies the helper's umask and drops
  // setgid, and makes it the helper's, so owner and mode are put back as they were.
  const folder = `/proc/${helper.pid}/root${target}`
  const { mode, uid, gid } = lstatSync(folder)
  await helper.rmdir(target)
  await helper.mkdir(target, 0o700)
  chownSync(folder, uid, gid)
  chmodSync(folder, mode & 0o7777)
}
// #endregion unmountOverlay
