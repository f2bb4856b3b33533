/**
 * lib/registry-client.ts's fetchManifest reads a manifest whole, so it bounds what it reads: a
 * small HTTP server on the loopback interface sends a manifest far bigger than any manifest,
 * chunked (no Content-Length to check).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { fetchManifest } from '../../lib/registry-client.ts'
import { MAX_MANIFEST_SIZE, type Session } from '../../lib/registry.ts'
import { caught } from '../support/errors.ts'
import { OCI } from '../support/images.ts'

let server: Server
let session: Session
/** bytes of the chunked manifest the server managed to send before the client hung up */
let bigSent = 0

beforeAll(async () => {
  server = createServer((req, res) => {
    if (!(req.url ?? '').endsWith('/manifests/big')) return res.writeHead(404).end()
    res.writeHead(200, { 'Content-Type': OCI.manifest }) // chunked: no Content-Length
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    const more = () => {
      while (bigSent < 16 * MAX_MANIFEST_SIZE && !res.destroyed) {
        bigSent += chunk.length
        if (!res.write(chunk)) return void res.once('drain', more)
      }
      res.end()
    }
    more()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  session = { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, repository: 'evil' }
})

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

it('a manifest sent chunked, 64 MiB, with no Content-Length, is refused before it is read whole', async () => {
  const error = await caught(() => fetchManifest(session, 'big'))
  expect(error, 'a 64 MiB manifest sent chunked was read whole, without an error').toBeInstanceOf(Error)
  expect(error.message, 'expected the refusal to name the manifest and the limit in bytes').toMatch(/manifest big.*4194304/)
  expect(bigSent, `the registry had sent ${bigSent} bytes when the client hung up`).toBeLessThan(8 * MAX_MANIFEST_SIZE)
})
