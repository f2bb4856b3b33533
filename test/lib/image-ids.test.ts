/**
 * Chapter 06's given digests and IDs (lib/image.ts) and the given image records
 * (lib/image-store.ts): the digest gate, the chain IDs beside the real containerd's, the image
 * ID of a config as it came, and addImage's check of the layer store.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { beforeAll, describe, expect, it } from 'vitest'
import { chainId, chainIds, imageId, parseDigest, storePaths } from '../../lib/image.ts'
import { addImage } from '../../lib/image-store.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { CTR } from '../support/containerd.ts'
import { startContainerd, type Daemon } from '../support/daemons.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, sha256, tarFolder, writeDockerSave, type TestImage } from '../support/images.ts'

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'

describe('digests', () => {
  it('parseDigest of a good digest and of malformed ones', () => {
    expect(parseDigest(HELLO)).toBe(HELLO.slice(7))
    for (const bad of ['sha256:../../etc/passwd', 'sha256:ABC', 'md5:' + 'a'.repeat(32), HELLO.slice(7), `${HELLO}0`])
      expect(() => parseDigest(bad), `"${bad}" must be refused: a digest becomes a file name`).toThrow(bad)
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

describe('image records', () => {
  it('addImage of a config whose layer is not stored', async () => {
    const root = tempDir()
    const image = await buildImage([[{ name: 'etc/' }, { name: 'etc/os-release', content: 'base\n' }]])
    const error = await caught(() => addImage(root, image.config.data, ['orphan']))
    expect(error, 'addImage() must check every chain ID against the layer store').toBeInstanceOf(Error)
    expect(error.message).toContain(image.layers[0]!.diffId)
    expect(existsSync(join(storePaths(root).imagedb, 'sha256', image.id.slice(7))), 'no config may be stored').toBe(false)
  })
})
