/**
 * Chapter 05: what `docker commit` archives. A container's changes are its upper directory, and
 * an image layer is a tar that must mean the same on any machine, whatever its storage driver:
 * committing writes the one as the other, the inverse of what chapter 06 does when it applies a
 * layer.
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
 * Write to `out` the layer tar of the changes held in `upper`, a container's upper directory: the
 * layer `docker commit` makes of it, as moby's overlay2 driver and pkg/archive write it (the
 * overlay whiteout format). A real dockerd or containerd that unpacks the tar onto the image's
 * layers must come to the same tree the container saw. Resolves when the whole tar is written to
 * `out`; rejects with the first failure.
 */
export async function diffTar(helper: Helper, upper: string, out: Writable): Promise<void> {
  // TODO(05): `docker commit`'s layer, from the container's upper directory alone.
  //   1. Every entry of upper is a change, but some are overlayfs's marks, which mean something
  //      only to overlayfs. What stands for a deletion and for a replaced directory in a layer
  //      tar, and where does each go? The image spec's layer.md ("Whiteouts", "Opaque
  //      Whiteout"); moby's pkg/archive/archive_linux.go, overlayWhiteoutConverter.ConvertWrite.
  //   2. A mark must never go in as what it is on disk, and nothing that is not a mark may turn
  //      into one: the container can make files of every kind itself.
  //   3. One inode with two names must unpack as one inode with two names, its data stored
  //      once. How do you know two paths are one inode (man 7 inode), and are all such paths in
  //      upper what they seem? moby's tarAppender.addTarFile.
  //   4. An unpacker makes each entry as it reads it: what must it have read before?
  //   5. `out` is read while you write: how does its reader learn the tar is complete, and how
  //      does a failure half-way reach your caller rather than leave the reader waiting?
  //      tar-stream's README (pack, entry). The chapter text's "Committing a container".
  throw new NotImplementedError('05-layers', 'diffTar')
}
// #endregion diffTar
