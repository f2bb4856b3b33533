/**
 * Chapter 05: how a layer says "deleted". overlayfs marks a deleted name with a whiteout and
 * a directory whose lower contents must not show through as opaque (the kernel's
 * Documentation/filesystems/overlayfs.rst). aufs said the same with `.wh.NAME` and
 * `.wh..wh..opq` files; chapter 06 converts those when it applies a layer.
 *
 * Check your work with `npx workbook check 5`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { SyscallError, type Helper } from '../../native/helper.ts'
import type { OverlayDirs } from './overlay.ts'

/** One line of `docker diff`: A added, C changed, D deleted. */
export interface Change {
  kind: 'A' | 'C' | 'D'
  /** absolute inside the container, e.g. "/etc/hosts" */
  path: string
}

// #region makeWhiteout
/** Hide `path` of the lower layers: make at `path`, in the upper layer, the mark overlayfs leaves for a deleted name. */
export async function makeWhiteout(helper: Helper, path: string): Promise<void> {
  // TODO(05): hide `path` of the lower layers.
  //   1. The mark must be exactly the one overlayfs writes itself (changes recognises it):
  //      overlayfs reads nothing else as "deleted", and aufs' empty .wh. files show as files.
  //   2. Which system call makes a file of that kind (man 7 inode, "The file type and mode"),
  //      and can Node make one? If not, look through native/helper.ts: it runs as root.
  throw new NotImplementedError('05-layers', 'makeWhiteout')
}
// #endregion makeWhiteout

// #region makeOpaque
/** Hide everything the lower layers hold under directory `dir` (in the upper layer), and nothing else. */
export async function makeOpaque(helper: Helper, dir: string): Promise<void> {
  // TODO(05): make `dir` hide everything the lower layers hold below it, and nothing else.
  //   1. overlayfs reads this mark from the directory's extended attributes: which attribute,
  //      and which value does it honour? overlayfs.rst, "whiteouts and opaque directories", or
  //      read the one overlayfs writes itself when you replace a directory through the union
  //      (the chapter text's "Try it").
  //   2. Which directory carries it, so that exactly `dir`'s lower contents vanish? Can Node set
  //      an extended attribute (man 2 setxattr), or only native/helper.ts?
  throw new NotImplementedError('05-layers', 'makeOpaque')
}
// #endregion makeOpaque

// #region isOpaque
/** Does directory `dir` carry overlayfs's opaque mark? */
export async function isOpaque(helper: Helper, dir: string): Promise<boolean> {
  // TODO(05): read the opaque mark back.
  //   1. Only the value overlayfs honours (see makeOpaque) makes a directory opaque.
  //   2. Most directories carry no such attribute at all, and a walk may meet a path that is gone
  //      or cannot be read: which of getxattr's answers (man 2 getxattr, ERRORS) mean "not
  //      opaque", and which mean something else?
  throw new NotImplementedError('05-layers', 'isOpaque')
}
// #endregion isOpaque

// #region changes
/**
 * What a container changed, read from its upper layer alone, as `docker diff` lists it: D for
 * a deleted name, C for a name the lower layers show, A for one they do not. The lower layers
 * are an image's, with the marks its layers left (chapter 06 writes them): what they show is
 * what the kernel shows of them stacked alone. Paths start with "/"; sorted by path, each path
 * once.
 */
export async function changes(helper: Helper, dirs: OverlayDirs): Promise<Change[]> {
  // TODO(05): `docker diff` for a container, from its layers.
  //   1. What the container changed is in its upper dir and nowhere else: the merged view cannot
  //      tell an edit from the original, nor show a deletion.
  //   2. What does overlayfs leave in upper for a name deleted through the union? overlayfs.rst,
  //      "whiteouts and opaque directories", or look at one yourself (the chapter text's "Try
  //      it"): which kind of file is it, and what sets it apart? Nothing else may count as
  //      deleted: the container can make empty files and device nodes of its own.
  //   3. Which lower layers must you ask whether they have a path? A layer's symlinks point at
  //      paths inside the container (often absolute), so on the host they dangle or lead
  //      elsewhere: how do you ask about an entry without following it?
  //   4. The lower layers carry marks of their own: an image's later layer deletes files of an
  //      earlier one and replaces whole directories. Is "some lower layer holds this path" the
  //      same as "the lower layers show it"? What does a mark in a higher lower layer do to the
  //      path, and to the layers below it (overlayfs.rst, "Multiple lower layers" and "whiteouts
  //      and opaque directories")? The kernel's answer is one read-only mount of the lowers away.
  //   5. A directory the container removed and made anew is opaque in upper: what does that say
  //      about the lower layers below it, for this directory and for everything in it? moby's
  //      pkg/archive (changes.go and overlayDeletedFile) reports the same way.
  //   6. Which entries of upper get a line: the directories on the way to a change too? Compare
  //      with `docker diff` on a real container, or moby's changes.go.
  throw new NotImplementedError('05-layers', 'changes')
}
// #endregion changes
