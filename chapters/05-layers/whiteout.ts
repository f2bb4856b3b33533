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
  //   1. Documentation/filesystems/overlayfs.rst, "whiteouts and opaque directories": what kind of
  //      file, with which device number?
  //   2. Both must hold: a regular file has a device number of 0 too.
  throw new NotImplementedError('05-layers', 'isWhiteout')
}
// #endregion isWhiteout

// #region makeWhiteout
/** Hide `path` of the lower layers: a 0/0 character device in the upper layer. */
export async function makeWhiteout(helper: Helper, path: string): Promise<void> {
  // TODO(05): hide `path` of the lower layers.
  //   1. The mark must be exactly what overlayfs writes itself when a lower file is deleted (see
  //      isWhiteout). aufs' empty .wh. files mean nothing to overlayfs.
  //   2. Node cannot make such a file (man 2 mknod); the helper can, as root.
  throw new NotImplementedError('05-layers', 'makeWhiteout')
}
// #endregion makeWhiteout

// #region makeOpaque
/** Hide everything the lower layers hold under directory `dir`. */
export async function makeOpaque(helper: Helper, dir: string): Promise<void> {
  // TODO(05): make `dir` hide everything the lower layers hold below it, and nothing else.
  //   1. overlayfs.rst, "whiteouts and opaque directories": an extended attribute (OPAQUE_XATTR)
  //      with one exact value; overlayfs ignores any other.
  //   2. It goes on the replaced directory itself, in the upper layer. Node cannot set extended
  //      attributes (man 2 setxattr); the helper can.
  throw new NotImplementedError('05-layers', 'makeOpaque')
}
// #endregion makeOpaque

// #region isOpaque
/** Does directory `dir` carry trusted.overlay.opaque=y? */
export async function isOpaque(helper: Helper, dir: string): Promise<boolean> {
  // TODO(05): read the opaque mark back.
  //   1. man 2 getxattr: what does a file without the attribute answer? Here that means "not
  //      opaque", not an error.
  //   2. Any other failure is a real one: let it through.
  throw new NotImplementedError('05-layers', 'isOpaque')
}
// #endregion isOpaque

// #region changes
/**
 * What a container changed, read from its upper layer alone, as `docker diff` lists it:
 * a whiteout is D, a name no lower layer has is A, anything else is C. Sorted by path.
 */
export function changes(dirs: OverlayDirs): Change[] {
  // TODO(05): `docker diff` for a container, from its layers.
  //   1. What the container changed is in its upper dir and nowhere else: the merged view cannot
  //      tell an edit from the original, nor show a deletion.
  //   2. A whiteout is a deletion (D). Any other name is a change (C) if some lower layer has that
  //      path, whichever layer that is, and an addition (A) if none has it.
  //   3. "Has the path" means an entry of any kind. A layer's symlinks point at paths inside the
  //      container (often absolute), so on the host they dangle or lead elsewhere: do not follow them.
  //   4. Paths start with "/", every level is listed (a directory that holds a change is itself
  //      a C or an A), sorted by path. moby's pkg/archive/changes.go does the same walk.
  throw new NotImplementedError('05-layers', 'changes')
}
// #endregion changes
