import { afterAll, beforeAll, expect, it } from 'vitest'
import { allImageIds, allLayers, allTags } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { Slots } from '../../lib/slots.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { buildImage, probeEntries, type Entry, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'
import { interpose } from './interposer.ts'
import { loopbackOnly } from './loopback-only.ts'

loopbackOnly()

/** Wait until `condition` holds, or 2 s have passed. */
async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 2000; !condition() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20))
}

/** How long a pull may go on after one of its layers failed. */
const AFTER_FAILURE_MS = 10_000

describeKernel('pulling through a link that misbehaves', () => {
  let registry: Registry
  let stacked: TestImage
  let other: TestImage
  let unpacking: TestImage

  beforeAll(async () => {
    registry = await startRegistry()
    const small = (n: number): Entry[] => [{ name: `f${n}`, content: `layer ${n}\n`.repeat(1000) }]
    stacked = await buildImage([probeEntries(), small(1), small(2)])
    other = await buildImage([probeEntries()])
    // 32 MiB of zeros: a small blob that takes a while to unpack
    unpacking = await buildImage([[{ name: 'zeros', content: Buffer.alloc(32 << 20) }], small(1)])
    await pushImage(registry, 'faults', 'unpacking', unpacking)
    await pushImage(registry, 'faults', 'stacked', stacked)
    await pushImage(registry, 'faults', 'other', other)
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('layer 1 corrupt while the registry holds layer 0 open', async () => {
    const [bottom, failing] = [stacked.layers[0]!, stacked.layers[1]!]
    const proxy = await interpose(registry, { stall: [bottom.digest], corrupt: [failing.digest] })
    const root = tempDir('minidocker-store-')
    const pulling = caught(() => pullImage(`${proxy.host}/faults:stacked`, { root }))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), AFTER_FAILURE_MS)))
    const error = await Promise.race([pulling, late]).finally(() => clearTimeout(timer))
    if (error === 'late')
      expect.fail(`layer 1 failed its digest check, and ${AFTER_FAILURE_MS / 1000} s later the pull had still not ended: it was still waiting on layer 0's download, which the registry holds open (see "When a layer fails")`)
    expect(error, 'a corrupted layer 1 must fail the pull').toBeDefined()
    expect(
      `${error.name}: ${error.message}`,
      `the registry sent layer 1 with one byte flipped, and the pull reported the error above: could the user tell from it what went wrong, and with which blob? Which of the pull's failures caused the others? (see "When a layer fails")`,
    ).toMatch(new RegExp(`^DigestMismatchError: .*${failing.digest}`))
    await until(() => proxy.abandoned.length > 0)
    expect(proxy.abandoned, 'layer 1 failed, and the registry saw no download given up: layer 0\'s, which it holds open, was still running (see "When a layer fails")').toEqual([bottom.digest])
    expect(allLayers(root), 'no layer may be registered from a failed pull').toEqual([])
    expect(allImageIds(root), 'and no image').toEqual([])
    expect(allTags(root), 'and no tag').toEqual([])
  })

  it('the config corrupt while the registry holds every layer open', async () => {
    const layers = stacked.layers.map((l) => l.digest)
    const proxy = await interpose(registry, { stall: layers, corrupt: [stacked.config.digest], uncounted: [stacked.config.digest] })
    const root = tempDir('minidocker-store-')
    const pulling = caught(() => pullImage(`${proxy.host}/faults:stacked`, { root }))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), AFTER_FAILURE_MS)))
    const error = await Promise.race([pulling, late]).finally(() => clearTimeout(timer))
    const open = () => layers.filter((d) => proxy.blobRequests.includes(d) && !proxy.abandoned.includes(d)).length
    if (error === 'late')
      expect.fail(`the image's config arrived with one byte flipped while the registry held every layer's download open half-sent, and ${AFTER_FAILURE_MS / 1000} s later the pull had not ended (${open()} layer download(s) still open): when does your pull learn that the config failed, and what is it waiting for meanwhile? (see "When a layer fails"; moby's pullSchema2, what it does on receiveConfig's error)`)
    expect(error, 'a corrupted config must fail the pull').toBeDefined()
    expect(
      `${error.name}: ${error.message}`,
      `the registry sent the config with one byte flipped while the layers were held open, and the pull reported the error above: could the user tell from it which blob was wrong? Which of the pull's failures caused the others? (see "When a layer fails")`,
    ).toMatch(new RegExp(`^DigestMismatchError: .*${stacked.config.digest}`))
    await until(() => open() === 0)
    expect(open(), `the pull failed with the config's error, and the registry still had ${open()} of its layer downloads open: what stops them, and had the pull waited for it before it said it had failed? (see "When a layer fails")`).toBe(0)
    expect(allLayers(root), 'no layer may be registered from a failed pull').toEqual([])
    expect(allImageIds(root), 'and no image').toEqual([])
  })

  it('layer 1 corrupt while layer 0 is unpacking', async () => {
    const [bottom, failing] = [unpacking.layers[0]!, unpacking.layers[1]!]
    // layer 1's bytes come once layer 0's are sent: it fails while layer 0 is being unpacked
    const proxy = await interpose(registry, { corrupt: [failing.digest], after: { [failing.digest]: bottom.digest } })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    onCleanup(() => process.off('unhandledRejection', onUnhandled))
    const error = await caught(() => pullImage(`${proxy.host}/faults:unpacking`, { root: tempDir('minidocker-store-') }))
    expect(unhandled.map(String), 'layer 1\'s download failed while layer 0 was being unpacked, and Node saw that rejection with no handler attached: an unhandled rejection. What does Node do with one by default, and when does it look? (see "When a layer fails")').toEqual([])
    expect(`${error?.name}: ${error?.message}`, 'expected the pull to fail with layer 1\'s DigestMismatchError').toMatch(new RegExp(`^DigestMismatchError: .*${failing.digest}`))
  })

  it('two download slots, three layers to fetch, each answered slowly', async () => {
    // the config downloads beside the layers, as dockerd's does, outside their limit
    const proxy = await interpose(registry, { blobDelayMs: 150, uncounted: [stacked.config.digest] })
    await pullImage(`${proxy.host}/faults:stacked`, { root: tempDir('minidocker-store-'), slots: new Slots(2) })
    const most = proxy.maxBlobsInFlight
    expect(most, `with 2 download slots and 3 layers to fetch, the registry saw at most ${most} layer download${most === 1 ? '' : 's'} open at once: ${most > 2 ? 'more than the limit' : 'fewer than the limit allows'}. What holds a download back, and what lets the next one start? (see "The whole pull")`).toBe(2)
  })

  it('by digest, the registry answers with another manifest', async () => {
    const proxy = await interpose(registry, { manifests: { [stacked.manifest.digest]: other.manifest } })
    const root = tempDir('minidocker-store-')
    const error = await caught(() => pullImage(`${proxy.host}/faults@${stacked.manifest.digest}`, { root }))
    expect(error?.name, `asked for ${stacked.manifest.digest}, the registry sent another manifest, and the pull ${error ? `failed with ${error.name}` : 'succeeded with the wrong image'}; expected a DigestMismatchError. Which digest must the bytes have? (see "Asking for a manifest")`).toBe('DigestMismatchError')
    expect(error.message, 'expected the error to name the digest asked for').toContain(stacked.manifest.digest)
    expect(allImageIds(root), 'an image was stored from a manifest that failed its check').toEqual([])
  })

  it('by tag, the registry answers with a manifest other than the one it names', async () => {
    const proxy = await interpose(registry, { manifests: { stacked: other.manifest } })
    const root = tempDir('minidocker-store-')
    const error = await caught(() => pullImage(`${proxy.host}/faults:stacked`, { root }))
    expect(error?.name, `by tag, the registry's Docker-Content-Digest header says ${stacked.manifest.digest}, but the bytes are another manifest, and the pull ${error ? `failed with ${error.name}` : 'succeeded with the wrong image'}; expected a DigestMismatchError. What can the bytes be checked against when you asked by tag? (see "Asking for a manifest")`).toBe('DigestMismatchError')
    expect(allImageIds(root), 'an image was stored from a manifest that failed its check').toEqual([])
  })

  it('a manifest answered without a Content-Type, then as application/json', async () => {
    const bare = await interpose(registry, { contentTypes: { stacked: null } })
    const root = tempDir('minidocker-store-')
    const pulled = await caught(() => pullImage(`${bare.host}/faults:stacked`, { root }))
    expect(pulled, `the answer had no Content-Type, and the pull failed: ${pulled?.message}. What else says what the manifest is? (see "Asking for a manifest")`).toBeUndefined()
    expect(allImageIds(root), 'expected the image of the manifest answered without a Content-Type in the store').toEqual([stacked.id])

    const json = await interpose(registry, { contentTypes: { stacked: 'application/json; charset=utf-8' } })
    const error = await caught(() => pullImage(`${json.host}/faults:stacked`, { root: tempDir('minidocker-store-') }))
    expect(error?.message, `the registry answered with Content-Type application/json, and the pull ${error ? `failed with "${error.message}"` : 'went on with the body\'s own mediaType'}; expected an Error naming application/json. Which of the two claims does distribution's UnmarshalManifest believe? (see "Asking for a manifest")`).toContain('application/json')
  })
})
