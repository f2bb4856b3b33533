/**
 * The given Engine.upgrade (lib/engine-client.ts), the hijacked connection of attach and exec
 * start, against a small HTTP server on a unix socket that answers as dockerd would, and the
 * words of each refused or failed upgrade beside docker 28.2.2's own run against the same
 * server: a 101 with stream bytes in the same write, a 404, a 200 that streams on, a daemon
 * that closes before its answer is whole, and one gone between the create and the attach.
 */
import { linkSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readAll } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { fakeDaemons, type FakeDaemon, type FakeDaemonOptions } from '../support/engine-server.ts'
import { caught } from '../support/errors.ts'
import { docker } from '../support/daemon.ts'
import { minidocker } from '../support/client.ts'
import { difference, firstDifference, RESULTS } from '../12-client/differences.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const fakeDaemon = (options: FakeDaemonOptions) => daemons.daemon(options)
const connected = (daemon: FakeDaemon) => daemons.connected(daemon)

describe('the hijacked connection', () => {
  it('upgrade answered by a 101 with stream bytes in the same write, by a 404, and by a 200', async () => {
    const daemon = await fakeDaemon({
      version: '1.41',
      // for docker 28.2.2's run: the container is named for its image, so that its attach meets the answer below
      answer: (req, res) => {
        let body = ''
        req.on('data', (d: Buffer) => (body += d)).on('end', () => {
          const id = String(JSON.parse(body || '{}').Image ?? '').split('/').pop()
          res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: id, Warnings: [] }))
        })
      },
      upgrade: (req, socket) => {
        if (req.url!.includes('/nope/')) {
          const body = '{"message":"No such container: nope"}'
          socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
        } else if (req.url!.includes('/plain/')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        else {
          // the status line, the headers and the first bytes of the stream in one write
          socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst bytes|')
          socket.once('data', (b: Buffer) => socket.end(`echo:${b}`))
        }
      },
    })
    const engine = await connected(daemon)
    const stream = await engine.upgrade('/containers/c/attach', { query: { stream: '1', stdout: '1' } })
    daemons.hijacked.push(stream)
    stream.write('hello')
    const got = await readAll(stream)
    const lost = got.startsWith('first bytes|') ? '' : ' The first bytes the daemon sent after its 101 never reached the stream yours returned: where did those bytes go?'
    expect(got, `expected every byte the daemon wrote after the 101, in order, and the connection usable both ways (left: yours).${lost} (see "Hijacking")`).toBe('first bytes|echo:hello')
    expect(daemon.requests.at(-1), 'expected a POST at the negotiated version').toBe('POST /v1.41/containers/c/attach?stdout=1&stream=1')

    // the CLI's words for each refused upgrade: docker 28.2.2's run meets the same answer at its attach
    const cli = async (image: string) => (await docker('28.2.2', daemon.host, ['run', `example.test/${image}`], { timeout: 30_000 })).stderr.trim()
    // one refusal right after the other on the same Engine, before the CLI is asked
    const missing = await caught(() => engine.upgrade('/containers/nope/attach'))
    const plain = await caught(() => engine.upgrade('/containers/plain/attach'))
    const refused404 = difference('error', missing?.message, await cli('nope'))
    if (refused404) expect.fail(`a 404 instead of a 101: ${refused404} — the words of the CLI's client (moby's client/hijack.go, setupHijackConn, as vendored in docker 28.2.2)`)
    const refused200 = difference('error', plain?.message, await cli('plain'))
    if (refused200) expect.fail(`a 200 instead of a 101, on the Engine whose upgrade a 404 had just refused: ${refused200} (see "Hijacking")`)
  }, 60_000)

  it('upgrade answered by a daemon that ignores the upgrade: a 200 whose stream goes on, beside docker 28.2.2', async () => {
    // a daemon (or a proxy in front of one) that does not hijack answers the attach as a plain
    // response, the container's output streamed for as long as it runs
    const ID = 'c0ffee'.repeat(10) + 'c0ff'
    const closes: Promise<void>[] = []
    const daemon = await fakeDaemon({
      version: '1.41',
      answer: (req, res) => {
        req.resume()
        const path = req.url!.replace(/^\/v[\d.]+/, '').split('?')[0]!
        if (path === '/containers/create') res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: ID, Warnings: [] }))
        else res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no ${path} here` }))
      },
      upgrade: (_req, socket: Socket) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nstill running\n')
        const ticks = setInterval(() => socket.writable && socket.write('still running\n'), 50)
        closes.push(new Promise((resolve) => socket.on('close', () => (clearInterval(ticks), resolve()))))
      },
    })
    const within = (ms: number, what: Promise<void>) => Promise.race([what.then(() => true), new Promise<false>((resolve) => setTimeout(resolve, ms, false))])

    const theirs = await docker('28.2.2', daemon.host, ['run', 'example.test/box', 'true'], { timeout: 30_000 })
    const words = String(theirs.stderr).trim().split('\n')[0]!
    expect(await within(5000, closes[0]!), 'docker 28.2.2 was expected to close the connection it refused').toBe(true)

    const engine = await connected(daemon)
    const refused = await caught(() => engine.upgrade(`/containers/${ID}/attach`, { query: { stream: '1', stdout: '1', stderr: '1' } }))
    expect(refused?.message === words, `a 200 instead of a 101: your error was ${JSON.stringify(refused?.message)}, not what docker 28.2.2 said against the same daemon (run it against a daemon of your own that answers so)`).toBe(true)
    expect(await within(5000, closes[1]!), 'the daemon answered 200 and streams on: that connection was still open 5 s after upgrade() failed — what holds it open? (see "Hijacking")').toBe(true)
  }, 60_000)

  it('upgrade when the daemon closes the connection before its answer is whole, beside docker 28.2.2', async () => {
    // a daemon restarting, a proxy timing out: the request was read, and the connection ends
    // with no answer, or in the middle of the 101's headers
    for (const [what, answer] of [['no answer at all', ''], ['half a 101', 'HTTP/1.1 101 UPGRADED\r\nContent-Type: appl']] as const) {
      const daemon = await fakeDaemon({
        version: '1.41',
        answer: (req, res) => {
          req.resume()
          if (req.url!.endsWith('/containers/create')) res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: 'c0ffee'.repeat(10) + 'c0ff', Warnings: [] }))
          else res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"not here"}')
        },
        upgrade: (_req, socket) => void socket.end(answer),
      })
      const theirs = await docker('28.2.2', daemon.host, ['run', 'example.test/box', 'true'], { timeout: 30_000 })
      const words = String(theirs.stderr).trim().split('\n')[0]!
      const engine = await connected(daemon)
      const refused = await caught(() => engine.upgrade('/containers/c/attach', { query: { stream: '1', stdout: '1' } }))
      expect(refused?.message === words, `${what}: your error was ${JSON.stringify(refused?.message)}, not what docker 28.2.2 said against the same daemon — the connection was made and the request sent: which step failed, and whose words are those at that step? Run docker against a daemon of your own that does this (see "Hijacking")`)
        .toBe(true)
    }
  }, 60_000)
})

describe('the hijack\'s connection, when the daemon is gone', () => {
  it('run whose daemon went away after the create: its socket removed, or left with nobody listening, beside docker 28.2.2', async () => {
    // a daemon that answers the ping and the create, then stops (a restart, a crash) before the
    // attach connects: the attach's dial fails, where the earlier requests had all succeeded
    const dir = mkdtempSync(join(tmpdir(), 'minidocker-gone-'))
    const servers: Server[] = []
    try {
      // a socket file with nobody behind it: the other name of a socket whose listener has gone
      const dead = join(dir, 'dead.sock')
      await new Promise<void>((resolve) => {
        const server = createServer().listen(join(dir, 'dying.sock'), () => (linkSync(join(dir, 'dying.sock'), dead), server.close(() => resolve())))
      })
      const goneDaemon = (path: string, stale: boolean) => new Promise<string>((resolve) => {
        const listening = join(dir, `listening-${servers.length}.sock`)
        const server = createServer((req, res) => void req.resume().on('end', () => {
          if (req.method === 'HEAD' || req.url!.endsWith('/_ping')) return void res.writeHead(200, { 'Api-Version': '1.41' }).end()
          if (req.url!.split('?')[0]!.endsWith('/wait')) return // never answered: the run ends at the attach
          if (!req.url!.split('?')[0]!.endsWith('/containers/create')) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"not here"}')
          // the daemon's name goes once the create is answered (the connections made already go
          // on): no file there, or a socket file with nobody listening behind it
          if (stale) linkSync(dead, `${path}.new`), renameSync(`${path}.new`, path)
          else rmSync(path, { force: true })
          res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: 'c0ffee'.repeat(10) + 'c0ff', Warnings: [] }))
        }))
        servers.push(server)
        rmSync(path, { force: true })
        server.listen(listening, () => (linkSync(listening, path), resolve(`unix://${path}`)))
      })
      for (const [what, stale] of [['its socket removed', false], ['its socket left with nobody listening', true]] as const) {
        const path = join(dir, 'daemon.sock')
        const theirs = await docker('28.2.2', await goneDaemon(path, stale), ['run', 'example.test/box', 'true'], { timeout: 30_000 })
        const mine = await minidocker(['-H', await goneDaemon(path, stale), 'run', 'example.test/box', 'true'], { timeout: 15_000 })
          .catch((error: Error) => {
            if (error instanceof NotImplementedError) throw error
            return { stdout: '', stderr: error.message, exitCode: undefined }
          })
        const differs = firstDifference(mine, { ...theirs, stderr: theirs.stderr.replace(/^docker: /gm, 'minidocker: ') }, RESULTS)
        if (differs) expect.fail(`a daemon gone after the create, ${what}: ${differs}, against the same socket as docker 28.2.2 — the ping and the create went through, the attach could not connect: which of moby's client functions made that connection, and what does it say when it cannot? (see "Hijacking")`)
      }
    } finally {
      for (const server of servers) server.close(), server.closeAllConnections()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})

