import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { blobPath, DigestMismatchError, parseDigest, readBlob, writeBlob } from '#ch/06-images/cas.ts'
import { chainId, chainIds, imageId } from '#ch/06-images/ids.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { sha256 } from '../support/images.ts'

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'

describe('the content-addressable store', () => {
  it('accepts only sha256 digests of 64 lower-case hex digits', () => {
    expect(parseDigest(HELLO)).toBe(HELLO.slice(7))
    for (const bad of ['sha256:../../etc/passwd', 'sha256:ABC', 'md5:' + 'a'.repeat(32), HELLO.slice(7), `${HELLO}0`])
      expect(() => parseDigest(bad), `"${bad}" must be refused: a digest becomes a file name`).toThrow(bad)
  })

  it('names a blob by the sha256 of its bytes', async () => {
    const dir = tempDir()
    const { digest, size } = await writeBlob(dir, Buffer.from('hello'))
    expect(digest).toBe(HELLO)
    expect(size).toBe(5)
    expect(readFileSync(join(dir, 'sha256', HELLO.slice(7)), 'utf8'), 'the blob lives at <dir>/sha256/<hex>').toBe('hello')
  })

  it('hashes a stream while writing it and verifies it against the expected digest', async () => {
    const dir = tempDir()
    const seen: number[] = []
    const source = Readable.from([Buffer.from('hel'), Buffer.from('lo')])
    const { digest } = await writeBlob(dir, source, HELLO, (chunk) => seen.push(chunk.length))
    expect(digest).toBe(HELLO)
    expect(seen, 'onData must see every chunk as it streams (chapter 07 draws progress with it)').toEqual([3, 2])
    expect(readBlob(dir, HELLO).toString()).toBe('hello')
  })

  it('refuses bytes that do not match the expected digest, names both digests and stores nothing', async () => {
    const dir = tempDir()
    const error = await caught(() => writeBlob(dir, Buffer.from('tampered'), HELLO))
    expect(error, 'a mismatch is a DigestMismatchError').toBeInstanceOf(DigestMismatchError)
    expect(error.message).toContain(HELLO)
    expect(error.message).toContain(sha256('tampered'))
    expect(existsSync(blobPath(dir, HELLO)), 'nothing may be stored under the expected digest').toBe(false)
    expect(existsSync(blobPath(dir, sha256('tampered'))), 'nor under the actual one: was the blob renamed into place before its digest was compared?').toBe(false)
    const leftovers = readdirSync(dir, { recursive: true }).filter((f) => !['sha256', 'tmp'].includes(String(f)))
    expect(leftovers, 'no temporary file may be left behind').toEqual([])
  })

  it('checks a blob again when reading it', async () => {
    const dir = tempDir()
    await writeBlob(dir, Buffer.from('hello'))
    const { writeFileSync } = await import('node:fs')
    writeFileSync(blobPath(dir, HELLO), 'corrupted on disk')
    expect(() => readBlob(dir, HELLO), 'a blob changed on disk must not be trusted').toThrow(DigestMismatchError)
  })
})

describe('diff IDs, chain IDs and image IDs', () => {
  const d1 = sha256('layer one')
  const d2 = sha256('layer two')
  const d3 = sha256('layer three')

  it('gives the bottom layer its diff ID as chain ID', () => {
    const bottom = 'the bottom layer\'s chain ID is its diff ID itself, not hashed again'
    expect(chainId(undefined, d1), bottom).toBe(d1)
    expect(chainIds([d1]), bottom).toEqual([d1])
  })

  it('chains each next layer as sha256("<parent chain> <diff>")', () => {
    const c2 = sha256(`${d1} ${d2}`)
    expect(chainId(d1, d2), 'sha256 of "<parent chain ID> <diff ID>", both with their "sha256:" prefix and one space between them').toBe(c2)
    expect(chainIds([d1, d2, d3]), 'each chain ID hashes the chain ID below (not the diff ID below) with its own diff ID').toEqual([d1, c2, sha256(`${c2} ${d3}`)])
  })

  it('takes the image ID from the config bytes exactly as stored', () => {
    // as a registry or an archive may deliver it: indented, keys in no particular order
    const json = '{\n  "rootfs": {"type": "layers", "diff_ids": []},\n  "os": "linux", "architecture": "amd64"\n}\n'
    const exactly = 'the image ID is the sha256 of the config bytes as given: were they parsed and serialised again?'
    expect(imageId(json), exactly).toBe(sha256(json))
    expect(imageId(Buffer.from(json)), exactly).toBe(sha256(json))
  })
})
