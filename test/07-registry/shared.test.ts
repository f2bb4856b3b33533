import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { blobPath } from '#ch/06-images/cas.ts'
import { resolveImage, storePaths } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, probeEntries, type Entry, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'
import { interpose, type Faults } from './interposer.ts'
import { described, gets, idOf, PATIENCE_MS, statuses, twoPulls, until, within } from './pulls.ts'
import { loopbackOnly } from './loopback-only.ts'

loopbackOnly()

const SECTION = '(see "Two pulls, one download")'

/** Every file under the store's blobs/ that is not a whole blob in its place. */
function partialBlobs(root: string): string[] {
  const blobs = storePaths(root).blobs
  if (!existsSync(blobs)) return []
  return readdirSync(blobs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => !/\/sha256\/[a-f0-9]{64}$/.test(path))
}

describeKernel('pulls that share a download', () => {
  let registry: Registry
  let a: TestImage
  let b: TestImage

  beforeAll(async () => {
    // two images on one base layer
    const top = (n: number): Entry[] => [{ name: `f${n}`, content: `layer ${n}\n`.repeat(1000) }]
    a = await buildImage([probeEntries(), top(1)])
    b = await buildImage([probeEntries(), top(2)])
    registry = await startRegistry()
    await pushImage(registry, 'shared/a', 'latest', a)
    await pushImage(registry, 'shared/b', 'latest', b)
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('two images on one base layer, pulled at once: the layer is fetched once, and both pulls show its progress', async () => {
    const base = a.layers[0]!
    const proxy = await interpose(registry, { hold: [base.digest] })
    const root = tempDir('minidocker-store-')
    const [first, second] = await twoPulls(proxy, root, ['shared/a', 'shared/b'], a.layers[0]!.digest)
    proxy.release(base.digest)
    const errors = await Promise.all([first.outcome, second.outcome])
    if (errors.some(Boolean)) expect.fail(`two pulls of images sharing their base layer, and they failed: ${errors.map(described).join('; ')}`)
    expect(gets(proxy, base.digest), `shared/a and shared/b both need layer ${base.digest}, and their pulls ran at once: the registry was asked for it ${gets(proxy, base.digest)} times. What do the two pulls have in common, and what names a download? ${SECTION}`).toBe(1)
    const full = ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']
    expect(statuses(first, base.digest), 'the lines of the pull that started the shared layer\'s download').toEqual(full)
    expect(statuses(second, base.digest), `the lines of the pull that found the layer's download running: it shows the same progress as the pull that started it, as a second docker pull does. Where do the reports of a shared download go? ${SECTION}`).toEqual(full)
    const lastBar = second.messages.filter((m) => m.id === idOf(base.digest) && m.status === 'Downloading').at(-1)
    expect(lastBar?.progressDetail, 'the second pull\'s last "Downloading" counts every byte of the blob').toEqual({ current: base.size, total: base.size })
    expect(resolveImage(root, `${proxy.host}/shared/a`), 'shared/a in the store').toBe(a.id)
    expect(resolveImage(root, `${proxy.host}/shared/b`), 'shared/b in the store').toBe(b.id)
  })

  it('one image pulled twice at once, the pull that started the download cancelled: the other completes', async () => {
    const base = a.layers[0]!
    const proxy = await interpose(registry, { hold: [base.digest] })
    const root = tempDir('minidocker-store-')
    const cancel = new AbortController()
    const [first, second] = await twoPulls(proxy, root, ['shared/a', 'shared/a'], base.digest, [cancel.signal])
    cancel.abort()
    const ended = await within(first.outcome, PATIENCE_MS)
    if (ended === 'late') expect.fail(`the first pull was cancelled, and ${PATIENCE_MS / 1000} s later it had not ended: it was still waiting for the shared download, which the link holds half-sent. What is a cancelled pull still waiting for? ${SECTION}`)
    expect(ended, 'the first pull was cancelled while its layer was held half-sent, and it succeeded').toBeDefined()
    proxy.release(base.digest)
    const error = await second.outcome
    if (error) expect.fail(`the first pull was cancelled, and the second, which watched the same download, failed: ${described(error)}. Whose download is it, and what may one pull's cancel stop? ${SECTION}`)
    expect(proxy.abandoned, 'the link saw the shared download given up when the first pull was cancelled').toEqual([])
    expect(gets(proxy, base.digest), 'the layer was fetched more than once').toBe(1)
    expect(existsSync(blobPath(storePaths(root).blobs, base.digest)), 'the layer\'s blob is not in the store').toBe(true)
    expect(resolveImage(root, `${proxy.host}/shared/a`), 'the second pull\'s image in the store').toBe(a.id)
  })

  it('one image pulled twice at once, both pulls cancelled: the download stops and leaves nothing', async () => {
    const base = a.layers[0]!
    const proxy = await interpose(registry, { hold: [base.digest] })
    const root = tempDir('minidocker-store-')
    const cancels = [new AbortController(), new AbortController()]
    const pulls = await twoPulls(proxy, root, ['shared/a', 'shared/a'], base.digest, cancels.map((c) => c.signal))
    for (const cancel of cancels) cancel.abort()
    const ended = await within(Promise.all(pulls.map((p) => p.outcome)), PATIENCE_MS)
    if (ended === 'late') expect.fail(`both pulls were cancelled, and ${PATIENCE_MS / 1000} s later they had not both ended. What is a cancelled pull still waiting for, and who stops the download nobody watches? ${SECTION}`)
    await until(() => proxy.abandoned.includes(base.digest))
    expect(proxy.abandoned, `both pulls were cancelled, and ${PATIENCE_MS / 1000} s later the layer's download was still open (the link holds it half-sent): nobody watches it any more, so who stops it? ${SECTION}`).toEqual([base.digest])
    await until(() => partialBlobs(root).length === 0)
    expect(partialBlobs(root), 'the stopped download left these files in the store\'s blobs/').toEqual([])
    expect(existsSync(blobPath(storePaths(root).blobs, base.digest)), 'a blob was stored from a download that was stopped').toBe(false)
  })

  it('a shared download that fails: both pulls fail with its error, and a pull after them fetches the layer again', async () => {
    const base = a.layers[0]!
    const faults: Faults = { hold: [base.digest], corrupt: [base.digest] }
    const proxy = await interpose(registry, faults)
    const root = tempDir('minidocker-store-')
    const [first, second] = await twoPulls(proxy, root, ['shared/a', 'shared/b'], a.layers[0]!.digest)
    proxy.release(base.digest)
    const [error1, error2] = await Promise.all([first.outcome, second.outcome])
    expect(described(error1), 'the base layer arrived with a byte flipped: expected the pull that started its download to fail with the DigestMismatchError naming it').toMatch(new RegExp(`^DigestMismatchError: .*${base.digest}`))
    expect(described(error2), `the shared download failed with the error the first pull reports, and the second pull, which watched it, reported the above: what does a watcher of a failed download learn? ${SECTION}`).toBe(described(error1))
    expect(gets(proxy, base.digest), 'the layer was fetched more than once').toBe(1)
    faults.corrupt = []
    const third = await caught(() => pullImage(`${proxy.host}/shared/a`, { root }))
    if (third) expect.fail(`the link no longer corrupts the layer, and a third pull after the two failed ones failed too: ${described(third)}. What did the failed transfer leave behind? ${SECTION}`)
    expect(gets(proxy, base.digest), 'the third pull succeeded without fetching the layer again').toBe(2)
  })

  it('a pull after a finished download, into a store emptied since, fetches the layer again', async () => {
    const base = a.layers[0]!
    const proxy = await interpose(registry, {})
    const root = tempDir('minidocker-store-')
    const before = await caught(() => pullImage(`${proxy.host}/shared/a`, { root }))
    if (before) expect.fail(`the first pull failed: ${described(before)}`)
    for (const entry of readdirSync(root)) rmSync(join(root, entry), { recursive: true, force: true })
    const again = await within(caught(() => pullImage(`${proxy.host}/shared/a`, { root })), PATIENCE_MS)
    const what = again === 'late' ? `had not ended ${PATIENCE_MS / 1000} s later` : again ? `failed: ${described(again)}` : 'succeeded'
    expect(gets(proxy, base.digest), `the store was emptied after the first pull, and the pull after it ${what}, having asked the registry for the layer ${gets(proxy, base.digest) - 1} times: which knows whether a layer is there, the store or a finished transfer? ${SECTION}`).toBe(2)
    expect(again, `the second pull ${what}`).toBeUndefined()
    expect(resolveImage(root, `${proxy.host}/shared/a`), 'the image in the emptied store').toBe(a.id)
  })
})
