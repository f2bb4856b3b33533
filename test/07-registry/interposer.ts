/**
 * A loopback HTTP server between a pull and the tests' registry that misbehaves on demand, as
 * a broken mirror or a slow link would: it holds a blob's answer open half-sent until the
 * client gives up, or until the test releases it, flips a byte of a blob, answers a manifest
 * with other bytes or another Content-Type, orders blob answers, breaks a blob's answers off
 * after so many bytes, answers a blob with a registry's error, sends a blob's request on with
 * another token or from another offset, and counts the blob requests, their ranges, the bytes sent and how many
 * of them are open at once.
 */
import { createServer, type ServerResponse } from 'node:http'
import { onCleanup } from '../support/files.ts'
import type { Blob } from '../support/images.ts'
import { freePort, type Registry } from '../support/registry.ts'

export interface Faults {
  /** blob digests whose answer sends half the bytes and then nothing, until the client closes it */
  stall?: string[]
  /** blob digests whose answer sends half the bytes, then the rest once the test calls release() */
  hold?: string[]
  /** blob digests served with one byte flipped */
  corrupt?: string[]
  /** manifest references (tag or digest) answered with these bytes, the registry's headers kept */
  manifests?: Record<string, Blob>
  /** manifest references (tag or digest) answered with this Content-Type instead of the registry's (null: none) */
  contentTypes?: Record<string, string | null>
  /** how long each blob's answer waits before its first byte, so that downloads overlap */
  blobDelayMs?: number
  /** blob digest → another blob whose answer must have been sent whole before this one starts */
  after?: Record<string, string>
  /** blobs left out of maxBlobsInFlight: an image's config, which dockerd fetches beside the layers' pool */
  uncounted?: string[]
  /** request paths ("/v2/", "/v2/<name>/manifests/<tag>") whose answer waits, before its first byte, until release(path) */
  holdPaths?: string[]
  /** blob digest → its answers (the first `times` of them, or all) send `after` bytes of their body, then the connection is closed */
  drop?: Record<string, { after: number; times?: number }>
  /** blob digests whose answers after the first are sent with their first byte flipped, as a mirror serving other bytes */
  altered?: string[]
  /** blob digests whose requests reach the registry with only their Accept and Authorization headers */
  ignoreRange?: string[]
  /** blob digest → its answers (the first `times` of them, or all) are this error instead, a registry's JSON error body with `code` */
  fail?: Record<string, { status: number; code: string; times?: number; headers?: Record<string, string> }>
  /** blob digest → its requests (the first `times`, or all) reach the registry with this Authorization instead of the client's */
  authorization?: Record<string, { header: string; times?: number }>
  /** blob digest → its requests for a part (the first `times`, or all) reach the registry asking from the offset rounded down to a multiple of `to`, as a cache of aligned chunks answers */
  alignRange?: Record<string, { to: number; times?: number }>
}

export interface Interposer {
  /** "127.0.0.1:PORT": the domain to pull through */
  host: string
  /** the most blob requests that were open at the same time (those in `uncounted` aside) */
  maxBlobsInFlight: number
  /** the digest of every blob request, in the order they came */
  blobRequests: string[]
  /** the Range header of every blob request (undefined: none), in the order of blobRequests */
  blobRanges: (string | undefined)[]
  /** blob digest → the bytes of its body sent, over all its answers */
  bytesSent: Record<string, number>
  /** the path of every request, in the order they came */
  requests: string[]
  /** the stalled or held blobs whose download the client stopped (by closing the connection) */
  abandoned: string[]
  /** let the held answers of `digest` (or of a held path) go on, those waiting now and any later one */
  release(digest: string): void
  /** resolves once the answer of a held path has been sent whole */
  sent(path: string): Promise<void>
  stop(): Promise<void>
}

const FORWARDED = ['content-type', 'docker-content-digest', 'www-authenticate', 'content-range']

/** Start an interposer in front of `registry`, stopped after the current test. */
export async function interpose(registry: Registry, faults: Faults): Promise<Interposer> {
  let inFlight = 0
  /** One gate per digest and purpose, opened once ("sent whole", "released"). */
  const gates = () => {
    const all = new Map<string, { promise: Promise<void>; resolve: () => void }>()
    return (digest: string) => {
      if (!all.has(digest)) {
        let resolve = () => {}
        const promise = new Promise<void>((r) => (resolve = r))
        all.set(digest, { promise, resolve })
      }
      return all.get(digest)!
    }
  }
  /** blob digest → how many of its answers were sent */
  const answered = new Map<string, number>()
  /** blob digest → how many of its answers were broken off */
  const drops = new Map<string, number>()
  /** blob digest → how many of its answers were an error */
  const failed = new Map<string, number>()
  /** blob digest → how many of its requests went on with another Authorization, or another Range */
  const reauthorized = new Map<string, number>()
  const realigned = new Map<string, number>()
  /** count one more use of a fault limited to `times`; whether it still applies */
  const use = (counts: Map<string, number>, blob: string, times?: number): boolean => {
    if (times !== undefined && (counts.get(blob) ?? 0) >= times) return false
    counts.set(blob, (counts.get(blob) ?? 0) + 1)
    return true
  }
  const sentWhole = gates()
  const released = gates()
  const state: Interposer = { host: '', maxBlobsInFlight: 0, blobRequests: [], blobRanges: [], bytesSent: {}, requests: [], abandoned: [], release: (digest) => released(digest).resolve(), sent: (path) => sentWhole(path).promise, stop: async () => {} }
  const server = createServer((req, res) => {
    const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')?.[1]
    const counted = blob !== undefined && !faults.uncounted?.includes(blob)
    state.requests.push(req.url ?? '/')
    if (faults.holdPaths?.includes(req.url ?? '')) res.once('finish', () => sentWhole(req.url!).resolve())
    if (blob) {
      state.blobRequests.push(blob)
      state.blobRanges.push(typeof req.headers.range === 'string' ? req.headers.range : undefined)
      if (counted) inFlight++
      state.maxBlobsInFlight = Math.max(state.maxBlobsInFlight, inFlight)
      res.once('finish', () => sentWhole(blob).resolve())
      res.once('close', () => {
        if (counted) inFlight--
        // a stalled or held answer closed unfinished: the client gave up on it
        if ((faults.stall?.includes(blob) || faults.hold?.includes(blob)) && !res.writableFinished) state.abandoned.push(blob)
      })
    }
    void answer(req.url ?? '/', req.headers, res, blob).catch(() => res.destroy())
  })

  async function answer(path: string, headers: Record<string, string | string[] | undefined>, res: ServerResponse, blob?: string): Promise<void> {
    if (faults.holdPaths?.includes(path)) await released(path).promise
    const fail = blob ? faults.fail?.[blob] : undefined
    if (blob && fail && (fail.times === undefined || (failed.get(blob) ?? 0) < fail.times)) {
      failed.set(blob, (failed.get(blob) ?? 0) + 1)
      const body = JSON.stringify({ errors: [{ code: fail.code, message: fail.code.toLowerCase().replace(/_/g, ' '), detail: blob }] })
      res.writeHead(fail.status, { 'content-type': 'application/json', ...fail.headers }).end(body)
      return
    }
    const forwarded = ['accept', 'authorization', ...(blob && faults.ignoreRange?.includes(blob) ? [] : ['range'])]
    const sent: Record<string, string> = Object.fromEntries(forwarded.flatMap((h) => (typeof headers[h] === 'string' ? [[h, headers[h]]] : [])))
    const authorization = blob ? faults.authorization?.[blob] : undefined
    if (blob && authorization && use(reauthorized, blob, authorization.times)) sent.authorization = authorization.header
    const align = blob ? faults.alignRange?.[blob] : undefined
    const from = /^bytes=(\d+)-$/.exec(sent.range ?? '')?.[1]
    if (blob && align && from !== undefined && Number(from) > 0 && use(realigned, blob, align.times)) sent.range = `bytes=${Math.floor(Number(from) / align.to) * align.to}-`
    const upstream = await fetch(`${registry.url}${path}`, { headers: sent })
    let body: Buffer = Buffer.from(await upstream.arrayBuffer())
    const reference = /\/manifests\/([^/]+)$/.exec(path)?.[1]
    const substitute = reference === undefined ? undefined : faults.manifests?.[decodeURIComponent(reference)]
    if (substitute && upstream.ok) body = substitute.data
    if (blob && faults.blobDelayMs) await new Promise((r) => setTimeout(r, faults.blobDelayMs))
    if (blob && faults.after?.[blob]) await sentWhole(faults.after[blob]).promise
    if (blob && upstream.ok && !use(answered, blob, 1) && faults.altered?.includes(blob)) {
      body = Buffer.from(body)
      body[0]! ^= 0xff
    }
    if (blob && upstream.ok && faults.corrupt?.includes(blob)) {
      body = Buffer.from(body)
      body[body.length >> 1]! ^= 0xff
    }
    const out: Record<string, string> = { 'content-length': String(body.length) }
    for (const h of FORWARDED) if (upstream.headers.has(h)) out[h] = upstream.headers.get(h)!
    const contentType = reference === undefined ? undefined : faults.contentTypes?.[decodeURIComponent(reference)]
    if (contentType === null) delete out['content-type']
    else if (contentType !== undefined) out['content-type'] = contentType
    res.writeHead(upstream.status, out)
    const drop = blob ? faults.drop?.[blob] : undefined
    const dropping = blob !== undefined && upstream.ok && drop !== undefined && drop.after < body.length && (drop.times === undefined || (drops.get(blob) ?? 0) < drop.times)
    if (blob && upstream.ok) state.bytesSent[blob] = (state.bytesSent[blob] ?? 0) + (dropping ? drop!.after : body.length)
    if (dropping) {
      drops.set(blob!, (drops.get(blob!) ?? 0) + 1)
      // the bytes reach the client, then the connection ends under them (as a link that drops)
      res.write(body.subarray(0, drop!.after), () => res.destroy())
      return
    }
    if (blob && upstream.ok && (faults.stall?.includes(blob) || faults.hold?.includes(blob))) {
      res.write(body.subarray(0, body.length >> 1))
      if (faults.stall?.includes(blob)) return
      await released(blob).promise
      res.end(body.subarray(body.length >> 1))
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
  onCleanup(() => state.stop())
  return state
}
