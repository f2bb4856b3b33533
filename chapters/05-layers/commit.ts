/**
 * Chapter 05: what `docker commit` archives. A container's changes are its upper directory;
 * an image layer is a tar in which a deletion is a `.wh.NAME` file and a replaced directory
 * carries a `.wh..wh..opq` file (the image spec's spelling, aufs' marks). So committing turns
 * overlayfs's marks back into those names, the inverse of what chapter 06 does when it applies
 * a layer.
 *
 * Check your work with `npx workbook check 5`.
 */
import { createReadStream, lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar, { type Header } from 'tar-stream'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Helper } from '../../native/helper.ts'
import { isOpaque } from './whiteout.ts'

// #region diffTar
/**
 * Write to `out` the layer tar of the changes held in `upper`, a container's upper directory,
 * as moby's overlay2 driver archives it for `docker commit`: every entry of upper under its path
 * relative to upper (directories ending in "/"), with its owner, mode and mtime; a whiteout as an
 * empty `DIR/.wh.NAME` file; an opaque directory as its own entry followed by an empty
 * `DIR/.wh..wh..opq`; a second path of an inode already written as a hard link to the first; a
 * directory before anything inside it. Extended attributes are not carried. Resolves when the
 * whole tar, end blocks included, is written to `out`; rejects with the first failure.
 */
export async function diffTar(helper: Helper, upper: string, out: Writable): Promise<void> {
  // TODO(05): `docker commit`'s layer, from the container's upper directory alone.
  //   1. Every entry of upper is a change; what does each kind become in a layer tar? overlayfs's
  //      own marks (chapter text, "Whiteouts") mean nothing to another machine's unpacker: which
  //      names stand for them in the image format, and where does each go? moby's
  //      pkg/archive/archive_linux.go, overlayWhiteoutConverter.ConvertWrite; chapter 06's
  //      applyLayer reads them back.
  //   2. Never a mark copied as what it is on disk: a device 0/0 in a layer is a device, an xattr
  //      nobody carries is lost. And never a mark where there is none: the container can make
  //      devices of its own.
  //   3. Two names of one inode: how does a tar keep them one file, which name must come first,
  //      and how do you know two paths are one inode (man 7 inode)? A link count above 1 alone
  //      does not say the other name is in upper. Look at a whiteout's link count (the text's
  //      "Try it") before you decide what counts as linked. moby's tarAppender.addTarFile.
  //   4. An unpacker makes entries in the order it reads them: what must come before what?
  //   5. The tar's end: how does `out` learn the tar is complete, and how does a failure half-way
  //      reach your caller rather than leave `out` waiting? tar-stream's README (pack, entry).
  //      The chapter text's "Committing a container".
  throw new NotImplementedError('05-layers', 'diffTar')
}
// #endregion diffTar
