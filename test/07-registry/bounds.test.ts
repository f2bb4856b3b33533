/**
 * A registry decides what it sends; the client decides how much it reads. These tests answer
 * from a small HTTP server on the loopback interface that lies: a layer descriptor without a
 * size, an index whose "digest" is a tag. (The manifest far bigger than any manifest is
 * test/lib/registry-manifest.test.ts's: fetchManifest is given.)
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { downloadBlob } from '#ch/07-registry/download.ts'
import { resolveManifest } from '#ch/07-registry/pull.ts'
import { hostPlatform } from '../../lib/platform.ts'
import { parseReference } from '../../lib/reference.ts'
import type { Descriptor, Session } from '../../lib/registry.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, OCI, sha256 } from '../support/images.ts'

let server: Server
/** indexes, by tag: their entries' platforms in the order they list them (unknown/unknown: BuildKit's attestations) */
const CHOICES: Record<string, string[]> = {
  // busybox's order on the Hub
  'like-busybox': ['unknown/unknown', 'linux/amd64', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm64/v8', 'linux/386', 'linux/s390x'],
  // a build for newer x86-64 CPUs listed before the one for every amd64 machine
  'amd64-levels': ['linux/amd64/v3', 'linux/arm64/v8', 'linux/amd64'],
  'no-amd64': ['linux/arm64/v8', 'linux/386'],
}
let session: Session
const blobRequests: string[] = []
/** the size the wrong-size index gives its entry */
let entrySize = 0
const manifests = new Map<string, { type: string; body: Buffer }>()

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
  // indexes shaped like the Hub's: one small manifest per platform, told apart by its config's digest
  for (const [tag, platforms] of Object.entries(CHOICES)) {
    const entries = platforms.map((text) => {
      const [os, architecture, variant] = text.split('/')
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI.manifest, config: { mediaType: OCI.config, digest: sha256(text), size: text.length }, layers: [] }))
      manifests.set(sha256(body), { type: OCI.manifest, body })
      return { mediaType: OCI.manifest, digest: sha256(body), size: body.length, platform: { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) } }
    })
    manifests.set(tag, { type: OCI.index, body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI.index, manifests: entries })) })
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
  const cases = [
    ['like-busybox', 'linux/arm', 'linux/arm/v7', 'the index lists linux/arm/v5, linux/arm/v6 and linux/arm/v7, in that order, and docker pull --platform linux/arm takes another than yours. Which arm does a machine that says linux/arm run best, and which order decides: the index\'s, or the machine\'s?'],
    ['amd64-levels', 'linux/amd64', 'linux/amd64', 'the index lists linux/amd64/v3 before linux/amd64. Can every machine that asks for linux/amd64 run what your pull took?'],
    ['no-amd64', 'linux/amd64', 'linux/386', 'the index has no linux/amd64 entry, and docker pull on an amd64 machine still pulls one of its entries. Which of them can an amd64 machine run?'],
  ] as const
  for (const [tag, wanted, right, question] of cases) {
    it(`${wanted} from ${CHOICES[tag]!.join(', ')}`, async () => {
      const [os, architecture] = wanted.split('/')
      const ref = parseReference(`127.0.0.1:5000/evil:${tag}`)
      let taken: string | undefined
      const error = await caught(async () => {
        taken = (await resolveManifest(session, ref, tempDir(), { os: os!, architecture: architecture! })).manifest.config.digest
      })
      const chosen = CHOICES[tag]!.find((text) => sha256(text) === taken)
      expect(error === undefined && chosen === right, `asked for ${wanted}, your resolveManifest ${error ? `failed with ${error.message}` : `took ${chosen}`}: ${question} (see "Choosing a platform"; containerd's platforms.Only)`).toBe(true)
    })
  }
})
