/**
 * Chapter 05: how a layer says "deleted". overlayfs marks a deleted name with a whiteout, a
 * character device 0/0, and a directory whose lower contents must not show through with the
 * xattr trusted.overlay.opaque=y. (aufs said the same with `.wh.NAME` and `.wh..wh..opq`
 * files; chapter 06 converts those when it applies a layer.)
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { SyscallError, type Helper } from '../../native/helper.ts'
import type { OverlayDirs } from './overlay.ts'

export const OPAQUE_XATTR = 'trusted.overlay.opaque'

/** One line of `docker diff`: A added, C changed, D deleted. */
export interface Change {
  kind: 'A' | 'C' | 'D'
  /** absolute inside the container, e.g. "/etc/hosts" */
  path: string
}

// #region isWhiteout
/** Is this an overlay whiteout: a character device with device number 0/0? */
export function isWhiteout(stats: Stats): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0
}
// #endregion isWhiteout

// #region makeWhiteout
/** Hide `path` of the lower layers: a 0/0 character device in the upper layer. */
export async function makeWhiteout(helper: Helper, path: string): Promise<void> {
  await helper.mknod(path, 'c', 0, 0, 0)
}
// #endregion makeWhiteout

// #region makeOpaque
/** Hide everything the lower layers hold under directory `dir`. */
export async function makeOpaque(helper: Helper, dir: string): Promise<void> {
  await helper.setxattr(dir, OPAQUE_XATTR, 'y')
}
// #endregion makeOpaque

// #region isOpaque
/** Does directory `dir` carry trusted.overlay.opaque=y? */
export async function isOpaque(helper: Helper, dir: string): Promise<boolean> {
  try {
    return (await helper.getxattr(dir, OPAQUE_XATTR)) === 'y'
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ENODATA') return false
    throw error
  }
}
// #endregion isOpaque

// #region changes
/**
 * What a container changed, read from its upper layer alone, as `docker diff` lists it:
 * a whiteout is D, a name no lower layer has is A, anything else is C. Sorted by path.
 */
export function changes(dirs: OverlayDirs): Change[] {
  const found: Change[] = []
  const inLower = (rel: string) => dirs.lower.some((l) => lstatSync(join(l, rel), { throwIfNoEntry: false }))
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dirs.upper, rel)).sort()) {
      const child = join(rel, name)
      const stats = lstatSync(join(dirs.upper, child))
      if (isWhiteout(stats)) found.push({ kind: 'D', path: child })
      else found.push({ kind: inLower(child) ? 'C' : 'A', path: child })
      if (stats.isDirectory()) walk(child)
    }
  }
  walk('/')
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
// #endregion changes
