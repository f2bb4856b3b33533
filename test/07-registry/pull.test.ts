import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { blobPath } from '#ch/06-images/cas.ts'
import { allImageIds, allLayers, allTags, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { hostPlatform } from '../../lib/platform.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { InvalidReferenceError } from '../../lib/reference.ts'
import { Slots } from '../../lib/slots.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, buildIndex, probeEntries, type Entry, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeValue } from '../support/probe.ts'
import { freePort, pushImage, pushIndex, startRegistry, storedBlobPath, type Registry } from '../support/registry.ts'
import { runImage } from './run-image.ts'
import { loopbackOnly } from './loopback-only.ts'
import { interpose } from './interposer.ts'

loopbackOnly()

/** A pull into a fresh store, collecting its progress messages. */
async function pull(reference: string, options: { root?: string; platform?: { os: string; architecture: string }; slots?: Slots } = {}) {
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
    expect(result.id, 'expected the ID of the image pushed').toBe(probe.id)
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
    expect(messages[0], 'first "Pulling from <the repository\'s path in its registry>" with the tag as id: as docker pull sends it (the header of lib/pull-progress.ts)').toEqual({ status: 'Pulling from probe', id: 'latest' })
    expect(statusesOf(messages, id), `the layer's lines, by its 12-digit short digest ${id}`).toEqual([
      'Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete',
    ])
    const size = probe.layers[0]!.size
    const downloads = messages.filter((m) => m.id === id && m.status === 'Downloading')
    expect(downloads.at(-1)?.progressDetail, 'the last "Downloading" counts every byte of the blob').toEqual({ current: size, total: size })
    expect(downloads.at(-1)?.progress, 'with moby\'s bar as text').toMatch(/^\[=+>\] +\S+\/\S+$/)
    expect(messages.at(-2), 'then the digest of what was pulled, as docker pull sends it: which fields does its line have?').toEqual({ status: `Digest: ${probe.manifest.digest}` })
    expect(messages.at(-1), 'and last the status line with the name it is tagged with, as docker pull sends it too').toEqual({ status: `Status: Downloaded newer image for ${registry.host}/probe:latest` })
  })

  it('a second pull of the same image', async () => {
    const { root } = await pull(`${registry.host}/probe`)
    const again = await pull(`${registry.host}/probe`, { root })
    expect(again.result.downloaded, 'the second pull downloaded layers the store had').toBe(0)
    expect(statusesOf(again.messages, layerId(probe, 0)), 'the second pull printed lines for the layer: what does docker pull print for an image it has? (see "The real thing")').toEqual([])
    expect(again.messages.at(-1)?.status, 'expected docker pull\'s last line for an image it has (see "The real thing")').toBe(`Status: Image is up to date for ${registry.host}/probe:latest`)
    expect(allLayers(root), 'a layer was stored twice').toHaveLength(1)
  })

  it('a 4-layer image sharing its base layer with the probe, 2 download slots', async () => {
    const { root } = await pull(`${registry.host}/probe`)
    let pulled: Awaited<ReturnType<typeof pull>> | undefined
    const error = await caught(async () => (pulled = await pull(`${registry.host}/several`, { root, slots: new Slots(2) })))
    if (error) expect.fail(`pulling a 4-layer image failed: ${error.message} — in which order can layers be registered? (see "The whole pull", and chapter 06)`)
    const { messages, result } = pulled!
    expect(result.id, 'expected the ID of the image pushed').toBe(several.id)
    expect(result.downloaded, 'expected 3 of 4 layers fetched: layer 0 is the probe image\'s, pulled before into the same store (see "The whole pull")').toBe(3)
    expect(statusesOf(messages, layerId(several, 0))).toEqual(['Already exists'])
    const waited = [1, 2, 3].filter((i) => statusesOf(messages, layerId(several, i)).includes('Waiting'))
    expect(waited, 'with 2 downloads at a time and 3 layers to fetch, expected one layer to say "Waiting" (pullImage\'s doc comment)').toHaveLength(1)
    for (const i of [1, 2, 3]) expect(statusesOf(messages, layerId(several, i)).at(-1), `layer ${i}'s last status is not "Pull complete"`).toBe('Pull complete')
    const run = await runImage(root, `${registry.host}/several`, ['/probe', 'ls:/'])
    expect(probeValue<string[]>(run.stdout, 'ls'), `every layer's file is in the container; stderr: ${run.stderr}`).toEqual(expect.arrayContaining(['f2', 'f3', 'f4', 'probe']))
  })

  it('a layer with a whiteout and an opaque directory', async () => {
    const { root, result } = await pull(`${registry.host}/layered:v1`)
    expect(result.id, 'expected the ID of the image pushed').toBe(layered.id)
    const data = await runImage(root, `${registry.host}/layered:v1`, ['/probe', 'ls:/data', 'ls:/etc'])
    expect(data.code, data.stderr).toBe(0)
    const [dataList, etcList] = data.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { ls: string[] }).ls)
    expect(dataList, 'layer 2 makes /data opaque: the container\'s /data (chapter 06)').toEqual(['new'])
    expect(etcList, 'layer 2 has /etc/.wh.group, and the container still has /etc/group (chapter 06)').not.toContain('group')
    expect(etcList, 'layer 2\'s whiteout took more of /etc than /etc/group').toContain('passwd')
  })

  it('a --platform of another architecture, for an image pushed without an index', async () => {
    const other = hostPlatform().architecture === 's390x' ? 'riscv64' : 's390x'
    const error = await caught(() => pull(`${registry.host}/probe`, { platform: { os: 'linux', architecture: other } }))
    expect(error?.message, `expected the pull of an image for ${hostPlatform().architecture} with --platform linux/${other} to fail in pullImage's TODO's words`).toMatch(new RegExp(`not the linux/${other} asked for`))
  })

  it('a --platform of another architecture, for an image pushed without an index, whose config is slow to come', async () => {
    const other = hostPlatform().architecture === 's390x' ? 'riscv64' : 's390x'
    const config = probe.config.digest
    const layers = probe.layers.map((l) => l.digest)
    // the config's answer stops half-way until the pull has had every chance to ask for more
    const proxy = await interpose(registry, { hold: [config] })
    const run = { calls: 0 }
    const slots = new Slots(3)
    const counted = { limit: 3, run: <T>(signal: AbortSignal, job: () => Promise<T>, onWait?: () => void) => (run.calls++, slots.run(signal, job, onWait)) }
    const pulling = caught(() => pull(`${proxy.host}/probe`, { platform: { os: 'linux', architecture: other }, slots: counted as unknown as Slots }))
    let ended = false
    void pulling.then(() => (ended = true))
    const late = setTimeout(() => proxy.release(config), 20_000)
    try {
      for (let i = 0; i < 200 && !ended && !proxy.blobRequests.includes(config); i++) await new Promise((r) => setTimeout(r, 25))
      // a margin for requests already on their way: the pull can ask for nothing more before the config is released
      if (!ended) await new Promise((r) => setTimeout(r, 300))
    } finally {
      proxy.release(config)
      clearTimeout(late)
    }
    const error = await pulling
    expect(error?.message, `expected the pull to fail in pullImage's TODO's words`).toMatch(new RegExp(`not the linux/${other} asked for`))
    const asked = proxy.blobRequests.filter((d) => layers.includes(d)).length
    expect(
      asked + run.calls,
      `the image has no index, so nothing said it was for linux/${other} or not until its config arrived, and the pull ${asked ? `asked the registry for ${asked} layer(s)` : `asked for ${run.calls} download slot(s)`} of an image it was bound to refuse: what could the pull know of this image before the config, and what did it start on that knowledge? (see "Choosing a platform"; containerd's core/unpack/unpacker.go)`,
    ).toBe(0)
  })

  it('an OCI index with two platforms, this machine\'s second, with and without --platform', async () => {
    const { root, result } = await pull(`${registry.host}/multi`)
    expect(result.id, `the index has linux/${OTHER_ARCH} first, then linux/${hostPlatform().architecture}, this machine's, and the pull took ${result.id === platforms[OTHER_ARCH]!.id ? 'the first' : 'another image'} (see "Choosing a platform")`).toBe(platforms[hostPlatform().architecture]!.id)
    const run = await runImage(root, `${registry.host}/multi`)
    expect(probeValue(run.stdout, 'cat'), run.stderr).toBe(hostPlatform().architecture)
    const other = await pull(`${registry.host}/multi`, { platform: { os: 'linux', architecture: OTHER_ARCH } })
    expect(other.result.id, `with --platform linux/${OTHER_ARCH}, the pull took another image than that entry's`).toBe(platforms[OTHER_ARCH]!.id)
    const missing = await caught(() => pull(`${registry.host}/multi`, { platform: { os: 'linux', architecture: 's390x' } }))
    expect(missing?.message, 'expected Docker\'s words for a platform the index lacks (resolveManifest\'s TODO)').toContain('no matching manifest for linux/s390x')
  })

  it('a Docker manifest list with two platforms', async () => {
    const { root, result } = await pull(`${registry.host}/list`)
    expect(result.id, 'expected the image of the manifest list\'s entry for this machine').toBe(dockerPlatforms[hostPlatform().architecture]!.id)
    const run = await runImage(root, `${registry.host}/list`)
    expect(probeValue(run.stdout, 'cat'), run.stderr).toBe(hostPlatform().architecture)
  })

  it('a pull by digest, then by a digest the repository lacks', async () => {
    const ref = `${registry.host}/probe@${probe.manifest.digest}`
    const { root, result } = await pull(ref)
    expect(result.id, 'the image the digest names').toBe(probe.id)
    expect(allTags(root).map(([name]) => name), 'expected the name recorded with its digest, as docker pull NAME@DIGEST does').toEqual([ref])
    const wrong = `${registry.host}/probe@${layered.manifest.digest}`
    const error = await caught(() => pull(wrong))
    expect(error?.message, 'expected the registry\'s answer for a digest the probe repository lacks').toMatch(/not found|unknown/i)
  })

  it('a blob with one byte flipped in the registry\'s storage', async () => {
    const layer = corrupt.layers[0]!
    const onDisk = storedBlobPath(registry, layer.digest)
    const original = readFileSync(onDisk)
    const tampered = Buffer.from(original)
    tampered[tampered.length >> 1] ^= 0xff
    writeFileSync(onDisk, tampered)
    try {
      const root = tempDir('minidocker-store-')
      const error = await caught(() => pullImage(`${registry.host}/corrupt`, { root }))
      expect(error?.name, 'one byte of the layer\'s blob was flipped: expected a DigestMismatchError (chapter 06)').toBe('DigestMismatchError')
      expect(error.message, 'expected the error to name the layer\'s digest').toContain(layer.digest)
      expect(existsSync(blobPath(storePaths(root).blobs, layer.digest)), 'a blob was stored under the layer\'s digest from bytes that do not have it').toBe(false)
      expect(allLayers(root), 'a layer was registered from bad bytes').toEqual([])
      expect(allImageIds(root), 'an image was stored from bad bytes').toEqual([])
      expect(allTags(root), 'a tag was stored from bad bytes').toEqual([])
    } finally {
      writeFileSync(onDisk, original)
    }
  })

  it('an unknown tag, then a port nobody listens on', async () => {
    const unknown = await caught(() => pull(`${registry.host}/probe:nope`))
    expect(unknown?.message, 'expected Docker\'s words for a missing tag').toContain(`manifest for ${registry.host}/probe:nope not found`)
    // a port just freed, so nothing listens there (fetch refuses port 1 without trying it)
    const port = await freePort()
    const closed = await caught(() => pull(`127.0.0.1:${port}/probe`))
    expect(closed?.message, 'expected the error to name the URL tried').toContain(`http://127.0.0.1:${port}/v2/`)
    expect(closed?.message, 'expected the reason the connection failed').toMatch(/ECONNREFUSED|refused/)
  })

  it('a repository name with upper case', async () => {
    const error = await caught(() => pull(`${registry.host}/Probe`))
    expect(error, 'expected InvalidReferenceError for "Probe", before any request (see "A name is a reference")').toBeInstanceOf(InvalidReferenceError)
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

  it('library/probe, after a 401 from /v2/', async () => {
    const before = registry.tokens!.requests.length
    let pulled: Awaited<ReturnType<typeof pull>> | undefined
    const error = await caught(async () => (pulled = await pull(`${registry.host}/library/probe`)))
    expect(registry.tokens!.requests.slice(before), 'the token server\'s requests after the 401 from /v2/ (left: what it saw): for which service, and which scope does the registry check a token against? (see "Where the registry is, and the token flow")').toEqual([
      { service: 'minidocker-test-registry', scope: 'repository:library/probe:pull', granted: true },
    ])
    if (error) expect.fail(`the token was granted, but the pull failed: ${error.message} — which of the pull's requests reached the registry without it? (see "Where the registry is, and the token flow")`)
    const { root, result } = pulled!
    expect(result.id, 'expected the probe image behind the token flow').toBe(probe.id)
    const run = await runImage(root, `${registry.host}/library/probe`)
    expect(run.code, run.stderr).toBe(0)
  })

  it('private/probe, which the token server grants nobody', async () => {
    const error = await caught(() => pull(`${registry.host}/private/probe`))
    expect(error?.message, 'expected Docker\'s words for a repository the token does not grant').toContain(`pull access denied for ${registry.host}/private/probe`)
  })
})
