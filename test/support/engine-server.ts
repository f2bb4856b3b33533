/**
 * A small HTTP server on a unix socket in a temp dir that answers as dockerd would: the ping
 * with the Api-Version it is given, every other request as the test says, upgrades with raw
 * bytes. The docker CLIs talk to it too, to say what a client should send. Nothing here
 * imports vitest: a test calls stop() after each case.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { Engine } from '../../lib/engine-client.ts'
import { tempDir } from './files.ts'

export interface FakeDaemon {
  host: string
  socket: string
  /** "METHOD /path?query" of every request */
  requests: string[]
  server: Server
}

/** A request's path as the daemon routes it: without its /vX.Y prefix and its query. */
export const apiPath = (req: IncomingMessage): string => req.url!.replace(/^\/v[\d.]+/, '').split('?')[0]!

/** An answer in JSON, as dockerd gives every answer that has a body. */
export const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))

type Answer = (req: IncomingMessage, res: ServerResponse) => void

/**
 * The answers of a daemon with one container, `id`: its create; its wait, whose head goes out at
 * once and whose answer is held (`wait` gets the response); its start, as `start` answers it; a
 * resize, taken unless `resize` answers it; a kill, as `kill` answers it; anything else 404.
 */
export function oneContainer(id: string, on: { start(res: ServerResponse): void; wait?(res: ServerResponse): void; resize?: Answer; kill?: Answer }): Answer {
  return (req, res) => {
    req.resume()
    const path = apiPath(req)
    if (path === '/containers/create') json(res, 201, { Id: id, Warnings: [] })
    else if (path.endsWith('/wait')) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders()
      on.wait?.(res)
    } else if (path.endsWith('/start')) on.start(res)
    else if (path.endsWith('/resize')) on.resize ? on.resize(req, res) : res.writeHead(200).end()
    else if (path.endsWith('/kill') && on.kill) on.kill(req, res)
    else json(res, 404, { message: `no ${path} here` })
  }
}

export interface FakeDaemonOptions {
  version?: string
  answer?: Answer
  upgrade?: (req: IncomingMessage, socket: Socket) => void
}

/**
 * Fake daemons, each made by daemon(), and the Engines connected to them by
 * connected(), all closed by stop() (hijacked connections too, both ends; a test pushes the
 * client's ends it was handed onto `hijacked`).
 */
export function fakeDaemons() {
  const servers: Server[] = []
  const hijacked: Socket[] = []
  const engines: Engine[] = []
  /**
   * A daemon that announces `version` at the ping and answers the rest with `answer`; an
   * upgrade request gets `upgrade`'s raw bytes.
   */
  async function daemon(options: FakeDaemonOptions): Promise<FakeDaemon> {
    const socket = join(tempDir('minidocker-client-'), 'daemon.sock')
    const requests: string[] = []
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`)
      if (req.url === '/_ping') {
        res.writeHead(200, options.version ? { 'Api-Version': options.version } : {})
        res.end(req.method === 'HEAD' ? undefined : 'OK')
      } else if (options.answer) options.answer(req, res)
      else res.writeHead(500).end('no answer\n')
    })
    server.keepAliveTimeout = 0 // idle connections stay open, as dockerd keeps them (lib/engine-http.ts)
    server.on('upgrade', (req: IncomingMessage, sock: Socket) => {
      requests.push(`${req.method} ${req.url}`)
      hijacked.push(sock)
      sock.on('error', () => {}) // the client may go first (ECONNRESET): not this test's failure
      options.upgrade?.(req, sock)
    })
    servers.push(server)
    await new Promise<void>((r) => server.listen(socket, r))
    return { host: `unix://${socket}`, socket, requests, server }
  }
  async function connected(daemon: FakeDaemon): Promise<Engine> {
    const engine = await Engine.connect(daemon.host)
    engines.push(engine)
    return engine
  }
  async function stop(): Promise<void> {
    for (const e of engines.splice(0)) e.close()
    for (const s of hijacked.splice(0)) s.destroy()
    for (const s of servers.splice(0)) {
      s.closeAllConnections()
      await new Promise((r) => s.close(r))
    }
  }
  return { daemon, connected, hijacked, stop }
}
