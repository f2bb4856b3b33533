/**
 * What a pull may trust, and when it is over: blobs that the store holds under a digest their
 * bytes no longer have (a disk error, a half-restored backup, a hand that edited the file), and
 * a pull cancelled while the registry has not answered yet.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { blobPath } from '#ch/06-images/cas.ts'
import { allLayers, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { hostPlatform } from '../../lib/platform.ts'
import { rememberedDiffId } from '../../lib/image-store.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, buildIndex, probeEntries, sha256, tarOf, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, pushIndex, startRegistry, type Registry } from '../support/registry.ts'
import { interpose } from './interposer.ts'
import { loopbackOnly } from './loopback-only.ts'
import { described, PATIENCE_MS, start, until, within } from './pulls.ts'

loopbackOnly()

/** Put `data` in the store at `root` under blob `digest`, whatever its bytes are. */
function plant(root: string, digest: string, data: Buffer): void {
  const path = blobPath(storePaths(root).blobs, digest)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, data)
}

describeKernel('what a pull trusts, and when it ends', () => {
  let registry: Registry
  let image: TestImage
  /** a layer tar that is not the image's: what the damaged store holds under the image's blob */
  let other: Buffer

  beforeAll(async () => {
    image = await buildImage([probeEntries(), [{ name: 'data/kept', content: 'the registry\'s bytes\n' }]])
    other = await tarOf([{ name: 'data/kept', content: 'bytes nobody pushed\n' }])
    registry = await startRegistry()
    await pushImage(registry, 'trust/image', 'latest', image)
    const os = 'linux'
    const architecture = hostPlatform().architecture
    await pushIndex(registry, 'trust/index', 'latest', buildIndex([{ image, os, architecture }]), [image])
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('a layer blob in the store whose bytes are not its digest: the pull builds the image from the registry\'s bytes', async () => {
    const top = image.layers[1]!
    const root = tempDir('minidocker-store-')
    plant(root, top.digest, other)
    const pull = start(`${registry.host}/trust/image`, root)
    const error = await pull.outcome
    expect(error, `the store held blob ${top.digest} as a file under that name, but its bytes were another layer's (sha256 ${sha256(other)}); the registry has the right ones, and the pull ended with ${described(error)}. A file's name in a content-addressed store is a claim: who checked it, and when? (see "Downloading, verified while streaming")`).toBeUndefined()
    expect(resolveImage(root, `${registry.host}/trust/image`), 'the image in the store').toBe(image.id)
    expect(readFileSync(blobPath(storePaths(root).blobs, top.digest)).equals(top.data), `blob ${top.digest} in the store after the pull: the right bytes`).toBe(true)
    expect(rememberedDiffId(root, top.digest), `the diff ID the store remembers for blob ${top.digest}`).toBe(image.layers[1]!.diffId)
    expect(allLayers(root).map((l) => l.diffId).sort(), 'the diff IDs of the layers in the store: only the image\'s').toEqual(image.layers.map((l) => l.diffId).sort())
  })

  it('a config blob in the store whose bytes are not its digest', async () => {
    const root = tempDir('minidocker-store-')
    plant(root, image.config.digest, Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'))
    const error = await start(`${registry.host}/trust/image`, root).outcome
    expect(error, `the store held the config ${image.config.digest} under its name, with other bytes; the registry has the right ones, and the pull ended with ${described(error)}. Is a damaged copy in the store a reason to fail, when the registry is right there? (see "The whole pull")`).toBeUndefined()
    expect(resolveImage(root, `${registry.host}/trust/image`), 'the image in the store').toBe(image.id)
  })

  it('a pull cancelled while the registry holds its first answer: it ends at once, and sends nothing more', async () => {
    const proxy = await interpose(registry, { holdPaths: ['/v2/'] })
    const root = tempDir('minidocker-store-')
    const cancel = new AbortController()
    const pull = start(`${proxy.host}/trust/image`, root, { signal: cancel.signal })
    await until(() => proxy.requests.includes('/v2/'), [pull])
    const reason = new Error('the client went away')
    cancel.abort(reason)
    const outcome = await within(pull.outcome, PATIENCE_MS)
    proxy.release('/v2/')
    await proxy.sent('/v2/')
    expect(outcome, `the pull was cancelled while the registry had not answered GET /v2/ yet (and would not for a long while), and ${PATIENCE_MS / 1000} s later it had ${outcome === 'late' ? 'not ended' : `ended with ${described(outcome as Error)}`}. What is a cancelled pull still waiting for? (see "When a layer fails")`).toBe(reason)
    // the same pull into another store: once it is done, whatever the cancelled one would have sent has come
    const after = start(`${proxy.host}/trust/image`, tempDir('minidocker-store-'))
    expect(await after.outcome, 'a pull after the cancelled one').toBeUndefined()
    const manifests = proxy.requests.filter((path) => path.includes('/manifests/'))
    expect(manifests, `the requests for manifests, once the cancelled pull had ended and a second pull had run: the cancelled pull sent ${manifests.length - 1} after it had said it was over (see "Nothing after the end")`).toHaveLength(1)
  })

  it('a pull cancelled while the registry holds an index: it ends at once, and nothing more reaches the registry or the store', async () => {
    const path = '/v2/trust/index/manifests/latest'
    const proxy = await interpose(registry, { holdPaths: [path] })
    const root = tempDir('minidocker-store-')
    const cancel = new AbortController()
    const pull = start(`${proxy.host}/trust/index`, root, { signal: cancel.signal })
    await until(() => proxy.requests.includes(path), [pull])
    const reason = new Error('the client went away')
    cancel.abort(reason)
    const outcome = await within(pull.outcome, PATIENCE_MS)
    proxy.release(path)
    await proxy.sent(path)
    expect(outcome, `the pull was cancelled while the registry held its answer to GET ${path}, and ${PATIENCE_MS / 1000} s later it had ${outcome === 'late' ? 'not ended' : `ended with ${described(outcome as Error)}`}. What is a cancelled pull still waiting for? (see "When a layer fails")`).toBe(reason)
    const after = start(`${proxy.host}/trust/index`, tempDir('minidocker-store-'))
    expect(await after.outcome, 'a pull after the cancelled one').toBeUndefined()
    const child = proxy.requests.filter((p) => p.endsWith(`/manifests/${image.manifest.digest}`))
    expect(child, `the requests for the index's image manifest ${image.manifest.digest}: the cancelled pull had said it was over, then its index arrived, and it went on. What of a pull may still act once it has told its caller it is cancelled? (see "Nothing after the end")`).toHaveLength(1)
    const left = existsSync(root) ? readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((n) => /sha256\/[a-f0-9]{64}$/.test(n)) : []
    expect(left, 'the blobs the cancelled pull wrote into its store after it had ended').toEqual([])
  })
})
