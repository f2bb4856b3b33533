import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { execa } from 'execa'
import { beforeAll, describe, expect, it } from 'vitest'
import { blobPath, DigestMismatchError, readBlob, writeBlob } from '#ch/06-images/cas.ts'
import { caught, within } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { mountNamespace } from '../support/mountns.ts'
import { CTR } from '../support/containerd.ts'
import { startContainerd, type Daemon } from '../support/daemons.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, sha256, tarFolder, writeDockerSave, type TestImage } from '../support/images.ts'

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'

describe('the content-addressable store', () => {
  it('writeBlob of the bytes "hello"', async () => {
    const dir = tempDir()
    const { digest, size } = await writeBlob(dir, Buffer.from('hello'))
    expect(digest).toBe(HELLO)
    expect(size).toBe(5)
    expect(readFileSync(join(dir, 'sha256', HELLO.slice(7)), 'utf8'), 'the blob lives at <dir>/sha256/<hex>').toBe('hello')
  })

  it('writeBlob of a stream in two chunks, with its expected digest and onData', async () => {
    const dir = tempDir()
    const seen: number[] = []
    const source = Readable.from([Buffer.from('hel'), Buffer.from('lo')])
    const { digest } = await writeBlob(dir, source, HELLO, (chunk) => seen.push(chunk.length))
    expect(digest).toBe(HELLO)
    expect(seen, 'onData must see every chunk as it streams (chapter 07 draws progress with it)').toEqual([3, 2])
    expect(readBlob(dir, HELLO).toString()).toBe('hello')
  })

  it('writeBlob of bytes that are not the expected digest', async () => {
    const dir = tempDir()
    const error = await caught(() => writeBlob(dir, Buffer.from('tampered'), HELLO))
    expect(error, 'a mismatch is a DigestMismatchError').toBeInstanceOf(DigestMismatchError)
    expect(error.message).toContain(HELLO)
    expect(error.message).toContain(sha256('tampered'))
    expect(existsSync(blobPath(dir, HELLO)), 'nothing may be stored under the expected digest').toBe(false)
    expect(existsSync(blobPath(dir, sha256('tampered'))), 'bytes refused for their digest are stored under their actual digest: what could a reader have found under sha256/ while they were being refused? (chapter text, "A store named by content")').toBe(false)
    const leftovers = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name))
    expect(leftovers, 'a refused blob leaves no file anywhere in the store, whatever its name').toEqual([])
  })

  it('readBlob of a blob changed on disk', async () => {
    const dir = tempDir()
    await writeBlob(dir, Buffer.from('hello'))
    const { writeFileSync } = await import('node:fs')
    writeFileSync(blobPath(dir, HELLO), 'corrupted on disk')
    expect(() => readBlob(dir, HELLO), 'a blob changed on disk must not be trusted').toThrow(DigestMismatchError)
  })
})


describeKernel('a store on a full disk', () => {
  it('writeBlob of 1 MiB into a store on a file system of 256 KiB', async () => {
    // the test's own tmpfs, mounted only in a mount namespace of its own, reached through its helper's root
    const ns = await mountNamespace()
    const disk = tempDir('minidocker-disk-')
    await ns.mount('-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk)
    const store = ns.inside(disk)
    const uncaught: unknown[] = []
    const keep = (error: unknown) => uncaught.push(error)
    process.on('uncaughtException', keep)
    try {
      const chunks = async function* () {
        for (let i = 0; i < 16; i++) yield Buffer.alloc(65536, i)
      }
      const error = await within(caught(() => writeBlob(store, chunks())), 10_000)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(uncaught.map(String), 'the disk filled while writeBlob wrote, and the error reached nobody: where does a write stream report a failed write, and who was listening?').toEqual([])
      expect(error, 'writeBlob had not ended 10 s after its source did: what does a write stream that has failed never emit again?').not.toBe('late')
      expect((error as NodeJS.ErrnoException | undefined)?.code, 'writeBlob onto a full disk: the file system\'s own error, ENOSPC, as its rejection').toBe('ENOSPC')
      expect(readdirSync(store, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => e.name), 'a blob that could not be written leaves no file in the store').toEqual([])
    } finally {
      process.off('uncaughtException', keep)
    }
  })
})
