/**
 * A link that breaks off. The tests' server between the pull and the real registry closes a
 * layer's answer after so many bytes, and counts what it is asked for and what it sends: a
 * link that drops each answer part-way, a proxy and a cache between the pull and the registry,
 * and a link that never lets the layer through. And a registry that answers a layer's request
 * with an error.
 */
import { existsSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { allImageIds, allLayers, allTags, storePaths } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { MAX_DOWNLOAD_ATTEMPTS } from '../../lib/registry.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, type TestImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'
import { interpose, type Faults } from './interposer.ts'
import { loopbackOnly } from './loopback-only.ts'
import { described, gets, PATIENCE_MS, within } from './pulls.ts'

loopbackOnly()

describeKernel('a link that breaks off', () => {
  let registry: Registry
  let image: TestImage

  beforeAll(async () => {
    registry = await startRegistry()
    // bytes that do not compress: the layer's blob is about as big as its file
    image = await buildImage([[{ name: 'noise', content: randomBytes(1 << 20) }]])
    await pushImage(registry, 'resume', 'noise', image)
  })
  afterAll(async () => {
    await registry?.stop()
  })

  it('the first two answers of a layer broken off after a third of it', async () => {
    const layer = image.layers[0]!
    const third = Math.ceil(layer.size / 3)
    const proxy = await interpose(registry, { drop: { [layer.digest]: { after: third, times: 2 } } })
    const root = tempDir('minidocker-store-')
    const error = await caught(() => pullImage(`${proxy.host}/resume:noise`, { root }))
    const seen = () => `your pull sent ${gets(proxy, layer.digest)} requests for it, and the registry sent ${proxy.bytesSent[layer.digest] ?? 0} bytes in all`
    expect(
      error,
      `the link closed the first two answers for the ${layer.size}-byte layer after ${third} bytes each, as a flaky link or a restarting mirror does, and docker pull still completes this layer; ${seen()}, and the pull failed with ${described(error)}. Does one connection that breaks off end a download? (see "Downloading, verified while streaming")`,
    ).toBeUndefined()
    const starts = proxy.blobRanges.filter((_, i) => proxy.blobRequests[i] === layer.digest).slice(1).map((range) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0))
    expect(
      starts.every((start, i) => start > (starts[i - 1] ?? 0)),
      `the layer was stored, but ${seen()}: the bytes the broken answers had delivered were fetched again. What does a download that breaks off still have, and what can a new request ask the registry for?`,
    ).toBe(true)
    expect(allImageIds(root), 'the pull succeeded, but the store has no image').toEqual([image.id])
  })

  /**
   * Pull through an interposer whose first answer for the layer breaks off after `after` bytes (its
   * other faults in `faults`), and expect the pull to complete; `met` says what the request for the
   * rest met, and asks about it.
   */
  async function pullResumed(after: number, faults: Faults, met: (error: Error | undefined) => string): Promise<void> {
    const layer = image.layers[0]!
    const proxy = await interpose(registry, { drop: { [layer.digest]: { after, times: 1 } }, ...faults })
    const root = tempDir('minidocker-store-')
    const error = await caught(() => pullImage(`${proxy.host}/resume:noise`, { root }))
    expect(
      error,
      gets(proxy, layer.digest) < 2
        ? `the first answer for the ${layer.size}-byte layer broke off after ${after} bytes, and your pull did not ask again: it failed with ${described(error)}. Does one connection that breaks off end a download? (see "Downloading, verified while streaming")`
        : `the first answer for the ${layer.size}-byte layer broke off after ${after} bytes; ${met(error)}`,
    ).toBeUndefined()
    expect(allImageIds(root), 'the pull succeeded, but the store has no image').toEqual([image.id])
  }

  it('an answer broken off, then the rest asked for through a proxy', async () => {
    const layer = image.layers[0]!
    await pullResumed(Math.ceil(layer.size / 2), { ignoreRange: [layer.digest] }, (error) =>
      `your next request went through a proxy of the kind some mirrors put in front of a registry, and docker pull still completes the layer. Your pull failed with ${described(error)}: what was the answer to that request, and did your pull read it as what it was?`)
  })

  it('an answer broken off, then the rest asked for through a chunk cache', async () => {
    const layer = image.layers[0]!
    const align = 1 << 16
    await pullResumed(align * 3 + 1000, { alignRange: { [layer.digest]: { to: align, times: 1 } } }, (error) =>
      `your next request went through a cache of the kind some mirrors keep, and docker pull still completes the layer. Your pull failed with ${described(error)}: was the answer to that request the one your pull took it for? (see "Downloading, verified while streaming")`)
  })

  it('an answer broken off, then the whole layer again from a mirror whose bytes differ', async () => {
    const layer = image.layers[0]!
    const third = Math.ceil(layer.size / 3)
    // the second answer is the whole blob, its first byte not the registry's, and it stops half-way
    const proxy = await interpose(registry, { drop: { [layer.digest]: { after: third, times: 1 } }, ignoreRange: [layer.digest], altered: [layer.digest], stall: [layer.digest] })
    const root = tempDir('minidocker-store-')
    const pulling = caught(() => pullImage(`${proxy.host}/resume:noise`, { root }))
    const error = await within(pulling, PATIENCE_MS)
    if (error === 'late')
      expect.fail(
        `the first answer for the ${layer.size}-byte layer broke off after ${third} bytes; the answer to the next request was the whole blob again, and its bytes 0-${third - 1} were not those your pull had already stored. Then it sent up to half the blob and went quiet, and ${PATIENCE_MS / 1000} s later your pull still waited for the rest. What would the digest check say of this blob at the end, and when could your pull have known it? (see "Downloading, verified while streaming")`,
      )
    expect(error, 'the pull of a blob whose answers disagree completed').toBeInstanceOf(Error)
    expect(allImageIds(root), 'an image was stored from bytes that disagree').toEqual([])
  })

  it('a layer the registry cannot serve at first', async () => {
    const layer = image.layers[0]!
    const proxy = await interpose(registry, { fail: { [layer.digest]: { status: 503, code: 'UNAVAILABLE', times: 2, headers: { 'retry-after': '0' } } } })
    const root = tempDir('minidocker-store-')
    const error = await caught(() => pullImage(`${proxy.host}/resume:noise`, { root }))
    expect(
      error,
      `the registry answered the first two requests for the layer 503 Service Unavailable (a registry restarting, a load balancer whose backend is not up yet), then served it, and docker pull completes this layer. Your pull sent ${gets(proxy, layer.digest)} requests for it and failed with ${described(error)}: what did that answer say of the registry, and of the next request? (see "Downloading, verified while streaming")`,
    ).toBeUndefined()
    expect(allImageIds(root), 'the pull succeeded, but the store has no image').toEqual([image.id])
  })

  it('a layer the registry answers with an error once, then serves', async () => {
    const layer = image.layers[0]!
    for (const [status, code] of [[404, 'BLOB_UNKNOWN'], [401, 'UNAUTHORIZED'], [429, 'TOOMANYREQUESTS']] as const) {
      const proxy = await interpose(registry, { fail: { [layer.digest]: { status, code, times: 1 } } })
      const root = tempDir('minidocker-store-')
      const error = await caught(() => pullImage(`${proxy.host}/resume:noise`, { root }))
      const requests = gets(proxy, layer.digest)
      expect(
        error,
        `the registry answered the first request for the layer ${status} ${code}, and would have served a later one; your pull asked for it ${requests} times and completed, where docker pull reports the failure. What did that answer say, and whose is it to change it: another request's, or the user's? What does each request cost where the registry counts them? (see "Downloading, verified while streaming"; moby's retryOnError)`,
      ).toBeDefined()
      expect(error.message, `the pull failed with ${described(error)}: which blob did the registry refuse, and with what? The user needs its digest`).toContain(layer.digest)
      expect(allLayers(root), 'no layer may be registered from a failed pull').toEqual([])
    }
  })

  it('every answer of a layer broken off after 4 KiB, however often it is asked for', async () => {
    const layer = image.layers[0]!
    const after = 4096
    const proxy = await interpose(registry, { drop: { [layer.digest]: { after } } })
    const root = tempDir('minidocker-store-')
    const stop = new AbortController()
    let timer: NodeJS.Timeout | undefined
    // a pull that asks at once and gives up after dockerd's number of attempts takes a second at most
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 30_000)))
    const error = await Promise.race([caught(() => pullImage(`${proxy.host}/resume:noise`, { root, signal: stop.signal })), late]).finally(() => {
      clearTimeout(timer)
      // a pull that is still asking stops here
      stop.abort(new Error('the test is over'))
    })
    const requests = gets(proxy, layer.digest)
    const why = `the link breaks off every answer of the ${layer.size}-byte layer after ${after} bytes, a mirror that is failing`
    if (error === 'late') expect.fail(`${why}, and 30 s later the pull had not ended: it had asked for the layer ${requests} times. When does a download give up?`)
    expect(error, `${why}, and your pull asked for it ${requests} times until it had it all. How often does docker pull ask before it reports the failure, and why stop at all?`).toBeDefined()
    expect(
      requests === MAX_DOWNLOAD_ATTEMPTS,
      `${why}, and your pull asked for it ${requests} times before it gave up with ${described(error)}: how many does dockerd's --max-download-attempts allow a layer, and what counts as one?`,
    ).toBe(true)
    expect(error.message, `the pull failed with ${described(error)}: which blob could it not download? The user needs its digest`).toContain(layer.digest)
    const tmp = join(storePaths(root).blobs, 'tmp')
    expect(existsSync(tmp) ? readdirSync(tmp) : [], 'the download failed, and its part stayed in the store\'s temporary files').toEqual([])
    expect(existsSync(join(storePaths(root).blobs, 'sha256', layer.digest.slice(7))), 'the download failed, and the store has a blob under its digest').toBe(false)
    expect(allLayers(root), 'no layer may be registered from a failed pull').toEqual([])
    expect(allImageIds(root), 'and no image').toEqual([])
    expect(allTags(root), 'and no tag').toEqual([])
  })
})

describeKernel('a token that expires during a pull', () => {
  let registry: Registry
  let image: TestImage

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' })
    image = await buildImage([[{ name: 'noise', content: randomBytes(1 << 16) }]])
    await pushImage(registry, 'expiring', 'latest', image)
  })
  afterAll(async () => {
    await registry?.stop()
  })

  /** the header of a token the token server issued for the repository, expired ten minutes ago */
  const expired = () => `Bearer ${registry.tokens!.token([{ type: 'repository', name: 'expiring', actions: ['pull'] }], -600)}`

  it('a layer requested with a token that has expired since the pull began', async () => {
    const layer = image.layers[0]!
    const proxy = await interpose(registry, { authorization: { [layer.digest]: { header: expired(), times: 1 } } })
    const root = tempDir('minidocker-store-')
    const before = registry.tokens!.requests.length
    const error = await caught(() => pullImage(`${proxy.host}/expiring`, { root }))
    const tokens = registry.tokens!.requests.length - before
    expect(
      error,
      `the token your pull got at its start had expired by the time it asked for the layer (the real registry answered that request 401, its WWW-Authenticate saying why), and your pull sent ${gets(proxy, layer.digest)} request(s) for the layer, asked the token server ${tokens} time(s) in all, and failed with ${described(error)}. What did the registry's challenge say was wrong with the token, and is that a verdict on the pull or on the token? (see "Downloading, verified while streaming"; containerd's dockerAuthorizer.AddResponses and invalidAuthorization, core/remotes/docker/authorizer.go)`,
    ).toBeUndefined()
    const asked = gets(proxy, layer.digest)
    expect(asked === 2, `the pull completed, but it asked for the layer ${asked} times and the token server ${tokens} time(s): what did each of those requests need to be sent?`).toBe(true)
    expect(allImageIds(root), 'the pull succeeded, but the store has no image').toEqual([image.id])
  })

  it('a layer the registry takes no token for, however new', async () => {
    const layer = image.layers[0]!
    const proxy = await interpose(registry, { authorization: { [layer.digest]: { header: expired() } } })
    const root = tempDir('minidocker-store-')
    const before = registry.tokens!.requests.length
    const stop = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 15_000)))
    const error = await Promise.race([caught(() => pullImage(`${proxy.host}/expiring`, { root, signal: stop.signal })), late]).finally(() => {
      clearTimeout(timer)
      stop.abort(new Error('the test is over'))
    })
    const requests = gets(proxy, layer.digest)
    const tokens = registry.tokens!.requests.length - before
    const why = `every request for the layer reached the registry with a token it refused as invalid, whatever token the pull had just got`
    if (error === 'late') expect.fail(`${why}, and 15 s later the pull had not ended: it had asked for the layer ${requests} times and the token server for ${tokens} tokens. When is a new token worth asking for?`)
    expect(error, `${why}, and your pull succeeded`).toBeDefined()
    expect(
      requests === 2,
      `${why}; your pull asked for the layer ${requests} times, and the token server ${tokens} time(s), before it failed with ${described(error)}. When is a new token worth asking for, and when has the registry given its verdict? (see "Downloading, verified while streaming"; containerd's invalidAuthorization)`,
    ).toBe(true)
    expect(error.message, `the pull failed with ${described(error)}: which blob was refused? The user needs its digest`).toContain(layer.digest)
    expect(allLayers(root), 'no layer may be registered from a failed pull').toEqual([])
  })
})
