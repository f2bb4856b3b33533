/**
 * Chapter 05: how a layer says "deleted". overlayfs marks a deleted name with a whiteout, a
 * character device 0/0, and a directory whose lower contents must not show through with the
 * xattr trusted.overlay.opaque=y. (aufs said the same with `.wh.NAME` and `.wh..wh..opq`
 * files; chapter 06 converts those when it applies a layer.)
 *
 * Check your work with `npx workbook check 5`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
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
  // TODO(05): recognise overlayfs's "deleted" mark.
  //   1. A whiteout is a character device (stats.isCharacterDevice())...
  //   2. ...whose device number is 0 (stats.rdev === 0, i.e. major 0, minor 0).
  throw new NotImplementedError('05-layers', 'isWhiteout')
}
// #endregion isWhiteout

// #region makeWhiteout
/** Hide `path` of the lower layers: a 0/0 character device in the upper layer. */
export async function makeWhiteout(helper: Helper, path: string): Promise<void> {
  // TODO(05): write a whiteout where a lower file must disappear.
  //   1. helper.mknod(path, 'c', 0, 0, 0): a character device, mode 0, major 0, minor 0.
  //      (Node cannot mknod; the helper can, as root.)
  throw new NotImplementedError('05-layers', 'makeWhiteout')
}
// #endregion makeWhiteout

// #region makeOpaque
/** Hide everything the lower layers hold under directory `dir`. */
export async function makeOpaque(helper: Helper, dir: string): Promise<void> {
  // TODO(05): mark a directory opaque.
  //   1. helper.setxattr(dir, OPAQUE_XATTR, 'y'): trusted.overlay.opaque=y.
  throw new NotImplementedError('05-layers', 'makeOpaque')
}
// #endregion makeOpaque

// #region isOpaque
/** Does directory `dir` carry trusted.overlay.opaque=y? */
export async function isOpaque(helper: Helper, dir: string): Promise<boolean> {
  // TODO(05): read the opaque mark back.
  //   1. await helper.getxattr(dir, OPAQUE_XATTR) and compare with 'y'.
  //   2. A directory without the attribute makes getxattr fail with a SyscallError whose code
  //      is "ENODATA": that means false. Rethrow anything else.
  throw new NotImplementedError('05-layers', 'isOpaque')
}
// #endregion isOpaque

// #region changes
/**
 * What a container changed, read from its upper layer alone, as `docker diff` lists it:
 * a whiteout is D, a name no lower layer has is A, anything else is C. Sorted by path.
 */
export function changes(dirs: OverlayDirs): Change[] {
  // TODO(05): list what the container changed, from its upper dir alone.
  //   1. Walk dirs.upper recursively (readdirSync + lstatSync), with paths relative to it
  //      that start with "/" (e.g. "/etc/motd").
  //   2. A whiteout (isWhiteout) is a deletion: { kind: 'D', path }.
  //   3. Otherwise: if any of dirs.lower has that path (lstatSync with throwIfNoEntry: false),
  //      it is a change ('C'); if none has it, it was added ('A').
  //   4. Recurse into directories, then return the list sorted by path.
  throw new NotImplementedError('05-layers', 'changes')
}
// #endregion changes
