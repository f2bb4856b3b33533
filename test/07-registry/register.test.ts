/**
 * Pulls that share a layer, not only its blob: a layer two pulls need on the same layers below
 * is unpacked once, one blob on other layers below is another layer, and a cancel or a failure
 * reaches each pull as moby's layer transfers make it. Every call of chapter 06's registerLayer
 * is counted on its way to the real store.
 */
import { existsSync, readdirSync } from 'node:fs'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { chainIds } from '#ch/06-images/ids.ts'
import { allLayers, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, probeEntries, tarOf, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'
import { interpose } from './interposer.ts'
import { loopbackOnly } from './loopback-only.ts'
import { described, PATIENCE_MS, said, sleep, start, statuses, twoPulls, until, within } from './pulls.ts'

/** Every registerLayer call: the store, the parent asked for, and the diff ID it unpacked to. */
const registrations = vi.hoisted(() => [] as { root: string; parent: string | null; diffId?: string }[])

vi.mock('#ch/06-images/store.ts', async (importOriginal) => {
  const store = await importOriginal<typeof import('#ch/06-images/store.ts')>()
  return {
    ...store,
    registerLayer: async (...args: Parameters<typeof store.registerLayer>) => {
      const call: (typeof registrations)[number] = { root: args[0], parent: args[1] }
      registrations.push(call)
      const layer = await store.registerLayer(...args)
      call.diffId = layer.diffId
      return layer
    },
  }
})

loopbackOnly()

const SECTION = '(see "Two pulls, one layer")'

/** How many times layer `diffId` was unpacked into the store at `root`. */
const unpacked = (root: string, diffId: string) => registrations.filter((r) => r.root === root && r.diffId === diffId).length

/** The layer folders under overlay2/ (its l/ of short names aside). */
const layerFolders = (root: string) => (existsSync(storePaths(root).graph) ? readdirSync(storePaths(root).graph).filter((n) => n !== 'l') : [])

describeKernel('pulls that share a layer', () => {
  let registry: Registry
  /** a and b: the probe, one layer in common, one of their own; c: the common layer's blob on another base */
  let a: TestImage
  let b: TestImage
  let c: TestImage
  /** two images on a base layer whose tar stops inside a file */
  let broken: [TestImage, TestImage]

  beforeAll(async () => {
    const [probe, mid, other, top1, top2, cut] = await Promise.all([
      tarOf(probeEntries()),
      tarOf([{ name: 'mid', content: 'in the middle\n'.repeat(2000) }]),
      tarOf([{ name: 'other', content: 'another base\n' }]),
      tarOf([{ name: 'top', content: 'a\n' }]),
      tarOf([{ name: 'top', content: 'b\n' }]),
      tarOf([{ name: 'big', content: 'x'.repeat(4000) }], { trailer: false }),
    ])
    a = await buildImage([], { tars: [probe, mid, top1] })
    b = await buildImage([], { tars: [probe, mid, top2] })
    c = await buildImage([], { tars: [other, mid] })
    broken = [await buildImage([], { tars: [cut.subarray(0, 1024), top1] }), await buildImage([], { tars: [cut.subarray(0, 1024), top2] })]
    if (c.layers[1]!.digest !== a.layers[1]!.digest) throw new Error('the same tar gzipped twice gave two blobs: the tests below need one')
    registry = await startRegistry()
    await Promise.all([
      pushImage(registry, 'layers/a', 'latest', a),
      pushImage(registry, 'layers/b', 'latest', b),
      pushImage(registry, 'layers/c', 'latest', c),
      pushImage(registry, 'broken/1', 'latest', broken[0]),
      pushImage(registry, 'broken/2', 'latest', broken[1]),
    ])
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('two images on two common layers, pulled at once: each common layer is unpacked once, and both pulls show it unpacked', async () => {
    const proxy = await interpose(registry, { hold: [a.layers[0]!.digest] })
    const root = tempDir('minidocker-store-')
    const [first, second] = await twoPulls(proxy, root, ['layers/a', 'layers/b'], a.layers[0]!.digest)
    proxy.release(a.layers[0]!.digest)
    const errors = await Promise.all([first.outcome, second.outcome])
    if (errors.some(Boolean)) expect.fail(`two pulls of images on two common layers, and they failed: ${errors.map(described).join('; ')}. Each common layer is one transfer: who registers it, on which layer below, and when is that one there? ${SECTION}`)
    for (const i of [0, 1]) {
      const layer = a.layers[i]!
      const times = unpacked(root, layer.diffId)
      expect(times, `layers/a and layers/b both have layer ${i} (${layer.digest}) on the same layers below, and their pulls ran at once: chapter 06's registerLayer unpacked it ${times} times. Which of the two pulls registers it, and what is it the other one waits for? ${SECTION}`).toBe(1)
      for (const [what, pull] of [['the pull that started the transfers', first], ['the pull that joined them', second]] as const)
        expect(statuses(pull, layer.digest).slice(-2), `the last lines of ${what} for layer ${i}: both pulls show the common layer unpacked, as two docker pulls do. Whose reports are "Extracting" and "Pull complete", and where do they go? ${SECTION}`).toEqual(['Extracting', 'Pull complete'])
    }
    expect(layerFolders(root).length, 'overlay2/ holds other folders than the 4 layers of the store (a registration left one behind)').toBe(allLayers(root).length)
    expect(allLayers(root).length, 'the store\'s layers: the probe, the common one, and a top layer for each image').toBe(4)
    expect(resolveImage(root, `${proxy.host}/layers/a`), 'layers/a in the store').toBe(a.id)
    expect(resolveImage(root, `${proxy.host}/layers/b`), 'layers/b in the store').toBe(b.id)
  })

  it('one blob on two different layers below, pulled at once: two layers', async () => {
    const blob = a.layers[1]!
    const proxy = await interpose(registry, { hold: [blob.digest] })
    const root = tempDir('minidocker-store-')
    const [first, second] = await twoPulls(proxy, root, ['layers/a', 'layers/c'], blob.digest)
    proxy.release(blob.digest)
    const [errorA, errorC] = await Promise.all([first.outcome, second.outcome])
    if (errorA) expect.fail(`the pull of layers/a failed: ${described(errorA)}`)
    if (errorC) expect.fail(`layers/c has blob ${blob.digest} over another base than layers/a's, both were pulled at once, and the pull of layers/c failed: ${described(errorC)}. A blob over other layers below is another layer: what does a layer's transfer have to name? ${SECTION}`)
    const expected = [chainIds(a.layers.map((l) => l.diffId))[1], chainIds(c.layers.map((l) => l.diffId))[1]]
    const layers = allLayers(root).filter((l) => l.diffId === blob.diffId).map((l) => l.chainId)
    expect(layers.sort(), `the store's layers of blob ${blob.digest}: one on each base`).toEqual(expected.sort())
    expect(unpacked(root, blob.diffId), `blob ${blob.digest} is two layers, one over each base: how many times must it be unpacked? ${SECTION}`).toBe(2)
    expect(resolveImage(root, `${proxy.host}/layers/a`), 'layers/a in the store').toBe(a.id)
    expect(resolveImage(root, `${proxy.host}/layers/c`), 'layers/c in the store').toBe(c.id)
  })

  it('one image pulled twice at once, the pull that started its transfers cancelled while the layers above the base wait for it: the other completes', async () => {
    const base = a.layers[0]!
    const proxy = await interpose(registry, { hold: [base.digest] })
    const root = tempDir('minidocker-store-')
    const cancel = new AbortController()
    const first = start(`${proxy.host}/layers/a`, root, { signal: cancel.signal })
    await until(() => said(first, base.digest, 'Downloading') && a.layers.slice(1).every((l) => said(first, l.digest, 'Download complete')), [first])
    const second = start(`${proxy.host}/layers/a`, root)
    await until(() => a.layers.every((l) => said(second, l.digest, 'Pulling fs layer')), [first, second])
    await sleep(200)
    cancel.abort()
    const ended = await within(first.outcome, PATIENCE_MS)
    if (ended === 'late') expect.fail(`the first pull was cancelled, and ${PATIENCE_MS / 1000} s later it had not ended ${SECTION}`)
    proxy.release(base.digest)
    const error = await second.outcome
    if (error) expect.fail(`the first pull was cancelled while its upper layers, downloaded, waited for the base layer to be registered, and the second pull, which watched the same layers, failed: ${described(error)}. While a layer waits for the one below, whose is the wait, and what may one pull's cancel stop? ${SECTION}`)
    for (const [i, layer] of a.layers.entries())
      expect(unpacked(root, layer.diffId), `layer ${i}, needed by both pulls, was unpacked this many times ${SECTION}`).toBe(1)
    expect(resolveImage(root, `${proxy.host}/layers/a`), 'the second pull\'s image in the store').toBe(a.id)
  })

  it('a common layer that cannot be unpacked: both pulls fail with its error, it is unpacked once and leaves nothing, and a pull after them tries again', async () => {
    const base = broken[0].layers[0]!
    const proxy = await interpose(registry, { hold: [base.digest] })
    const root = tempDir('minidocker-store-')
    const [first, second] = await twoPulls(proxy, root, ['broken/1', 'broken/2'], base.digest)
    proxy.release(base.digest)
    const [error1, error2] = await Promise.all([first.outcome, second.outcome])
    expect(described(error1), 'the base layer\'s tar stops inside a file: expected the pull that started its transfer to fail with chapter 06\'s words').toMatch(/"big".*cut short/)
    expect(described(error2), `the common layer's registration failed with the error the first pull reports, and the second pull, which watched it, reported the above: what does a watcher of a failed layer learn? ${SECTION}`).toBe(described(error1))
    const tries = () => registrations.filter((r) => r.root === root && r.parent === null).length
    expect(tries(), `two pulls at once need the same base layer, and chapter 06's registerLayer was asked to unpack it ${tries()} times: who registers a common layer? ${SECTION}`).toBe(1)
    expect(allLayers(root), 'a layer was left from a registration that failed').toEqual([])
    expect(layerFolders(root), 'overlay2/ keeps folders from a registration that failed').toEqual([])
    const third = await caught(() => pullImage(`${proxy.host}/broken/1`, { root }))
    expect(described(third), `a pull after the two failed ones ${third ? 'failed otherwise' : 'succeeded'}: what did the failed transfer leave behind? ${SECTION}`).toMatch(/"big".*cut short/)
    expect(tries(), 'the pull after the failed ones did not try to unpack the layer again').toBe(2)
  })
})
