/**
 * Chapter 06: a content-addressable store. A blob's name is the sha256 of its bytes, so a
 * name can be checked against the content at any time, two equal blobs are one file, and a
 * blob that arrives with the wrong bytes is refused before anyone can use it.
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DigestMismatchError, sha256, type Source } from '../../lib/image.ts'

export { DigestMismatchError, sha256, type Source } from '../../lib/image.ts'

// #region parseDigest
/**
 * Check a digest and return its hex part. Only sha256 is accepted, and only as 64 lower-case
 * hex digits: a digest becomes a file name, so anything else (say "sha256:../../etc") must
 * never reach the file system.
 */
export function parseDigest(digest: string): string {
  // TODO(06): the gate every digest passes before it becomes a file name.
  //   1. Accept exactly one form: the algorithm "sha256", a colon, and the hash as lower-case hex
  //      of the length a sha256 has. Anything else (another algorithm, upper case, a short or long
  //      hash, "sha256:../../etc") throws an Error that quotes the digest it refused.
  //   2. Return only the hex part: that is the file name.
  //   Where: the OCI image spec, descriptor.md ("Digests"); go-digest's Digest.Validate(), which
  //   containerd and moby call on every digest they are given.
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
  //      they stream: where can they wait, unseen by readers, on the same file system as sha256/?
  //   2. Hash and count every chunk as it passes, show it to onData, and do not outrun the disk
  //      (a write stream tells you when to wait).
  //   3. Decide before the blob becomes visible: only a digest equal to `expected` (when given)
  //      may get a name under sha256/. A mismatch is a DigestMismatchError(expected, actual).
  //   4. Whatever fails (a mismatch, a source that errors, the disk), nothing stays: no blob under
  //      either digest, no temporary file. The disk can fill while you write: how does a write
  //      stream tell of a write that failed, and what happens to a process when nobody listens?
  //   Where: "A store named by content" in README.md; containerd's
  //   plugins/content/local/writer.go (Commit); rename(2) on what atomic means.
  throw new NotImplementedError('06-images', 'writeBlob')
}
// #endregion writeBlob

// #region readBlob
/** Read blob `digest`, checking that the bytes still match their name. */
export function readBlob(dir: string, digest: string): Buffer {
  // TODO(06): read a blob, trusting nothing.
  //   1. A blob on disk is as untrusted as one from the wire: before returning its bytes, check
  //      them against the name they were asked for; a difference is a DigestMismatchError.
  throw new NotImplementedError('06-images', 'readBlob')
}
// #endregion readBlob
