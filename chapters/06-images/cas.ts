/**
 * Chapter 06: a content-addressable store. A blob's name is the sha256 of its bytes, so a
 * name can be checked against the content at any time, two equal blobs are one file, and a
 * blob that arrives with the wrong bytes is refused before anyone can use it.
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { DigestMismatchError, sha256, type Source } from '../../lib/image.ts'

export { DigestMismatchError, sha256, type Source } from '../../lib/image.ts'

// #region parseDigest
/**
 * Check a digest and return its hex part. Only sha256 is accepted, and only as 64 lower-case
 * hex digits: a digest becomes a file name, so anything else (say "sha256:../../etc") must
 * never reach the file system.
 */
export function parseDigest(digest: string): string {
  // TODO(06): check a digest before it becomes a file name.
  //   1. Match /^sha256:([a-f0-9]{64})$/: the algorithm, a colon, 64 lower-case hex digits.
  //   2. Anything else ("sha256:../../etc", upper case, md5:...) throws an Error that quotes the
  //      digest it refused.
  //   3. Return the hex part.
  throw new NotImplementedError('06-images', 'parseDigest')
}
// #endregion parseDigest

/** Where blob `digest` lives in the store at `dir`: dir/sha256/<hex>. */
export function blobPath(dir: string, digest: string): string {
  return join(dir, 'sha256', parseDigest(digest))
}

export function hasBlob(dir: string, digest: string): boolean {
  return existsSync(blobPath(dir, digest))
}

// #region writeBlob
/**
 * Store `source` in the store at `dir` and return its digest and size. The bytes are hashed
 * as they stream into a temporary file, which is renamed into place only when the digest is
 * the `expected` one (when given): a reader never sees a partial or wrong blob, and a
 * mismatch leaves nothing behind. `onData` sees every chunk (for progress).
 */
export async function writeBlob(
  dir: string,
  source: Source,
  expected?: string,
  onData?: (chunk: Uint8Array) => void,
): Promise<{ digest: string; size: number }> {
  // TODO(06): stream bytes into the store, verified before anyone can see them.
  //   1. Check `expected` with parseDigest() first, when given. Make <dir>/tmp and <dir>/sha256.
  //   2. Open a temporary file in <dir>/tmp (createWriteStream); for each chunk of `source`
  //      (a Uint8Array is one chunk): hash.update(chunk), add to the size, call onData, write it
  //      (wait for 'drain' when write() returns false).
  //   3. End the file and await finished(out). digest = "sha256:" + hash.digest('hex').
  //   4. If `expected` was given and differs: throw new DigestMismatchError(expected, digest).
  //   5. Otherwise renameSync the temporary file to blobPath(dir, digest) (a rename is atomic:
  //      readers see the whole blob or none) and return { digest, size }.
  //   6. On any error remove the temporary file, then rethrow.
  throw new NotImplementedError('06-images', 'writeBlob')
}
// #endregion writeBlob

// #region readBlob
/** Read blob `digest`, checking that the bytes still match their name. */
export function readBlob(dir: string, digest: string): Buffer {
  // TODO(06): read a blob and check it again.
  //   1. readFileSync(blobPath(dir, digest)).
  //   2. If sha256(data) is not `digest`, the file changed on disk: throw a DigestMismatchError.
  //   3. Return the data.
  throw new NotImplementedError('06-images', 'readBlob')
}
// #endregion readBlob
