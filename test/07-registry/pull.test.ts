import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { blobPath } from '#ch/06-images/cas.ts'
import { allImageIds, allLayers, allTags, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { hostPlatform } from '#ch/07-registry/platform.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { InvalidReferenceError } from '#ch/07-registry/reference.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, buildIndex, probeEntries, type Entry, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeValue } from '../support/probe.ts'
import { freePort, pushImage, pushIndex, startRegistry, storedBlobPath, type Registry } from '../support/registry.ts'
import { runImage } from './run-image.ts'
import { loopbackOnly } from './loopback-only.ts'

loopbackOnly()

/** A pull into a fresh store, collecting its progress messages. */
async function pull(reference: string, options: { root?: string; platform?: { os: string; architecture: string }; concurrency?: number } = {}) {
  const root = options.root ?? tempDir('minidocker-store-')
  const messages: JSONMessage[] = []
  const result = await pullImage(reference, { ...options, root, progress: (m) => messages.push(m) })
  return { root, messages, result }
}

/** The statuses reported for one id, each run of repeats ("Downloading" x N) counted once. */
const statusesOf = (messages: JSONMessage[], id: string) =>
  messages.filter((m) => m.id === id).map((m) => m.status).filter((s, i, all) => s !== all[i - 1])

const layerId = (image: TestImage, i: number) => image.layers[i]!.digest.slice(7, 19)

/** The probe and a file naming the platform the image is for. */
const platformImage = (architecture: string, docker = false) =>
  buildImage([[...probeEntries(), { name: 'platform', content: architecture }]], { architecture, docker, config: { Cmd: ['/probe', 'cat:/platform'] } })

const OTHER_ARCH = hostPlatform().architecture === 'amd64' ? 'arm64' : 'amd64'

describeKernel('pulling from a registry', () => {
  let registry: Registry
  let probe: TestImage
  let layered: TestImage
  let several: TestImage
  let corrupt: TestImage
  const platforms: Record<string, TestImage> = {}
  const dockerPlatforms: Record<string, TestImage> = {}

  beforeAll(async () => {
    registry = await startRegistry()
    probe = await buildImage([probeEntries()])
    // layer 2 deletes /etc/group (a whiteout) and replaces /data (an opaque directory)
    layered = await buildImage([
      [...probeEntries(), { name: 'data/' }, { name: 'data/old', content: 'old' }],
      [{ name: 'etc/' }, { name: 'etc/.wh.group' }, { name: 'data/' }, { name: 'data/.wh..wh..opq' }, { name: 'data/new', content: 'new' }],
    ])
    const small = (n: number): Entry[] => [{ name: `f${n}`, content: `layer ${n}\n`.repeat(1000) }]
    several = await buildImage([probeEntries(), small(2), small(3), small(4)])
    corrupt = await buildImage([[...probeEntries(), { name: 'tampered', content: 'x'.repeat(4096) }]])
    // this machine's entry second, so that taking an index's first entry is caught
    for (const arch of [OTHER_ARCH, hostPlatform().architecture]) {
      platforms[arch] = await platformImage(arch)
      dockerPlatforms[arch] = await platformImage(arch, true)
    }
    const entries = (images: Record<string, TestImage>) => Object.entries(images).map(([architecture, image]) => ({ image, os: 'linux', architecture }))
    await pushImage(registry, 'probe', 'latest', probe)
    await pushImage(registry, 'layered', 'v1', layered)
    await pushImage(registry, 'several', 'latest', several)
    await pushImage(registry, 'corrupt', 'latest', corrupt)
    await pushIndex(registry, 'multi', 'latest', buildIndex(entries(platforms)), Object.values(platforms))
    await pushIndex(registry, 'list', 'latest', buildIndex(entries(dockerPlatforms), true), Object.values(dockerPlatforms))
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('pulls the one-layer probe image into the store, tagged, and it runs', async () => {
    const { root, result } = await pull(`${registry.host}/probe`)
    expect(result.id, 'the image ID is the digest of the config pushed').toBe(probe.id)
    expect(result.digest, 'the digest reported is the manifest\'s').toBe(probe.manifest.digest)
    expect(result.name, 'tagged with the familiar name, :latest added').toBe(`${registry.host}/probe:latest`)
    expect(resolveImage(root, `${registry.host}/probe`), 'the store must find the image by its name').toBe(probe.id)
    expect(existsSync(blobPath(storePaths(root).blobs, probe.manifest.digest)), 'the manifest is kept in blobs/').toBe(true)
    const run = await runImage(root, `${registry.host}/probe`)
    expect(run.code, `the pulled image must run; stderr: ${run.stderr}`).toBe(0)
    expect(probeValue<string>(run.stdout, 'hostname'), 'the image\'s own Cmd (probe hostname) ran').toMatch(/^[a-f0-9]{12}$/)
  })

  it('reports Docker\'s progress messages, in Docker\'s order', async () => {
    const { messages } = await pull(`${registry.host}/probe`)
    const id = layerId(probe, 0)
    expect(messages[0], 'first "Pulling from <the repository\'s path in its registry>" with the tag as id: a bare { status, id }, without progressDetail (pullImage\'s doc comment)').toEqual({ status: 'Pulling from probe', id: 'latest' })
    expect(statusesOf(messages, id), `the layer's lines, by its 12-digit short digest ${id}`).toEqual([
      'Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete',
    ])
    const size = probe.layers[0]!.size
    const downloads = messages.filter((m) => m.id === id && m.status === 'Downloading')
    expect(downloads.at(-1)?.progressDetail, 'the last "Downloading" counts every byte of the blob').toEqual({ current: size, total: size })
    expect(downloads.at(-1)?.progress, 'with moby\'s bar as text').toMatch(/^\[=+>\] +\S+\/\S+$/)
    expect(messages.at(-2), 'then the digest of what was pulled, as a bare { status } (not a statusMessage(): see pullImage\'s doc comment)').toEqual({ status: `Digest: ${probe.manifest.digest}` })
    expect(messages.at(-1), 'and last the status line with the name it is tagged with, a bare { status } too').toEqual({ status: `Status: Downloaded newer image for ${registry.host}/probe:latest` })
  })

  it('skips what the store has: a second pull downloads nothing', async () => {
    const { root } = await pull(`${registry.host}/probe`)
    const again = await pull(`${registry.host}/probe`, { root })
    expect(again.result.downloaded, 'every layer is in the store already').toBe(0)
    expect(statusesOf(again.messages, layerId(probe, 0)), 'as dockerd does, a pull of an image the store has stops after the manifest: no line per layer').toEqual([])
    expect(again.messages.at(-1)?.status, 'nothing new: "Image is up to date"').toBe(`Status: Image is up to date for ${registry.host}/probe:latest`)
    expect(allLayers(root), 'nothing is stored twice').toHaveLength(1)
  })

  it('downloads several layers at once, skipping a shared base layer, and unpacks them in order', async () => {
    const { root } = await pull(`${registry.host}/probe`)
    let pulled: Awaited<ReturnType<typeof pull>> | undefined
    const error = await caught(async () => (pulled = await pull(`${registry.host}/several`, { root, concurrency: 2 })))
    if (error) expect.fail(`pulling a 4-layer image failed: ${error.message} — a layer can only be registered on its parent, so unpack them bottom first, in the manifest's order`)
    const { messages, result } = pulled!
    expect(result.id, 'the image ID is the digest of the config pushed').toBe(several.id)
    expect(result.downloaded, 'the probe layer is the same as the probe image\'s: only 3 of 4 are fetched').toBe(3)
    expect(statusesOf(messages, layerId(several, 0))).toEqual(['Already exists'])
    const waited = [1, 2, 3].filter((i) => statusesOf(messages, layerId(several, i)).includes('Waiting'))
    expect(waited, 'with 2 downloads at a time, one of the 3 layers to fetch must queue and say "Waiting"').toHaveLength(1)
    for (const i of [1, 2, 3]) expect(statusesOf(messages, layerId(several, i)).at(-1), `layer ${i} must end "Pull complete"`).toBe('Pull complete')
    const run = await runImage(root, `${registry.host}/several`, ['/probe', 'ls:/'])
    expect(probeValue<string[]>(run.stdout, 'ls'), `every layer's file is in the container; stderr: ${run.stderr}`).toEqual(expect.arrayContaining(['f2', 'f3', 'f4', 'probe']))
  })

  it('applies a layer\'s whiteout and opaque directory, so the container sees them', async () => {
    const { root, result } = await pull(`${registry.host}/layered:v1`)
    expect(result.id, 'the image ID is the digest of the config pushed').toBe(layered.id)
    const data = await runImage(root, `${registry.host}/layered:v1`, ['/probe', 'ls:/data', 'ls:/etc'])
    expect(data.code, data.stderr).toBe(0)
    const [dataList, etcList] = data.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { ls: string[] }).ls)
    expect(dataList, 'the opaque /data of layer 2 hides layer 1\'s /data/old').toEqual(['new'])
    expect(etcList, 'layer 2\'s .wh.group deletes /etc/group').not.toContain('group')
    expect(etcList, '...and nothing else in /etc').toContain('passwd')
  })

  it('refuses a --platform that a single-platform image is not for', async () => {
    const other = hostPlatform().architecture === 's390x' ? 'riscv64' : 's390x'
    const error = await caught(() => pull(`${registry.host}/probe`, { platform: { os: 'linux', architecture: other } }))
    expect(error?.message, 'an image without an index cannot be chosen by platform, so it must be checked against the one asked for').toMatch(new RegExp(`not the linux/${other} asked for`))
  })

  it('picks this machine\'s image from an OCI index, or the one --platform names', async () => {
    const { root, result } = await pull(`${registry.host}/multi`)
    expect(result.id, `the index has linux/${OTHER_ARCH} first, then linux/${hostPlatform().architecture}: select this machine's entry, not the first`).toBe(platforms[hostPlatform().architecture]!.id)
    const run = await runImage(root, `${registry.host}/multi`)
    expect(probeValue(run.stdout, 'cat'), run.stderr).toBe(hostPlatform().architecture)
    const other = await pull(`${registry.host}/multi`, { platform: { os: 'linux', architecture: OTHER_ARCH } })
    expect(other.result.id, 'an explicit platform picks its entry, not this machine\'s').toBe(platforms[OTHER_ARCH]!.id)
    const missing = await caught(() => pull(`${registry.host}/multi`, { platform: { os: 'linux', architecture: 's390x' } }))
    expect(missing?.message, 'a platform the index lacks is an error in Docker\'s words').toContain('no matching manifest for linux/s390x')
  })

  it('picks this machine\'s image from a Docker manifest list of Docker schema 2 manifests', async () => {
    const { root, result } = await pull(`${registry.host}/list`)
    expect(result.id, 'the manifest list\'s entry for this machine').toBe(dockerPlatforms[hostPlatform().architecture]!.id)
    const run = await runImage(root, `${registry.host}/list`)
    expect(probeValue(run.stdout, 'cat'), run.stderr).toBe(hostPlatform().architecture)
  })

  it('pulls by digest, and verifies the manifest against it', async () => {
    const ref = `${registry.host}/probe@${probe.manifest.digest}`
    const { root, result } = await pull(ref)
    expect(result.id, 'the image the digest names').toBe(probe.id)
    expect(allTags(root).map(([name]) => name), 'a pull by digest records the name with its digest').toEqual([ref])
    const wrong = `${registry.host}/probe@${layered.manifest.digest}`
    const error = await caught(() => pull(wrong))
    expect(error?.message, 'that digest is not in the probe repository: the registry says so').toMatch(/not found|unknown/i)
  })

  it('refuses a blob whose bytes do not match its digest, says which, and stores nothing', async () => {
    const layer = corrupt.layers[0]!
    const onDisk = storedBlobPath(registry, layer.digest)
    const original = readFileSync(onDisk)
    const tampered = Buffer.from(original)
    tampered[tampered.length >> 1] ^= 0xff
    writeFileSync(onDisk, tampered)
    try {
      const root = tempDir('minidocker-store-')
      const error = await caught(() => pullImage(`${registry.host}/corrupt`, { root }))
      expect(error?.name, 'a blob that does not hash to its digest is a DigestMismatchError').toBe('DigestMismatchError')
      expect(error.message, 'the error names the digest that was expected').toContain(layer.digest)
      expect(existsSync(blobPath(storePaths(root).blobs, layer.digest)), 'nothing may be stored under the layer\'s digest').toBe(false)
      expect(allLayers(root), 'no layer may be registered from bad bytes').toEqual([])
      expect(allImageIds(root), 'and no image').toEqual([])
      expect(allTags(root), 'and no tag').toEqual([])
    } finally {
      writeFileSync(onDisk, original)
    }
  })

  it('says what is missing: an unknown tag, an unreachable registry', async () => {
    const unknown = await caught(() => pull(`${registry.host}/probe:nope`))
    expect(unknown?.message, 'Docker says "manifest for <name> not found"').toContain(`manifest for ${registry.host}/probe:nope not found`)
    // a port just freed, so nothing listens there (fetch refuses port 1 without trying it)
    const port = await freePort()
    const closed = await caught(() => pull(`127.0.0.1:${port}/probe`))
    expect(closed?.message, 'a registry that cannot be reached is named with the URL tried').toContain(`http://127.0.0.1:${port}/v2/`)
    expect(closed?.message, 'the reason is that the connection was refused, not a port fetch will not use').toMatch(/ECONNREFUSED|refused/)
  })

  it('refuses an invalid reference before any request', async () => {
    const error = await caught(() => pull(`${registry.host}/Probe`))
    expect(error, 'upper case in a repository name is invalid').toBeInstanceOf(InvalidReferenceError)
  })
})

describeKernel('pulling from a registry that wants a token', () => {
  let registry: Registry
  let probe: TestImage

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' })
    probe = await buildImage([probeEntries()])
    await pushImage(registry, 'library/probe', 'latest', probe)
    await pushImage(registry, 'private/probe', 'latest', probe)
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('answers the 401 challenge with a token from the realm, for the service and scope, and pulls', async () => {
    const before = registry.tokens!.requests.length
    let pulled: Awaited<ReturnType<typeof pull>> | undefined
    const error = await caught(async () => (pulled = await pull(`${registry.host}/library/probe`)))
    expect(registry.tokens!.requests.slice(before), 'after the 401 from /v2/, one token request, naming the service from the challenge and the pull scope of the repository path (repository:library/probe:pull)').toEqual([
      { service: 'minidocker-test-registry', scope: 'repository:library/probe:pull', granted: true },
    ])
    if (error) expect.fail(`the token was granted, but the pull failed: ${error.message} — every request after the 401, for manifests and blobs alike, must carry the token (see "Where the registry is, and the token flow")`)
    const { root, result } = pulled!
    expect(result.id, 'the image behind the token flow').toBe(probe.id)
    const run = await runImage(root, `${registry.host}/library/probe`)
    expect(run.code, run.stderr).toBe(0)
  })

  it('reports a repository the token does not grant as Docker does', async () => {
    const error = await caught(() => pull(`${registry.host}/private/probe`))
    expect(error?.message, 'a 401 with a token is "pull access denied"').toContain(`pull access denied for ${registry.host}/private/probe`)
  })
})
