/**
 * The client's transport and the multiplexed stream, without a real daemon: a small HTTP
 * server on a unix socket in a temp dir answers as dockerd would (and the docker CLIs, asked
 * the same, say what a client sends), and the frames are fed in chunks no daemon would choose. Fast, so that the chapter's mistakes about chunks, versions,
 * error bodies and hijacked bytes are caught here.
 */
import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { execa } from 'execa'
import { afterEach, describe, expect, it } from 'vitest'
import { connectError, Engine, negotiate } from '#ch/12-client/engine.ts'
import { createContainer, pullImage } from '#ch/12-client/run.ts'
import { copyOutput, frameReader } from '#ch/12-client/stdcopy.ts'
import { readAll } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { docker } from '../support/daemon.ts'
import { caught } from '../support/errors.ts'
import { frame } from '../support/client.ts'
import { tempDir } from '../support/files.ts'

const servers: Server[] = []
const engines: Engine[] = []
/** hijacked connections, both ends: a server's close() does not wait for them, nor end them */
const hijacked: Socket[] = []
afterEach(async () => {
  for (const e of engines.splice(0)) e.close()
  for (const s of hijacked.splice(0)) s.destroy()
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

interface FakeDaemon {
  host: string
  socket: string
  /** "METHOD /path?query" of every request */
  requests: string[]
  server: Server
}

/**
 * A daemon that announces `version` at the ping and answers the rest with `answer`; an
 * upgrade request gets `upgrade`'s raw bytes, written in one piece. The docker CLIs (20.10
 * speaks 1.41, as minidocker does) talk to it too, to say what a client should send.
 */
async function fakeDaemon(options: {
  version?: string
  answer?: (req: IncomingMessage, res: ServerResponse) => void
  upgrade?: (req: IncomingMessage, socket: Socket) => void
}): Promise<FakeDaemon> {
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

/** Long runs of one character as `<N×c>`, so that a failure's diff stays readable. */
const short = (text: string) => text.replace(/(.)\1{99,}/g, (run, c: string) => `<${run.length}×${c}>`)

function collector() {
  const out: Buffer[] = []
  const err: Buffer[] = []
  return {
    outputs: { stdout: { write: (b: Buffer) => out.push(Buffer.from(b)) }, stderr: { write: (b: Buffer) => err.push(Buffer.from(b)) } },
    text: () => ({ stdout: short(Buffer.concat(out).toString()), stderr: short(Buffer.concat(err).toString()) }),
  }
}

describe('the multiplexed stream (stdcopy)', () => {
  const big = 'x'.repeat(70_000) + '\n'
  const small = [frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(0, 'in\n')]
  const stream = Buffer.concat([...small, frame(1, big), frame(2, 'err 2\n')])
  const expected = { stdout: short(`out 1\nin\n${big}`), stderr: 'err 1\nerr 2\n' }

  it('frameReader fed a stream 1 byte, 7 bytes, 4 KiB at a time, and whole', () => {
    const smallOnly = { input: Buffer.concat(small), expected: { stdout: 'out 1\nin\n', stderr: 'err 1\n' } }
    const all = { input: stream, expected }
    for (const [what, size, { input, expected }] of [['one byte a chunk', 1, smallOnly], ['7 bytes a chunk', 7, smallOnly], ['4 KiB a chunk, a 70 KB payload', 4096, all], ['the whole stream in one chunk', stream.length, all]] as const) {
      const { outputs, text } = collector()
      const reader = frameReader(outputs)
      let result: object
      try {
        for (let i = 0; i < input.length; i += size) reader.push(input.subarray(i, i + size))
        reader.end()
        result = text()
      } catch (error) {
        if (error instanceof NotImplementedError) throw error
        result = { ...text(), error: String(error) }
      }
      expect(result, `${what}: expected stream 1 (and 0) on stdout and 2 on stderr, each payload whole — a chunk is not a frame: are the bytes of a header or payload cut off by the chunk kept for the next push? Is the payload's size read from the right bytes of the header, in the right byte order (see "Frames")?`)
        .toEqual(expected)
    }
  })

  it('frameReader given a stream 3 frame, a stream 7 frame, and a frame cut short', () => {
    const { outputs, text } = collector()
    const reader = frameReader(outputs)
    expect(() => reader.push(Buffer.concat([frame(1, 'before\n'), frame(3, 'the container is gone')])), 'stream 3 carries the daemon\'s error: expected an error with its words')
      .toThrow('the container is gone')
    expect(text().stdout, 'expected the frame before the error written').toBe('before\n')
    expect(() => frameReader(outputs).push(frame(7, 'what')), 'a frame of stream 7: expected an error naming the number 7')
      .toThrow(/\b7\b/)
    const cut = frameReader(outputs)
    cut.push(frame(1, 'cut short').subarray(0, 12))
    expect(() => cut.end(), 'expected end() to refuse a stream that ended inside a frame, not to drop the half frame silently').toThrow()
  })

  it('copyOutput of a framed stream, of a terminal\'s stream, and of a stream 3 frame', async () => {
    const framed = new PassThrough()
    const a = collector()
    const copying = caught(() => copyOutput(framed, a.outputs, false))
    framed.write(stream.subarray(0, 5))
    framed.end(stream.subarray(5))
    const framedError = await copying
    expect({ ...a.text(), error: framedError && String(framedError) }, 'without a terminal: expected the frames demultiplexed').toEqual({ ...expected, error: undefined })

    const raw = new PassThrough()
    const b = collector()
    const tty = caught(() => copyOutput(raw, b.outputs, true))
    raw.end('tty bytes\r\n')
    const ttyError = await tty
    expect({ ...b.text(), error: ttyError && String(ttyError) }, 'with a terminal: expected the bytes on stdout as they came — what does the daemon send for a container with a terminal? (see "Frames")')
      .toEqual({ stdout: 'tty bytes\r\n', stderr: '', error: undefined })

    const failing = new PassThrough()
    const failed = caught(() => copyOutput(failing, collector().outputs, false))
    failing.write(frame(3, 'daemon said no'))
    expect(String(await failed), 'expected copyOutput to reject with the daemon\'s error from stream 3').toContain('daemon said no')
    failing.destroy()
  })
})

describe('the Engine API transport', () => {
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

  it('upgrade answered by a 101 with stream bytes in the same write, by a 404, and by a 200', async () => {
    const daemon = await fakeDaemon({
      version: '1.41',
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
    hijacked.push(stream)
    stream.write('hello')
    expect(await readAll(stream), 'expected every byte the daemon wrote after the 101, in order, and the connection usable both ways (left: yours) — this daemon wrote its answer and the stream\'s first bytes in one write: where did those bytes go? (see "Hijacking")').toBe('first bytes|echo:hello')
    expect(daemon.requests.at(-1), 'expected a POST at the negotiated version').toBe('POST /v1.41/containers/c/attach?stdout=1&stream=1')

    const missing = await caught(() => engine.upgrade('/containers/nope/attach'))
    expect(missing?.message, 'a 404 instead of a 101: expected the words of the CLI\'s client (moby\'s client/hijack.go, setupHijackConn, as vendored in docker 28.2.2)').toBe('unable to upgrade to tcp, received 404')
    const plain = await caught(() => engine.upgrade('/containers/plain/attach'))
    expect(plain?.message, 'a 200 instead of a 101, after another upgrade of this Engine: expected the CLI\'s words (left: yours) — if yours is an error of the connection, where did this request\'s connection come from, and where do setupHijackConn\'s come from? (see "Hijacking")').toBe('unable to upgrade to tcp, received 200')
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
