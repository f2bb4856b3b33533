import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { execa } from 'execa'
import { beforeAll, describe, expect, it } from 'vitest'
import { blobPath, DigestMismatchError, parseDigest, readBlob, writeBlob } from '#ch/06-images/cas.ts'
import { chainId, chainIds, imageId } from '#ch/06-images/ids.ts'
import { caught, within } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { mountNamespace } from '../support/mountns.ts'
import { CTR } from '../support/containerd.ts'
import { startContainerd, type Daemon } from '../support/daemons.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, sha256, tarFolder, writeDockerSave, type TestImage } from '../support/images.ts'

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'

describe('the content-addressable store', () => {
  it('parseDigest of a good digest and of malformed ones', () => {
    expect(parseDigest(HELLO)).toBe(HELLO.slice(7))
    for (const bad of ['sha256:../../etc/passwd', 'sha256:ABC', 'md5:' + 'a'.repeat(32), HELLO.slice(7), `${HELLO}0`])
      expect(() => parseDigest(bad), `"${bad}" must be refused: a digest becomes a file name`).toThrow(bad)
  })

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
    expect(existsSync(blobPath(dir, sha256('tampered'))), 'a blob is stored under the actual digest: did it get its name before or after its digest was compared? (chapter text, "A store named by content")').toBe(false)
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

/**
 * The chain IDs the real containerd gives three stacked layers, bottom first: it imports a
 * `docker save` archive of them into a private containerd, unpacks it (native snapshotter, no
 * mounts), and `ctr snapshots ls` names each committed layer by its chain ID, with its parent's.
 */
async function containerdChainIds(image: TestImage): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-chain-'))
  let containerd: Daemon | undefined
  try {
    const archive = join(dir, 'archive')
    mkdirSync(archive)
    writeDockerSave(archive, [{ image, tags: ['chain:ids'] }])
    writeFileSync(join(dir, 'image.tar'), await tarFolder(archive))
    containerd = await startContainerd(join(dir, 'containerd'))
    const ctr = (...args: string[]) => execa(CTR, ['--address', containerd!.socket, '--namespace', 'chain', ...args])
    await ctr('images', 'import', '--snapshotter', 'native', '--platform', `linux/${hostArch}`, join(dir, 'image.tar'))
    const { stdout } = await ctr('snapshots', '--snapshotter', 'native', 'ls')
    const parentOf = new Map(stdout.split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((f) => f[0]).map(([key, parent, kind]) => [key!, kind === undefined ? '' : parent!]))
    const chain: string[] = []
    for (let below = ''; ; ) {
      const next = [...parentOf].find(([, parent]) => parent === below)?.[0]
      if (next === undefined) return chain
      chain.push(next)
      below = next
    }
  } finally {
    await containerd?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const hostArch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch

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

describeKernel('diff IDs, chain IDs and image IDs', () => {
  let d1: string, d2: string, d3: string
  let real: string[] // containerd's chain IDs of d1, d2, d3 stacked
  beforeAll(async () => {
    const image = await buildImage([[{ name: 'one', content: 'layer one' }], [{ name: 'two', content: 'layer two' }], [{ name: 'three', content: 'layer three' }]], { architecture: hostArch })
    ;[d1, d2, d3] = image.layers.map((l) => l.diffId) as [string, string, string]
    real = await containerdChainIds(image)
    expect(real, 'containerd unpacked the three layers').toHaveLength(3)
  }, 60_000)

  it('chainId and chainIds of a bottom layer', () => {
    const bottom = 'the bottom layer\'s chain ID, compared with the one the real containerd gives it: what does the OCI image spec (config.md, "Layer ChainID") make of a layer with no parent?'
    expect(chainId(undefined, d1), bottom).toBe(real[0])
    expect(chainIds([d1]), bottom).toEqual([real[0]])
  })

  it('chainId and chainIds of three stacked layers', () => {
    expect(chainId(real[0], d2), 'chainId of the second layer, compared with the real containerd\'s: which exact text is hashed, with which separator? (OCI image spec, config.md, "Layer ChainID")').toBe(real[1])
    expect(chainIds([d1, d2, d3]), 'chainIds of three layers, compared with the real containerd\'s: which ID of the layer below went into the third chain ID? (chapter text, "Diff IDs, chain IDs and the image ID")').toEqual(real)
  })
})

describe('image IDs', () => {
  it('imageId of an indented config, as text and as bytes', () => {
    // as a registry or an archive may deliver it: indented, keys in no particular order
    const json = '{\n  "rootfs": {"type": "layers", "diff_ids": []},\n  "os": "linux", "architecture": "amd64"\n}\n'
    const exactly = 'an indented config, keys in no particular order: what happened to its bytes before they were hashed? (chapter text, "Diff IDs, chain IDs and the image ID")'
    expect(imageId(json), exactly).toBe(sha256(json))
    expect(imageId(Buffer.from(json)), exactly).toBe(sha256(json))
  })
})
