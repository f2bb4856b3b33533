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
import type { Helper } from '../../native/helper.ts'
import { isOpaque, makeOpaque, makeWhiteout } from '../../lib/overlay-marks.ts'
import type { OverlayDirs } from './overlay.ts'

// Given (lib/overlay-marks.ts): overlayfs's two marks, made and read by the helper.
export { isOpaque, makeOpaque, makeWhiteout }

/** One line of `docker diff`: A added, C changed, D deleted. */
export interface Change {
  kind: 'A' | 'C' | 'D'
  /** absolute inside the container, e.g. "/etc/hosts" */
  path: string
}

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
