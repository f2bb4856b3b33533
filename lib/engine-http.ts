/**
 * The HTTP plumbing under the daemon's Engine API: an HTTP/1.1 server on a unix socket that
 * hands every request, complete with its body, to one function. A request that asks to
 * upgrade the connection (`Connection: Upgrade`, `Upgrade: tcp`: attach and exec start) gets
 * the raw socket instead of a response object, after its body, so the handler can answer
 * `101 UPGRADED` and use the socket as a byte stream both ways, half-closes included.
 */
import { chmodSync, rmSync } from 'node:fs'
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

export interface EngineCall {
  method: string
  /** the path as sent, without the query */
  path: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  /** the whole request body */
  body: Buffer
  /** an ordinary request's response */
  res?: ServerResponse
  /** an upgrade request's socket, paused: raw bytes from here on (anything the client sent after the body is still to be read; resume() once you listen) */
  socket?: Duplex
}

/** Read an ordinary request's body. */
async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** An upgrade request's body: Content-Length bytes from `head`, then from the socket; the rest goes back. */
async function upgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<Buffer> {
  socket.pause() // nothing read from here on is lost before the handler listens (and resumes)
  const length = Number(req.headers['content-length'] ?? 0)
  let buffered = head
  while (buffered.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const done = () => { socket.off('data', onData); socket.off('end', onEnd) }
      const onData = (c: Buffer) => { done(); socket.pause(); resolve(c) }
      const onEnd = () => { done(); resolve(null) }
      socket.on('data', onData).on('end', onEnd)
      socket.resume()
    })
    if (chunk === null) break
    buffered = Buffer.concat([buffered, chunk])
  }
  const rest = buffered.subarray(length)
  if (rest.length > 0) socket.unshift(rest)
  return buffered.subarray(0, length)
}

/**
 * Write the status line and headers of a hijacked connection ("HTTP/1.1 101 UPGRADED" for
 * attach and exec start); the socket is a raw stream after it.
 */
export function writeUpgradeHead(socket: Duplex, headers: Record<string, string>, status = 101, reason = 'UPGRADED'): void {
  const lines = [`HTTP/1.1 ${status} ${reason ?? STATUS_CODES[status]}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  socket.write(`${lines.join('\r\n')}\r\n\r\n`)
}

/** Serve `handle` on a unix socket at `path` (a stale socket file is replaced), mode `mode`. */
export async function serveUnix(path: string, mode: number, handle: (call: EngineCall) => Promise<void>): Promise<Server> {
  const split = (req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://engine')
    // the CLI does not escape the path (/images/127.0.0.1:5000/busybox/json): take it raw
    const raw = (req.url ?? '/').split('?', 1)[0]!
    return { method: req.method ?? 'GET', path: decodeURIComponent(raw), query: url.searchParams, headers: req.headers }
  }
  const server = createServer((req, res) => {
    void bodyOf(req).then((body) => handle({ ...split(req), body, res }))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {}) // a client that goes away mid-stream is not the daemon's failure
    void upgradeBody(req, socket, head).then((body) => handle({ ...split(req), body, socket }))
  })
  // wait, stop and logs --follow may take as long as a container runs
  server.requestTimeout = 0
  // an idle kept-alive connection stays open, as dockerd's Go server (no IdleTimeout) keeps it:
  // Node's close after 5 s races a client that sends on it just then (a kill, a resize), and that
  // request fails
  server.keepAliveTimeout = 0
  server.headersTimeout = 60_000
  rmSync(path, { force: true })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve))
  chmodSync(path, mode)
  return server
}
