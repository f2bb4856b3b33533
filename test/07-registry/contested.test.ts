/**
 * Pulls that meet where a process's transfers are easy to get wrong: two stores, two configs
 * that disagree about one blob, what a pull leaves behind once it has failed, and a pull that
 * comes while a transfer nobody watches any more is still stopping. Every call of chapter
 * 06's registerLayer goes through a gate the test can close, as an unpacking of a big layer
 * would hold it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { blobPath } from '#ch/06-images/cas.ts'
import { chainIds } from '#ch/06-images/ids.ts'
import { allLayers, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { Slots } from '../../lib/slots.ts'
import { allImageIds, rememberedDiffId } from '../../lib/image-store.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, probeEntries, sha256, tarOf, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'
import { interpose } from './interposer.ts'
import { loopbackOnly } from './loopback-only.ts'
import { described, gets, PATIENCE_MS, said, sleep, start, twoPulls, until, within, type Pull } from './pulls.ts'

/** The first registerLayer call into `root` on no parent waits until open() once the gate is armed. */
const gate = vi.hoisted(() => ({ root: '', reached: false, open: () => {}, opened: Promise.resolve() }))

vi.mock('#ch/06-images/store.ts', async (importOriginal) => {
  const store = await importOriginal<typeof import('#ch/06-images/store.ts')>()
  return {
    ...store,
    registerLayer: async (...args: Parameters<typeof store.registerLayer>) => {
      if (gate.root !== '' && args[0] === gate.root && args[1] === null && !gate.reached) {
        gate.reached = true
        await gate.opened
      }
      return store.registerLayer(...args)
    },
  }
})

/** Hold the first registration of a base layer into `root` until the test opens the gate. */
function armGate(root: string): void {
  gate.root = root
  gate.reached = false
  gate.opened = new Promise<void>((resolve) => (gate.open = resolve))
}

afterEach(() => {
  gate.open()
  gate.root = ''
})

loopbackOnly()

/** Every file under `root`, with its size: what a pull has written. */
function snapshot(root: string): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const info = statSync(join(root, name), { throwIfNoEntry: false })
      return `${name} ${info?.isFile() ? info.size : ''}`
    })
}

/**
 * How `pull` ends while the gate holds an unpacking, which cannot be stopped: the gate opens
 * half a second later, or, when the pull has ended by then, only once aftermath() has looked.
 */
async function endWithGate(pull: Pull): Promise<Error | undefined | 'late'> {
  if ((await within(pull.outcome, 500)) === 'late') gate.open()
  return within(pull.outcome, PATIENCE_MS)
}

/** After a pull has ended: what the store and the registry see from then on (the gate opened, if still closed). */
async function aftermath(root: string, requests: () => number): Promise<{ written: string[]; asked: number }> {
  const files = snapshot(root)
  const asked = requests()
  gate.open()
  await sleep(1500)
  const later = snapshot(root)
  return { written: later.filter((f) => !files.includes(f)).concat(files.filter((f) => !later.includes(f)).map((f) => `(gone) ${f}`)), asked: requests() - asked }
}

describeKernel('pulls that contend for a transfer', () => {
  let registry: Registry
  /** the probe, then a layer of its own */
  let image: TestImage
  /** three layers, for a pull that fails part-way */
  let three: TestImage
  /** image's blobs, under a config whose diff ID for the top layer is another tar's */
  let liar: TestImage

  beforeAll(async () => {
    const [probe, mid, other] = await Promise.all([
      tarOf(probeEntries()),
      tarOf([{ name: 'mid', content: 'in the middle\n'.repeat(3000) }]),
      tarOf([{ name: 'mid', content: 'not what the blob holds\n' }]),
    ])
    image = await buildImage([], { tars: [probe, mid] })
    three = await buildImage([], { tars: [probe, mid, await tarOf([{ name: 'top', content: 'top\n'.repeat(500) }])] })
    const config = JSON.parse(image.config.data.toString('utf8')) as { rootfs: { diff_ids: string[] } }
    config.rootfs.diff_ids[1] = sha256(other)
    const data = Buffer.from(JSON.stringify(config))
    const liarConfig = { ...image.config, data, digest: sha256(data), size: data.length }
    const manifest = JSON.parse(image.manifest.data.toString('utf8')) as { config: { digest: string; size: number } }
    manifest.config = { ...manifest.config, digest: liarConfig.digest, size: liarConfig.size }
    const manifestData = Buffer.from(JSON.stringify(manifest))
    liar = { config: liarConfig, layers: image.layers, manifest: { ...image.manifest, data: manifestData, digest: sha256(manifestData), size: manifestData.length }, id: liarConfig.digest }
    registry = await startRegistry()
    await Promise.all([pushImage(registry, 'contest/image', 'latest', image), pushImage(registry, 'contest/three', 'latest', three), pushImage(registry, 'contest/liar', 'latest', liar)])
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('one image pulled into two stores at once: each store gets every layer', async () => {
    const base = image.layers[0]!
    const proxy = await interpose(registry, { hold: [base.digest] })
    const [rootA, rootB] = [tempDir('minidocker-store-'), tempDir('minidocker-store-')]
    const [first, second] = await twoPulls(proxy, [rootA, rootB], ['contest/image', 'contest/image'], base.digest)
    proxy.release(base.digest)
    const [errorA, errorB] = await Promise.all([first.outcome, second.outcome])
    const chains = chainIds(image.layers.map((l) => l.diffId))
    for (const [name, root, error] of [['first', rootA, errorA], ['second', rootB, errorB]] as const) {
      const stored = allLayers(root).map((l) => l.chainId)
      const missing = chains.filter((c) => !stored.includes(c)).length
      const blobs = image.layers.filter((l) => !existsSync(blobPath(storePaths(root).blobs, l.digest))).length
      expect(`${described(error)}; ${missing} layers and ${blobs} blobs missing`, `two pulls of one image at once, each into a store of its own, and the ${name} store's pull ended with the above (the base blob was requested ${gets(proxy, base.digest)} times). Whose store did the layers it was handed go into? (see "Two pulls, one layer")`).toBe('nothing (it succeeded); 0 layers and 0 blobs missing')
    }
    expect(resolveImage(rootB, `${proxy.host}/contest/image`), 'the image in the second store').toBe(image.id)
  })

  it('two configs that disagree about one blob, pulled at once: the one its bytes contradict fails naming the layer, and nothing is kept under its word', async () => {
    const top = image.layers[1]!
    const proxy = await interpose(registry, { hold: [top.digest] })
    const root = tempDir('minidocker-store-')
    const [lying, honest] = await twoPulls(proxy, root, ['contest/liar', 'contest/image'], top.digest)
    proxy.release(top.digest)
    const [lie, truth] = await Promise.all([lying.outcome, honest.outcome])
    if (truth) expect.fail(`contest/image's config is true to its blobs, and its pull failed: ${described(truth)}`)
    expect(described(lie), `contest/liar's config gives layer ${top.digest} a diff ID its bytes do not have, and its pull, which started the layer's transfer while another pull with a true config joined it, ended with the above: whose word is a layer's diff ID, and who must check it against what? (see "Two pulls, one layer")`).toMatch(new RegExp(`${top.digest}`))
    expect(allImageIds(root), 'the store holds an image whose config the layers contradict').not.toContain(liar.id)
    expect(rememberedDiffId(root, top.digest), `the diff ID the store remembers for blob ${top.digest}`).toBe(top.diffId)
    const chains = chainIds(image.layers.map((l) => l.diffId))
    expect(allLayers(root).map((l) => l.chainId).sort(), 'the store\'s layers: only those the blobs make').toEqual([...chains].sort())
  })

  it('a pull cancelled while its base layer unpacks: once it has ended, nothing of it reaches the registry or the store', async () => {
    const proxy = await interpose(registry, {})
    const root = tempDir('minidocker-store-')
    armGate(root)
    const cancel = new AbortController()
    const pull = start(`${proxy.host}/contest/three`, root, { signal: cancel.signal, slots: new Slots(1) })
    await until(() => gate.reached && said(pull, three.layers[1]!.digest, 'Downloading'), [pull])
    cancel.abort()
    const ended = await endWithGate(pull)
    if (ended === 'late') expect.fail(`the pull was cancelled while its base layer unpacked, and ${PATIENCE_MS / 1000} s later it had not ended (see "When a layer fails")`)
    expect(described(ended), 'the pull was cancelled: expected it to fail with the cancel\'s reason').toMatch(/abort/i)
    const { written, asked } = await aftermath(root, () => proxy.blobRequests.length)
    expect(asked, `the cancelled pull had ended, and after that the registry was still asked for blobs: what of the pull was still running when it told its caller it was over? (see "When a layer fails")`).toBe(0)
    expect(written, `the cancelled pull had ended, and after that its store changed: what of the pull was still running when it told its caller it was over? (see "When a layer fails")`).toEqual([])
  })

  it('a layer that fails while the base layer unpacks and the config is on its way: once the pull has failed, nothing of it reaches the registry or the store', async () => {
    const [base, broken] = [three.layers[0]!, three.layers[1]!]
    // the config comes slowly too, so the failure may meet the pull anywhere
    const proxy = await interpose(registry, { hold: [three.config.digest, broken.digest], corrupt: [broken.digest], uncounted: [three.config.digest] })
    const root = tempDir('minidocker-store-')
    armGate(root)
    const pull = start(`${proxy.host}/contest/three`, root, { slots: new Slots(2) })
    await until(() => gate.reached && said(pull, broken.digest, 'Downloading') && proxy.blobRequests.includes(three.config.digest), [pull])
    proxy.release(broken.digest)
    const ended = await endWithGate(pull)
    if (ended === 'late') expect.fail(`layer ${broken.digest} failed its check while the base layer unpacked, and ${PATIENCE_MS / 1000} s later the pull had not ended (see "When a layer fails")`)
    expect(described(ended), `layer ${broken.digest} arrived with a byte flipped: expected the pull to fail with the DigestMismatchError naming it`).toMatch(new RegExp(`^DigestMismatchError: .*${broken.digest}`))
    const { written, asked } = await aftermath(root, () => proxy.blobRequests.length)
    expect(asked, `the pull had failed, and after that the registry was still asked for blobs: what of the pull was still running, or still waiting to run, when it reported its failure? (see "When a layer fails")`).toBe(0)
    expect(written, `the pull had failed (its base layer ${base.digest} was unpacking then), and after that its store changed: what of the pull was still running when it reported its failure? (see "When a layer fails")`).toEqual([])
  })

  it('a pull that comes while a transfer nobody watches is still stopping', async () => {
    const proxy = await interpose(registry, {})
    const root = tempDir('minidocker-store-')
    armGate(root)
    const cancel = new AbortController()
    const first = start(`${proxy.host}/contest/image`, root, { signal: cancel.signal })
    await until(() => gate.reached && said(first, image.layers[1]!.digest, 'Download complete'), [first])
    cancel.abort()
    // the first pull's transfers now have no watcher, and stop; its base layer's unpacking cannot
    const second = start(`${proxy.host}/contest/image`, root)
    const ended = await within(second.outcome, PATIENCE_MS)
    gate.open()
    const error = ended === 'late' ? await second.outcome : ended
    await within(first.outcome, PATIENCE_MS)
    if (error) expect.fail(`the first pull was cancelled while its base layer unpacked, its last watcher gone, and a pull of the same image started right after it ${ended === 'late' ? 'waited for that unpacking, then ' : ''}failed: ${described(error)}. What did the second pull meet under the layers' keys, and whose was it? (see "Two pulls, one download")`)
    expect(resolveImage(root, `${proxy.host}/contest/image`), 'the second pull\'s image in the store').toBe(image.id)
  })
})
