/**
 * A loopback HTTP server between a pull and the tests' registry that misbehaves on demand, as
 * a broken mirror or a slow link would: it holds a blob's answer open half-sent until the
 * client gives up, flips a byte of a blob, answers a manifest with other bytes, orders blob
 * answers, and counts how many blob downloads are open at once.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { Blob } from '../support/images.ts'
import { freePort, type Registry } from '../support/registry.ts'

export interface Faults {
  /** blob digests whose answer sends half the bytes and then nothing, until the client closes it */
  stall?: string[]
  /** blob digests served with one byte flipped */
  corrupt?: string[]
  /** manifest references (tag or digest) answered with these bytes, the registry's headers kept */
  manifests?: Record<string, Blob>
  /** how long each blob's answer waits before its first byte, so that downloads overlap */
  blobDelayMs?: number
  /** blob digest → another blob whose answer must have been sent whole before this one starts */
  after?: Record<string, string>
}

export interface Interposer {
  /** "127.0.0.1:PORT": the domain to pull through */
  host: string
  /** the most blob requests that were open at the same time */
  maxBlobsInFlight: number
  /** the stalled blobs whose download the client stopped (by closing the connection) */
  abandoned: string[]
  stop(): Promise<void>
}

const FORWARDED = ['content-type', 'docker-content-digest', 'www-authenticate']

/** Start an interposer in front of `registry`. */
export async function interpose(registry: Registry, faults: Faults): Promise<Interposer> {
  const state: Interposer = { host: '', maxBlobsInFlight: 0, abandoned: [], stop: async () => {} }
  let inFlight = 0
  const sent = new Map<string, { promise: Promise<void>; resolve: () => void }>()
  const sentWhole = (digest: string) => {
    if (!sent.has(digest)) {
      let resolve = () => {}
      const promise = new Promise<void>((r) => (resolve = r))
      sent.set(digest, { promise, resolve })
    }
    return sent.get(digest)!
  }
  const server = createServer((req, res) => {
    const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')?.[1]
    if (blob) {
      inFlight++
      state.maxBlobsInFlight = Math.max(state.maxBlobsInFlight, inFlight)
      res.once('finish', () => sentWhole(blob).resolve())
      res.once('close', () => {
        inFlight--
        // a stalled answer never finishes: closed unfinished, the client gave up on it
        if (faults.stall?.includes(blob) && !res.writableFinished) state.abandoned.push(blob)
      })
    }
    void answer(req.url ?? '/', req.headers, res, blob).catch(() => res.destroy())
  })

  async function answer(path: string, headers: Record<string, string | string[] | undefined>, res: ServerResponse, blob?: string): Promise<void> {
    const upstream = await fetch(`${registry.url}${path}`, {
      headers: Object.fromEntries(['accept', 'authorization'].flatMap((h) => (typeof headers[h] === 'string' ? [[h, headers[h]]] : []))),
    })
    let body: Buffer = Buffer.from(await upstream.arrayBuffer())
    const reference = /\/manifests\/([^/]+)$/.exec(path)?.[1]
    const substitute = reference === undefined ? undefined : faults.manifests?.[decodeURIComponent(reference)]
    if (substitute && upstream.ok) body = substitute.data
    if (blob && faults.blobDelayMs) await new Promise((r) => setTimeout(r, faults.blobDelayMs))
    if (blob && faults.after?.[blob]) await sentWhole(faults.after[blob]).promise
    if (blob && upstream.ok && faults.corrupt?.includes(blob)) {
      body = Buffer.from(body)
      body[body.length >> 1]! ^= 0xff
    }
    const out: Record<string, string> = { 'content-length': String(body.length) }
    for (const h of FORWARDED) if (upstream.headers.has(h)) out[h] = upstream.headers.get(h)!
    res.writeHead(upstream.status, out)
    if (blob && upstream.ok && faults.stall?.includes(blob)) {
      res.write(body.subarray(0, body.length >> 1))
      return
    }
    res.end(body)
  }

  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  state.host = `127.0.0.1:${port}`
  state.stop = () => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  return state
}
