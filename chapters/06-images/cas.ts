/**
 * Chapter 06: a content-addressable store. A blob's name is the sha256 of its bytes, so a
 * name can be checked against the content at any time, two equal blobs are one file, and a
 * blob that arrives with the wrong bytes is refused before anyone can use it.
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Source } from '../../lib/image.ts'

// Given (lib/image.ts): the digest check every name passes (parseDigest), where a blob lives
// (blobPath, hasBlob) and reading one back with its digest checked again (readBlob).
export { blobPath, DigestMismatchError, hasBlob, parseDigest, readBlob, sha256, type Source } from '../../lib/image.ts'

// #region writeBlob
/**
 * Store `source` in the store at `dir` and return its digest and size. A reader never sees a
 * partial or wrong blob; bytes whose digest is not `expected` (when given) are refused with a
 * DigestMismatchError and leave nothing behind. `onData` sees every chunk (for progress).
 */
export async function writeBlob(
  dir: string,
  source: Source,
  expected?: string,
  onData?: (chunk: Uint8Array) => void,
): Promise<{ digest: string; size: number }> {
  // TODO(06): stream bytes into the store so that no reader ever sees a wrong or partial blob.
  //   1. The digest is known only after the last byte, yet the bytes must go somewhere while
  //      they stream, and a reader may look into the store at any of those moments: what may
  //      it find there, and under which name?
  //   2. Hash and count every chunk as it passes, show it to onData, and do not outrun the disk
  //      (a write stream tells you when to wait).
  //   3. Decide before the blob becomes visible: only a digest equal to `expected` (when given)
  //      may get a name under sha256/. A mismatch is a DigestMismatchError(expected, actual).
  //   4. Whatever fails (a mismatch, a source that errors, the disk), nothing stays: no blob under
  //      either digest, no temporary file. The disk can fill while you write: how does a write
  //      stream tell of a write that failed, and what happens to a process when nobody listens?
  //   Where: "A store named by content" in README.md; containerd's
  //   plugins/content/local/writer.go (Commit).
  throw new NotImplementedError('06-images', 'writeBlob')
}
// #endregion writeBlob

