/**
 * A registry decides what it sends; the client decides how much it reads. These tests answer
 * from a small HTTP server on the loopback interface that lies: a manifest far bigger than any
 * manifest, sent chunked (no Content-Length to check), a layer descriptor without a size, an
 * index whose "digest" is a tag.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchManifest } from '#ch/07-registry/client.ts'
import { downloadBlob } from '#ch/07-registry/download.ts'
import { hostPlatform } from '#ch/07-registry/platform.ts'
import { resolveManifest } from '#ch/07-registry/pull.ts'
import { parseReference } from '#ch/07-registry/reference.ts'
import { MAX_MANIFEST_SIZE, type Descriptor, type Session } from '../../lib/registry.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, OCI, sha256 } from '../support/images.ts'

let server: Server
let session: Session
/** bytes of the chunked manifest the server managed to send before the client hung up */
let bigSent = 0
const blobRequests: string[] = []
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
  manifests.set('wrong-size', index({ digest: image.manifest.digest, size: image.manifest.size + 1000 }))
  server = createServer((req, res) => {
    const url = req.url ?? ''
    if (url === '/v2/') return res.end('{}')
    if (url.includes('/blobs/')) {
      blobRequests.push(url)
      return res.end('x')
    }
    const name = url.slice(url.lastIndexOf('/') + 1)
    if (name === 'big') {
      res.writeHead(200, { 'Content-Type': OCI.manifest }) // chunked: no Content-Length
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const more = () => {
        while (bigSent < 16 * MAX_MANIFEST_SIZE && !res.destroyed) {
          bigSent += chunk.length
          if (!res.write(chunk)) return void res.once('drain', more)
        }
        res.end()
      }
      return more()
    }
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

describe('a manifest bigger than any manifest', () => {
  it('is refused once MAX_MANIFEST_SIZE is passed, though no Content-Length says so', async () => {
    const error = await caught(() => fetchManifest(session, 'big'))
    expect(error, 'a chunked answer of 64 MiB must be refused, not read whole').toBeInstanceOf(Error)
    expect(error.message, 'name the manifest and the limit').toMatch(/manifest big.*4194304/)
    expect(bigSent, 'the client must stop reading soon after the limit').toBeLessThan(8 * MAX_MANIFEST_SIZE)
  })
})

describe('a blob whose descriptor gives no size', () => {
  for (const size of [undefined, -1, '12', 1.5, Number.MAX_SAFE_INTEGER + 2]) {
    it(`is not downloaded at all (size ${JSON.stringify(size)})`, async () => {
      const before = blobRequests.length
      const descriptor = { mediaType: OCI.layer, digest: sha256('x'), size } as unknown as Descriptor
      const error = await caught(() => downloadBlob(session, descriptor, tempDir()))
      expect(blobRequests.length, 'without a size nothing bounds what the registry sends: refuse before the GET').toBe(before)
      expect(error?.message, 'without a size nothing bounds what the registry sends: refuse before the GET').toMatch(/no valid size/)
      expect(blobRequests.length, 'no request may be made').toBe(before)
    })
  }
})

describe('an index entry', () => {
  for (const [name, why] of [['tag-as-digest', /"latest".*not a sha256 digest/], ['path-as-digest', /"sha256:\.\.\/\.\.\/\.\.\/etc\/passwd".*not a sha256 digest/], ['wrong-size', /bytes, but the index gives/]] as const) {
    it(`is fetched by a valid digest of its given size only (${name})`, async () => {
      const ref = parseReference('127.0.0.1:5000/evil')
      const error = await caught(() => resolveManifest(session, { ...ref, tag: name }, tempDir(), hostPlatform()))
      expect(error, 'an index child must be fetched by its digest, never by a tag, and be the size the index says').toBeInstanceOf(Error)
      expect(error.message).toMatch(why)
    })
  }
})
