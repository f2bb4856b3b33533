/**
 * Chapter 06: a content-addressable store. A blob's name is the sha256 of its bytes, so a
 * name can be checked against the content at any time, two equal blobs are one file, and a
 * blob that arrives with the wrong bytes is refused before anyone can use it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
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
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest)
  if (!match) throw new Error(`invalid digest "${digest}": expected sha256: and 64 lower-case hex digits`)
  return match[1]!
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
  if (expected !== undefined) parseDigest(expected)
  const tmpDir = join(dir, 'tmp')
  mkdirSync(tmpDir, { recursive: true })
  mkdirSync(join(dir, 'sha256'), { recursive: true })
  const tmp = join(tmpDir, randomBytes(8).toString('hex'))
  const hash = createHash('sha256')
  let size = 0
  const out = createWriteStream(tmp, { mode: 0o644 })
  // the file's own failure (its folder removed, a full disk) comes as an event: kept for the next step
  let failure: Error | undefined
  out.on('error', (error) => (failure ??= error))
  try {
    for await (const chunk of source instanceof Uint8Array ? [source] : source) {
      if (failure) throw failure
      hash.update(chunk)
      size += chunk.length
      onData?.(chunk)
      if (!out.write(chunk)) await once(out, 'drain')
    }
    out.end()
    await finished(out)
    const digest = `sha256:${hash.digest('hex')}`
    if (expected !== undefined && digest !== expected) throw new DigestMismatchError(expected, digest)
    renameSync(tmp, blobPath(dir, digest))
    return { digest, size }
  } catch (error) {
    out.destroy()
    rmSync(tmp, { force: true })
    throw error
  }
}
// #endregion writeBlob

// #region readBlob
/** Read blob `digest`, checking that the bytes still match their name. */
export function readBlob(dir: string, digest: string): Buffer {
  const data = readFileSync(blobPath(dir, digest))
  const actual = sha256(data)
  if (actual !== digest) throw new DigestMismatchError(digest, actual)
  return data
}
// #endregion readBlob
