/**
 * Chapter 06: a content-addressable store. A blob's name is the sha256 of its bytes, so a
 * name can be checked against the content at any time, two equal blobs are one file, and a
 * blob that arrives with the wrong bytes is refused before anyone can use it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { blobPath, DigestMismatchError, parseDigest, type Source } from '../../lib/image.ts'

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

