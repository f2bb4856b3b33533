import { afterAll, beforeAll, expect, it } from 'vitest'
import { pullImage } from '#ch/07-registry/pull.ts'
import { Slots } from '../../lib/slots.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, type Entry, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'
import { interpose, type Interposer } from './interposer.ts'
import { loopbackOnly } from './loopback-only.ts'
import { described, gets, idOf, PATIENCE_MS, said, sleep, start, statuses, until, within, type Pull } from './pulls.ts'

loopbackOnly()

const SECTION = '(see "One limit for the daemon")'

describeKernel('one download limit for every pull of the process', () => {
  let registry: Registry
  /** three layers, two layers and one layer, none shared */
  let three: TestImage
  let two: TestImage
  let one: TestImage

  beforeAll(async () => {
    const layer = (name: string): Entry[] => [{ name, content: `layer ${name}\n`.repeat(1000) }]
    three = await buildImage([layer('c0'), layer('c1'), layer('c2')])
    two = await buildImage([layer('d0'), layer('d1')])
    one = await buildImage([layer('e0')])
    registry = await startRegistry()
    await pushImage(registry, 'limit/three', 'latest', three)
    await pushImage(registry, 'limit/two', 'latest', two)
    await pushImage(registry, 'limit/one', 'latest', one)
  })
  afterAll(async () => {
    await registry?.stop()
  })

  const digests = (image: TestImage) => image.layers.map((l) => l.digest)
  const shortIds = (list: string[]) => `[${list.map(idOf).join(', ')}]`
  /** The layers of `image` the registry was asked for, in the order asked. */
  const requested = (proxy: Interposer, ...images: TestImage[]) => proxy.blobRequests.filter((d) => images.some((i) => digests(i).includes(d)))
  const waiting = (pull: Pull, image: TestImage) => digests(image).every((d) => said(pull, d, 'Waiting'))

  it('two pulls at once, of 3 and 2 layers: never more than three downloads open, started in the order they asked, and both finish', async () => {
    const all = [...digests(three), ...digests(two)]
    const proxy = await interpose(registry, { hold: all, uncounted: [three.config.digest, two.config.digest] })
    const root = tempDir('minidocker-store-')
    const first = start(`${proxy.host}/limit/three`, root)
    await until(() => requested(proxy, three).length === 3, [first])
    // the second pull asks once the first one's downloads fill the three slots
    const second = start(`${proxy.host}/limit/two`, root)
    await until(() => waiting(second, two) || requested(proxy, two).length > 0, [first, second])
    await sleep(300)
    expect(proxy.maxBlobsInFlight, `two pulls ran at once in one process, one of 3 layers and one of 2, none shared, and the registry saw ${proxy.maxBlobsInFlight} layer downloads open at once. dockerd's three slots are the daemon's, shared by all its pulls: where do yours live? ${SECTION}`).toBeLessThanOrEqual(3)
    expect(two.layers.map((l) => statuses(second, l.digest)), 'the second pull\'s two layers, while the first pull\'s three downloads held every slot: each says "Waiting" (pullImage\'s doc comment)').toEqual([['Pulling fs layer', 'Waiting'], ['Pulling fs layer', 'Waiting']])
    proxy.release(three.layers[1]!.digest)
    await until(() => requested(proxy, two).length > 0, [first, second])
    await sleep(300)
    const [d0, d1] = digests(two) as [string, string]
    expect(shortIds(requested(proxy, two)), `one slot came free, and the second pull's layers ${idOf(d0)} and ${idOf(d1)} had asked for a slot in that order: which one starts? ${SECTION}`).toBe(shortIds([d0]))
    for (const digest of all) proxy.release(digest)
    const ended = await within(Promise.all([first.outcome, second.outcome]), PATIENCE_MS)
    if (ended === 'late') expect.fail(`every layer was released, and ${PATIENCE_MS / 1000} s later the two pulls had not both ended: is a slot waited for that nobody gives back? ${SECTION}`)
    if (ended.some(Boolean)) expect.fail(`two pulls at once, and they failed: ${ended.map(described).join('; ')}`)
    expect(all.map((d) => gets(proxy, d)), 'each layer was asked for once').toEqual(all.map(() => 1))
    expect(proxy.maxBlobsInFlight, 'all three slots were used').toBe(3)
  })

  it('a pull cancelled while its downloads wait for a slot: they never start, and give back no slot they did not hold', async () => {
    const slots = new Slots(1)
    const [c0] = digests(three) as [string]
    const proxy = await interpose(registry, { hold: [c0] })
    const root = tempDir('minidocker-store-')
    const first = start(`${proxy.host}/limit/three`, root, { slots })
    await until(() => requested(proxy, three).length > 0 && said(first, three.layers[2]!.digest, 'Waiting'), [first])
    const cancel = new AbortController()
    const second = start(`${proxy.host}/limit/two`, root, { slots, signal: cancel.signal })
    await until(() => waiting(second, two), [first, second])
    cancel.abort()
    const cancelled = await within(second.outcome, PATIENCE_MS)
    if (cancelled === 'late') expect.fail(`the second pull was cancelled while its layers waited for a slot, and ${PATIENCE_MS / 1000} s later it had not ended: what is a cancelled pull still waiting for? (see "Two pulls, one download")`)
    await sleep(300)
    expect(shortIds(requested(proxy, three, two)), `one slot, held by layer ${idOf(c0)} half-sent; the second pull's two downloads left the queue when it was cancelled, and then the registry saw these downloads opened: what did the leaving downloads give back, having held nothing? ${SECTION}`).toBe(shortIds([c0]))
    proxy.release(c0)
    const error = await within(first.outcome, PATIENCE_MS)
    if (error === 'late') expect.fail(`layer ${idOf(c0)} was released, and ${PATIENCE_MS / 1000} s later the first pull had not ended: the registry was asked for ${shortIds(requested(proxy, three))}. Whom did the slot go to? ${SECTION}`)
    if (error) expect.fail(`the first pull failed: ${described(error)}`)
    expect(shortIds(requested(proxy, two)), `the second pull was cancelled while its downloads waited, and they were opened later all the same: what must happen to a waiter that nobody wants any more? ${SECTION}`).toBe('[]')
    const again = await within(caught(() => pullImage(`${proxy.host}/limit/two`, { root, slots })), PATIENCE_MS)
    if (again === 'late') expect.fail(`after the cancelled pull and the finished one, a third pull with the same slots (none of them in use) had not ended ${PATIENCE_MS / 1000} s later, having asked the registry for ${shortIds(requested(proxy, two))}: is a slot lost? When a download ends, who is "next" in your queue, and are the cancelled ones still there? ${SECTION}`)
    if (again) expect.fail(`a third pull with the same slots failed: ${described(again)}`)
  })

  it('a download that fails gives its slot back: the download waiting next starts', async () => {
    const slots = new Slots(1)
    const [e0] = digests(one) as [string]
    const proxy = await interpose(registry, { hold: [e0], corrupt: [e0] })
    const root = tempDir('minidocker-store-')
    const first = start(`${proxy.host}/limit/one`, root, { slots })
    await until(() => requested(proxy, one).length > 0, [first])
    const second = start(`${proxy.host}/limit/two`, root, { slots })
    await until(() => waiting(second, two), [first, second])
    proxy.release(e0)
    const failed = await within(first.outcome, PATIENCE_MS)
    expect(failed === 'late' ? 'still running' : described(failed), `layer ${idOf(e0)} arrived with a byte flipped: expected its pull to fail with the DigestMismatchError naming it`).toMatch(new RegExp(`^DigestMismatchError: .*${e0}`))
    const error = await within(second.outcome, PATIENCE_MS)
    if (error === 'late') expect.fail(`the one slot's download failed its digest check, and the second pull, whose layers waited for that slot, had not ended ${PATIENCE_MS / 1000} s later (the registry was asked for ${shortIds(requested(proxy, two))} of its layers): what gives a slot back when a download fails? ${SECTION}`)
    if (error) expect.fail(`the second pull, whose layers waited while another pull's download failed, failed: ${described(error)}. Whose failure was it? ${SECTION}`)
  })

  it('a second pull that joins: a waiting download says "Waiting" to it too, and a running one takes no slot for it', async () => {
    const slots = new Slots(1)
    const [d0, d1] = digests(two) as [string, string]
    const proxy = await interpose(registry, { hold: [d0] })
    const root = tempDir('minidocker-store-')
    const first = start(`${proxy.host}/limit/two`, root, { slots })
    await until(() => said(first, d0, 'Downloading') && said(first, d1, 'Waiting'), [first])
    const second = start(`${proxy.host}/limit/two`, root, { slots })
    await until(() => statuses(second, d1).length > 1 && statuses(second, d0).length > 1, [first, second])
    await sleep(300)
    expect(statuses(second, d1), `the second pull joined layer ${idOf(d1)}'s download while it waited for the only slot, and showed the above; the first pull showed "Waiting". Whose report is "Waiting", and what does a pull that joins see first? ${SECTION}`).toEqual(['Pulling fs layer', 'Waiting'])
    expect(statuses(second, d0), `the second pull joined layer ${idOf(d0)}'s running download, which holds the only slot, and showed the above instead of its bar: does a pull that only watches a download need a slot? ${SECTION}`).toEqual(['Pulling fs layer', 'Downloading'])
    proxy.release(d0)
    const ended = await within(Promise.all([first.outcome, second.outcome]), PATIENCE_MS)
    if (ended === 'late') expect.fail(`layer ${idOf(d0)} was released, and ${PATIENCE_MS / 1000} s later the two pulls had not both ended ${SECTION}`)
    if (ended.some(Boolean)) expect.fail(`two pulls of one image at once, and they failed: ${ended.map(described).join('; ')}`)
    expect([d0, d1].map((d) => gets(proxy, d)), 'each layer was asked for once').toEqual([1, 1])
  })
})
