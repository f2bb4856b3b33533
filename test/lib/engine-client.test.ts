/**
 * The client's given requests (lib/engine-client.ts, lib/create-or-pull.ts) without a real
 * daemon: a small HTTP server on a unix socket answers as dockerd would, and the docker CLIs,
 * asked the same, say what a client sends. The hijack of attach and exec start too: a 101 with
 * stream bytes in the same write, a 404, a 200 that streams on, a daemon that closes before its
 * answer is whole, and one gone between the create and the attach, each beside docker 28.2.2.
 */
import { linkSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { execa } from 'execa'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine } from '../../lib/engine-client.ts'
import { readAll } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { connectError, negotiate } from '../../lib/engine-client.ts'
import { createContainer, pullImage } from '../../lib/create-or-pull.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { docker } from '../support/daemon.ts'
import { apiPath, fakeDaemons, type FakeDaemon, type FakeDaemonOptions } from '../support/engine-server.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { minidocker } from '../support/client.ts'
import { difference, firstDifference, RESULTS } from '../12-client/differences.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const fakeDaemon = (options: FakeDaemonOptions) => daemons.daemon(options)
const connected = (daemon: FakeDaemon) => daemons.connected(daemon)

describe('the Engine API client\'s given requests', () => {
  it('negotiate with Api-Version 1.41, 1.47, 1.9, 1.40, 1.100, and none, beside docker 20.10', async () => {
    const announced = ['1.41', '1.47', '1.9', '1.40', '1.100', undefined]
    const theirs: string[] = []
    for (const version of announced) {
      const daemon = await fakeDaemon({ version, answer: (_req, res) => res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"not served here"}') })
      await docker('20.10', daemon.host, ['version'])
      theirs.push(/^GET \/v([^/]+)\/version$/.exec(daemon.requests.at(-1) ?? '')?.[1] ?? `(no versioned request: ${daemon.requests.join(', ')})`)
    }
    expect(announced.map((a) => negotiate(a)), `for Api-Version ${announced.map((a) => a ?? '(none)').join(', ')}: expected the version docker 20.10, which speaks 1.41 as minidocker does, put in its paths (left: yours, right: docker's) — how does moby compare two API versions? (see "Ping and the version")`)
      .toEqual(theirs)
  })

  it('call against a daemon announcing 1.40: a JSON answer, a streaming answer, a JSON 404, a plain-text 500', async () => {
    let finish!: () => void
    const daemon = await fakeDaemon({
      version: '1.40',
      answer: (req, res) => {
        if (req.url!.includes('/logs')) {
          res.writeHead(200).write('first\n')
          finish = () => res.end('last\n')
        } else if (req.url!.includes('/json?all=1')) res.writeHead(200, { 'Content-Type': 'application/json' }).end('[]')
        else if (req.url!.includes('/nope/')) res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such container: nope"}\n')
        else res.writeHead(500, { 'Content-Type': 'text/plain' }).end('page not found\n')
      },
    })
    const engine = await connected(daemon)
    expect(await engine.json('GET', '/containers/json', { query: { all: '1' } }), 'expected the JSON answer').toEqual([])
    expect(daemon.requests, 'expected the requests\' paths (left: yours) — which version does every path after the ping carry? (see "Ping and the version")').toEqual(['HEAD /_ping', 'GET /v1.40/containers/json?all=1'])

    const streaming = await Promise.race([engine.call('GET', '/containers/c/logs'), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))])
    expect(streaming, 'expected call() to resolve at the headers of a streaming answer, its body unread (a pull or logs -f streams for minutes)').not.toBe('still waiting')
    finish()
    expect(await readAll(streaming as IncomingMessage), 'expected the whole body still there to read').toBe('first\nlast\n')

    const json = await caught(() => engine.call('GET', '/containers/nope/json'))
    expect([json?.message, json?.status], 'a 404 with {"message"}: expected a DaemonError with the daemon\'s message and status').toEqual(['Error response from daemon: No such container: nope', 404])
    const plain = await caught(() => engine.call('GET', '/other'))
    expect(plain?.message, 'an error body that is not JSON: expected the daemon\'s text as the message, not a JSON parse error').toBe('Error response from daemon: page not found')
  })

  it('no daemon at the socket, at the ping and after it, beside the docker CLI', async () => {
    const dir = tempDir('minidocker-client-')
    /** docker ps's stderr and exit code with DOCKER_HOST naming `socket` */
    const theirs = async (socket: string) => {
      const r = await docker('28.2.2', `unix://${socket}`, ['ps'])
      return [r.stderr.trim(), r.exitCode]
    }
    const stale = join(dir, 'stale.sock') // a socket file its server left behind
    await execa(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`])
    const plain = join(dir, 'plain')
    writeFileSync(plain, '')
    for (const [what, socket] of [['no file at the path', join(dir, 'nothing.sock')], ['a socket file nobody listens on', stale], ['a plain file', plain]] as const) {
      const atPing = await caught(() => Engine.connect(`unix://${socket}`))
      expect([atPing?.message, atPing?.exitCode], `${what}, at the ping: expected the CLI's words, not the errno (left: yours, right: docker ps's stderr and exit code)`).toEqual(await theirs(socket))
    }

    const daemon = await fakeDaemon({ version: '1.41' })
    const engine = await connected(daemon)
    daemon.server.closeAllConnections()
    await new Promise((r) => daemon.server.close(r))
    const later = await caught(() => engine.call('GET', '/containers/json'))
    expect(later?.message, 'the daemon went away after the ping: expected from call() what docker now says for that socket').toBe((await theirs(daemon.socket))[0])

    const other = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    expect(connectError('/s', other), 'an error that is not "no daemon" must stay as it is').toBe(other)
  })

  it('pullImage of a stream whose chunks cut its JSON lines, and of one carrying errorDetail', async () => {
    const lines = ['{"status":"Pulling from library/probe","id":"latest"}', '{"status":"Downloading","progressDetail":{"current":10,"total":20},"id":"0123456789ab"}']
    const auth: (string | undefined)[] = []
    const daemon = await fakeDaemon({
      version: '1.41',
      answer: (req, res) => {
        auth.push(req.headers['x-registry-auth'] as string | undefined)
        res.writeHead(200, { 'Content-Type': 'application/json' })
        const pieces = req.url!.includes('fromImage=example.test%2Fbroken')
          ? [`${lines[0]}\n{"errorDetail":{"message":"manifest unknown"},`, '"error":"manifest unknown"}\n']
          : [lines[0]!.slice(0, 20), `${lines[0]!.slice(20)}\n${lines[1]!.slice(0, 30)}`, `${lines[1]!.slice(30)}\n`]
        const next = () => (pieces.length > 1 ? (res.write(pieces.shift()), setTimeout(next, 30)) : res.end(pieces.shift()))
        next()
      },
    })
    await docker('20.10', daemon.host, ['pull', '-q', 'example.test/probe'])
    const theirs = { request: daemon.requests.at(-1), auth: auth.at(-1) }
    const engine = await connected(daemon)
    const seen: JSONMessage[] = []
    const error = await caught(() => pullImage(engine, 'example.test/probe', (m) => seen.push(m)))
    expect(daemon.requests.at(-1), 'expected the request docker 20.10 sent for docker pull example.test/probe (left: yours, right: docker\'s; see "Pulling")').toBe(theirs.request)
    const mine = auth.at(-1)
    if (mine !== theirs.auth) {
      expect.fail(`the X-Registry-Auth header of your pull of example.test/probe is not docker 20.10's: yours ${mine === undefined ? 'was not sent' : `was ${JSON.stringify(mine)}, which, read as base64, is ${JSON.stringify(Buffer.from(mine, 'base64').toString('latin1'))}`} — what does the CLI send when it has no credentials for that registry, and in what encoding? (see "Pulling"; moby's client/image_pull.go)`)
    }
    expect({ seen, error: error && String(error) }, 'expected each JSON message once, whole and in order (left: yours) — where do the chunks end, and what becomes of a line a chunk cut? (see "Pulling")')
      .toEqual({ seen: lines.map((l) => JSON.parse(l)), error: undefined })
    const failed = await caught(() => pullImage(engine, 'example.test/broken', () => {}))
    expect(failed?.message, 'a 200 whose stream carries errorDetail: expected the pull to fail with its message').toBe('manifest unknown')
  })

  it('createContainer refused by the daemon, answer by answer, beside docker 28.2.2', async () => {
    /** each run's daemon answers every create with one of these: [status, Content-Type, body] */
    const answers = [
      [500, 'application/json', '{"message":"No such image: example.test/probe:latest"}'],
      [404, 'application/json', '{"message":"network nope not found"}'],
      [409, 'application/json', '{"message":"Conflict. The container name \\"/x\\" is already in use by container \\"0123456789ab\\". You have to remove (or rename) that container to be able to reuse that name."}'],
      [404, 'text/plain; charset=utf-8', '404 page not found\n'],
    ] as const
    for (const [status, type, body] of answers) {
      const daemon = await fakeDaemon({
        version: '1.41',
        answer: (req, res) => {
          // a client that never stops asking is stopped here, so that its requests can be shown
          if (daemon.requests.length > 12) res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"the test\'s daemon stops answering"}')
          else if (req.url!.includes('/images/create')) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"Pulling from library/probe","id":"latest"}\n')
          else res.writeHead(status, { 'Content-Type': type }).end(body)
        },
      })
      const cli = await docker('28.2.2', daemon.host, ['run', '--name', 'x', '--network', 'nope', 'example.test/probe', 'true'])
      const theirs = daemon.requests.splice(0)
      const engine = await connected(daemon)
      const stdio = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() }
      const plan = { image: 'example.test/probe', name: 'x', config: { Image: 'example.test/probe', Cmd: ['true'], HostConfig: { NetworkMode: 'nope' } }, detach: false, interactive: false, tty: false, autoRemove: false, sigProxy: true }
      const error = await caught(() => createContainer(engine, plan, stdio, () => {}))
      const answered = `the daemon answered every create ${status} (${type}) ${body.trim()}`
      expect(daemon.requests, `${answered}: expected docker run's requests up to its failure (left: yours, right: docker's) — which answer of the daemon should lead to a pull, and what in it does the CLI look at to decide? (see "The run sequence"; the CLI's create.go)`)
        .toEqual(theirs)
      expect(error?.message, `${answered}: expected the error docker printed after "docker: " (left: yours)`).toBe(/^docker: (.*)$/m.exec(cli.stderr)?.[1])
    }
  })
})

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
        const path = apiPath(req)
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

