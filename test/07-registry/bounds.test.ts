/**
 * A registry decides what it sends; the client decides how much it reads. These tests answer
 * from a small HTTP server on the loopback interface that lies: a layer descriptor without a
 * size, an index whose "digest" is a tag. And it serves indexes as other tools write them, each
 * in its order and in the reverse one: the entry a pull takes is compared with the one each case
 * expects, whichever order it is served in. (The manifest far bigger than any manifest is
 * test/lib/registry-manifest.test.ts's: fetchManifest is given.)
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { downloadBlob } from '#ch/07-registry/download.ts'
import { resolveManifest } from '#ch/07-registry/pull.ts'
import { canRun, formatPlatform, hostPlatform, normalizePlatform } from '../../lib/platform.ts'
import { parseReference } from '../../lib/reference.ts'
import type { Descriptor, Session } from '../../lib/registry.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, OCI, sha256 } from '../support/images.ts'

let server: Server
/**
 * indexes, by tag: their entries' platforms in the order they list them (unknown/unknown: BuildKit's
 * attestations), each spelled as some pusher wrote it. Each is served as listed and, under
 * "<tag>-reversed", in the other order.
 */
const CHOICES: Record<string, string[]> = {
  // busybox's order on the Hub
  'like-busybox': ['unknown/unknown', 'linux/amd64', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm64/v8', 'linux/386', 'linux/s390x'],
  // a build for newer x86-64 CPUs beside the one for every amd64 machine
  'amd64-levels': ['linux/amd64/v3', 'linux/arm64/v8', 'linux/amd64'],
  'no-amd64': ['linux/arm64/v8', 'linux/386'],
  // indexes written by other tools than BuildKit: architectures as uname -m says them, variants left out
  'bare-arm': ['linux/arm/v5', 'linux/arm'],
  'bare-arm64': ['linux/arm/v7', 'linux/arm64'],
  'uname-spelling': ['linux/386', 'linux/x86_64'],
  'armhf': ['linux/armhf', 'linux/arm/v6'],
  // two entries for one platform (a pusher that appended a rebuild)
  'twice': ['linux/arm64/v8', 'linux/amd64', 'linux/amd64', 'linux/386'],
  // entries without the optional platform field, beside others
  'unplatformed': ['(no platform)', 'linux/arm64/v8'],
  'partly-unplatformed': ['(no platform)', 'linux/amd64', 'linux/386', '(no platform)'],
  // none for the machine's own platform, several it runs
  'older-levels': ['linux/amd64', 'linux/386', 'linux/amd64/v2'],
  'older-arm': ['linux/arm/v5', 'linux/arm/v6'],
}
/** what each index is pulled for: its tag, the platform asked for, and the entry the pull must take */
const ASKED: [string, string, string][] = [
  ['like-busybox', 'linux/arm', 'linux/arm/v7'],
  ['amd64-levels', 'linux/amd64', 'linux/amd64'],
  ['no-amd64', 'linux/amd64', 'linux/386'],
  ['bare-arm', 'linux/arm', 'linux/arm'],
  ['bare-arm64', 'linux/arm64/v8', 'linux/arm64'],
  ['uname-spelling', 'linux/amd64', 'linux/x86_64'],
  ['armhf', 'linux/arm/v6', 'linux/arm/v6'],
  ['twice', 'linux/amd64', 'linux/amd64'],
  ['unplatformed', 'linux/amd64', '(no platform)'],
  ['partly-unplatformed', 'linux/amd64', 'linux/amd64'],
  ['older-levels', 'linux/amd64/v3', 'linux/amd64/v2'],
  ['older-arm', 'linux/arm/v7', 'linux/arm/v6'],
]
let session: Session
const blobRequests: string[] = []
/** the size the wrong-size index gives its entry */
let entrySize = 0
const manifests = new Map<string, { type: string; body: Buffer }>()
/** the config digest that tells entry `i` of index `tag` apart */
const configFor = (tag: string, i: number) => sha256(`${tag}#${i}`)

beforeAll(async () => {
  const image = await buildImage([[{ name: 'a', content: 'a' }]])
  const child = { type: OCI.manifest, body: image.manifest.data }
  manifests.set('latest', child)
  manifests.set(image.manifest.digest, child)
  const platform = { os: 'linux', architecture: hostPlatform().architecture }
  const index = (entry: object) => ({ type: OCI.index, body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI.index, manifests: [{ mediaType: OCI.manifest, platform, ...entry }] })) })
  manifests.set('tag-as-digest', index({ digest: 'latest', size: image.manifest.size }))
  manifests.set('path-as-digest', index({ digest: 'sha256:../../../etc/passwd', size: 10 }))
  entrySize = image.manifest.size + 1000
  manifests.set('wrong-size', index({ digest: image.manifest.digest, size: entrySize }))
  // indexes shaped like the Hub's: one small manifest per entry, told apart by its config's digest
  for (const [tag, platforms] of Object.entries(CHOICES)) {
    const entries = platforms.map((text, i) => {
      const [os, architecture, variant] = text.split('/')
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI.manifest, config: { mediaType: OCI.config, digest: configFor(tag, i), size: 1 }, layers: [] }))
      manifests.set(sha256(body), { type: OCI.manifest, body })
      const entry = { mediaType: OCI.manifest, digest: sha256(body), size: body.length }
      return text === '(no platform)' ? entry : { ...entry, platform: { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) } }
    })
    const serve = (name: string, listed: object[]) => manifests.set(name, { type: OCI.index, body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI.index, manifests: listed })) })
    serve(tag, entries)
    serve(`${tag}-reversed`, [...entries].reverse())
  }
  server = createServer((req, res) => {
    const url = req.url ?? ''
    if (url === '/v2/') return res.end('{}')
    if (url.includes('/blobs/')) {
      blobRequests.push(url)
      return res.end('x')
    }
    const name = url.slice(url.lastIndexOf('/') + 1)
    const found = manifests.get(name)
    if (!found) return res.writeHead(404).end()
    res.writeHead(200, { 'Content-Type': found.type, 'Docker-Content-Digest': sha256(found.body) }).end(found.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  session = { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, repository: 'evil' }
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('a blob descriptor', () => {
  for (const size of [undefined, -1, '12', 1.5, Number.MAX_SAFE_INTEGER + 2]) {
    it(`with size ${JSON.stringify(size)}`, async () => {
      const before = blobRequests.length
      const descriptor = { mediaType: OCI.layer, digest: sha256('x'), size } as unknown as Descriptor
      const error = await caught(() => downloadBlob(session, descriptor, tempDir()))
      expect(blobRequests.length, `downloadBlob sent a GET for a blob whose descriptor gives size ${JSON.stringify(size)}: what would bound the bytes the registry sends back? (see "Downloading, verified while streaming")`).toBe(before)
      expect(error?.message, `expected an Error saying "no valid size" (downloadBlob's doc comment) for size ${JSON.stringify(size)}`).toMatch(/no valid size/)
      expect(blobRequests.length, 'downloadBlob sent a GET after all').toBe(before)
    })
  }
})

describe('an index entry', () => {
  const cases = [
    ['tag-as-digest', 'whose "digest" is the tag latest', () => /"latest"/],
    ['path-as-digest', 'whose "digest" is sha256:../../../etc/passwd', () => /sha256:\.\.\/\.\.\/\.\.\/etc\/passwd/],
    ['wrong-size', 'whose size is 1000 bytes more than its manifest\'s', () => new RegExp(`\\b${entrySize}\\b`)],
  ] as const
  for (const [name, what, why] of cases) {
    it(`${what} (${name})`, async () => {
      const ref = parseReference('127.0.0.1:5000/evil')
      const error = await caught(() => resolveManifest(session, { ...ref, tag: name }, tempDir(), hostPlatform()))
      expect(error, `an index entry ${what} was followed without an error: what must hold of an entry from the registry before it becomes a URL, and of the manifest it names? (see "Choosing a platform")`).toBeInstanceOf(Error)
      expect(error.message, `an index entry ${what} was refused, but the Error does not quote what it refuses (resolveManifest's doc comment)`).toMatch(why())
    })
  }
})

describe('an index, and the entry for a platform', () => {
  /** What a pull for `wanted` took from index `tag` served in `order`: the entry's place in CHOICES[tag], or its error. */
  async function take(tag: string, order: '' | '-reversed', wanted: string): Promise<{ taken?: number; error?: Error }> {
    const [os, architecture, variant] = wanted.split('/')
    const ref = parseReference(`127.0.0.1:5000/evil:${tag}${order}`)
    let digest: string | undefined
    const error = await caught(async () => {
      digest = (await resolveManifest(session, ref, tempDir(), { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) })).manifest.config.digest
    })
    const taken = CHOICES[tag]!.findIndex((_, i) => configFor(tag, i) === digest)
    return error ? { error } : { taken }
  }
  /** An entry of `tag` as a machine reads it: its platform, normalised ('' when it names none). */
  const spelled = (tag: string, i: number): string => {
    const text = CHOICES[tag]![i]!
    if (text === '(no platform)') return ''
    const [os, architecture, variant] = text.split('/')
    return formatPlatform(normalizePlatform({ os: os!, architecture: architecture!, ...(variant ? { variant } : {}) }))
  }
  const platformOf = (wanted: string) => {
    const [os, architecture, variant] = wanted.split('/')
    return { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) }
  }
  for (const [tag, wanted, expected] of ASKED) {
    const listed = CHOICES[tag]!
    it(`${wanted} from ${listed.join(', ')}`, async () => {
      const runnable = (i: number) => spelled(tag, i) === '' || canRun(platformOf(wanted), platformOf(spelled(tag, i)))
      const docker = listed.indexOf(expected)
      const what = (r: { taken?: number; error?: Error }) => (r.error ? `failed with ${r.error.message}` : `took entry ${r.taken! + 1} of ${listed.length}, ${listed[r.taken!]}`)
      for (const order of ['', '-reversed'] as const) {
        const result = await take(tag, order, wanted)
        const shown = order ? [...listed].reverse() : listed
        const where = `asked for ${wanted} from an index listing ${shown.join(', ')}, your resolveManifest ${what(result)}`
        if (result.error || result.taken === undefined || result.taken < 0) expect.fail(`${where}. Which of these entries may a ${wanted} machine take, however each is spelled, and what does an entry that says nothing fit? (see "Choosing a platform"; moby's filterManifests, and what containerd's platforms.Only does to the entry its Match is given)`)
        const taken = result.taken
        expect(runnable(taken), `${where}: can a ${wanted} machine run that? How do containerd's platforms spell each entry, and what does an entry without a variant stand for? (see "Choosing a platform")`).toBe(true)
        const other = await take(tag, order ? '' : '-reversed', wanted)
        if (other.taken !== undefined && other.taken >= 0 && spelled(tag, other.taken) !== spelled(tag, taken)) expect.fail(`${where}, and from the same entries in the other order it ${what(other)}: who wrote that order, and what should decide instead? (see "Choosing a platform"; moby's filterManifests)`)
        if (spelled(tag, taken) !== spelled(tag, docker))
          expect.fail(`${where}: a ${wanted} machine runs more than one of these. Which does it run best, and how would you know? (see "Choosing a platform"; containerd's platforms.Only)`)
        const first = shown.findIndex((_, k) => spelled(tag, order ? listed.length - 1 - k : k) === spelled(tag, taken))
        const firstListed = order ? listed.length - 1 - first : first
        expect(taken === firstListed, `${where}: the index lists that platform more than once. Which of its entries does docker pull take, and why that one? (see "Choosing a platform")`).toBe(true)
      }
    })
  }
})
