/**
 * The hijacked connection and the copy of the output, without a real daemon: a small HTTP
 * server on a unix socket answers as dockerd would, frames (written by chapter 11's reference
 * writer) come in chunks no daemon would choose, into outputs that stop taking bytes or fail
 * as pipes do. Fast, so that the chapter's mistakes about hijacked bytes and the copy are
 * caught here; the runs beside docker 28.2.2 say what the CLI makes of the same.
 */
import { linkSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { copyOutput } from '#ch/12-client/stdcopy.ts'
import { readAll } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { frame, short } from '../support/frames.ts'
import { fakeDaemons, type FakeDaemon, type FakeDaemonOptions } from '../support/engine-server.ts'
import { caught, within } from '../support/errors.ts'
import { docker } from '../support/daemon.ts'
import { asMinidocker, minidocker } from '../support/client.ts'
import { difference, firstDifference, RESULTS } from './differences.ts'
import type { Socket } from 'node:net'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const fakeDaemon = (options: FakeDaemonOptions) => daemons.daemon(options)
const connected = (daemon: FakeDaemon) => daemons.connected(daemon)

/**
 * An output as a pipe is to Node: write() says "no more for now" past 16 KiB it has not passed
 * on; it passes bytes on unless `stalled` (a reader that stopped reading), and once `broken`
 * (a reader gone) its writes fail with EPIPE, an 'error' event, as process.stdout's do.
 */
class Sink extends Writable {
  stalled = false
  broken = false
  /** a write failed while nothing listened for the error: Node would have ended the process there */
  unheard = false
  private readonly held: (() => void)[] = []
  private readonly chunks: Buffer[] = []
  constructor() {
    super({ highWaterMark: 16 << 10 })
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error) => void) {
    if (this.broken) {
      if (this.listenerCount('error') > 0) return callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' }))
      this.unheard = true
      return callback()
    }
    const pass = () => (this.chunks.push(Buffer.from(chunk)), callback())
    if (this.stalled) this.held.push(pass)
    else setImmediate(pass)
  }
  release(): void {
    this.stalled = false
    for (const pass of this.held.splice(0)) pass()
  }
  text(): string {
    return short(Buffer.concat(this.chunks).toString())
  }
  listening(): string {
    return `${this.listenerCount('error')} 'error', ${this.listenerCount('drain')} 'drain'`
  }
}

/**
 * A daemon's stream as a socket hands it over: the next chunk comes, a turn of the event loop
 * later, only when the reader asks for more (`chunk(i)`, null at the end).
 */
function daemonStream(chunk: (i: number) => Buffer | null) {
  let made = 0
  return new Readable({ highWaterMark: 16 << 10, read() { setImmediate(() => this.push(chunk(made++))) } })
}

const outputs = () => ({ stdout: new Sink(), stderr: new Sink() })
const turns = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('the copy of the output (stdcopy)', () => {
  const big = 'x'.repeat(70_000) + '\n'
  const stream = Buffer.concat([frame('stdout', 'out 1\n'), frame('stderr', 'err 1\n'), frame(0, 'in\n'), frame('stdout', big), frame('stderr', 'err 2\n')])

  it('copyOutput of a framed stream in 5-byte pieces, of a terminal\'s stream, and of the daemon\'s error in the stream', async () => {
    const a = outputs()
    const pieces = Array.from({ length: Math.ceil(stream.length / 5) }, (_, i) => stream.subarray(5 * i, 5 * i + 5))
    const framedError = await caught(() => copyOutput(daemonStream((i) => pieces[i] ?? null), a, false))
    expect({ stdout: a.stdout.text(), stderr: a.stderr.text(), error: framedError && String(framedError) }, 'without a terminal: expected the frames demultiplexed — what does the daemon send for a container without one? (see "Frames")')
      .toEqual({ stdout: short(`out 1\nin\n${big}`), stderr: 'err 1\nerr 2\n', error: undefined })

    const b = outputs()
    const ttyError = await caught(() => copyOutput(daemonStream((i) => (i ? null : Buffer.from('tty bytes\r\n'))), b, true))
    expect({ stdout: b.stdout.text(), stderr: b.stderr.text(), error: ttyError && String(ttyError) }, 'with a terminal: expected the bytes on stdout as they came — what does the daemon send for a container with a terminal? (see "Frames")')
      .toEqual({ stdout: 'tty bytes\r\n', stderr: '', error: undefined })

    const failing = daemonStream((i) => (i ? frame('stdout', 'more\n') : frame(3, 'daemon said no')))
    const failed = await within(caught(() => copyOutput(failing, outputs(), false)), 5000)
    expect(String(failed), 'the daemon\'s error in the stream: expected the copy to fail with its words (frameReader throws them)').toContain('daemon said no')
    expect(failing.destroyed, 'the copy failed on the daemon\'s error but left its stream open: who else would let go of the attach?').toBe(true)
  })

  it('copyOutput to a stdout that stops taking bytes, to both outputs stopped and then stdout let go, and of a terminal\'s stream into a stopped stdout', async () => {
    const MiB = 1 << 20
    const payload = (i: number) => Buffer.alloc(32 << 10, 97 + (i % 26))
    // 16 MiB in frames of 32 KiB: stdout only; a frame of each in every chunk; a terminal's stream, unframed
    const cases = [
      { what: 'stdout stopped taking bytes', tty: false, stop: ['stdout'], letGo: [], chunks: 512, chunk: (i: number) => frame('stdout', payload(i)) },
      { what: 'both stopped, then stdout let go', tty: false, stop: ['stdout', 'stderr'], letGo: ['stdout'], chunks: 256, chunk: (i: number) => Buffer.concat([frame('stdout', payload(i)), frame('stderr', payload(i))]) },
      { what: 'a terminal\'s stream, stdout stopped', tty: true, stop: ['stdout'], letGo: [], chunks: 512, chunk: (i: number) => payload(i) },
    ] as const
    for (const { what, tty, stop, letGo, chunks, chunk } of cases) {
      const sinks = outputs()
      for (const side of stop) sinks[side].stalled = true
      const copying = copyOutput(daemonStream((i) => (i < chunks ? chunk(i) : null)), sinks, tty)
      copying.catch(() => {})
      await turns(300)
      for (const side of letGo) sinks[side].release()
      await turns(300)
      // what the copy has piled on the outputs that do not pass it on: a pipe nobody reads holds it in the client
      const piled = sinks.stdout.writableLength + sinks.stderr.writableLength
      if (piled > MiB) expect.fail(`${what}: your copy has handed ${(piled / MiB).toFixed(1)} MiB to outputs that took none of it past their first 16 KiB, and reads on — in a client whose stdout is a pipe nobody reads, where does that go, and what holds the daemon back? (see "A slow or closed stdout")`)
      sinks.stdout.release()
      sinks.stderr.release()
      const settled = await within(copying.then(() => 'ended', (error: unknown) => String(error)), 15_000)
      const all = Array.from({ length: chunks }, (_, i) => payload(i).toString()).join('')
      const got = { settled, stdout: sinks.stdout.text(), stderr: sinks.stderr.text() }
      const differs = firstDifference(got, { settled: 'ended', stdout: short(all), stderr: stop.length === 2 ? short(all) : '' }, [['settled', 'the copy', ''], ['stdout', 'stdout', ''], ['stderr', 'stderr', '']])
      if (differs) expect.fail(`${what}, then both outputs taking bytes again: ${differs} — once the outputs drain, does your copy go on, to the stream's end, every byte in order?`)
    }
  }, 60_000)

  it('copyOutput to a stdout whose reader went away, and a dozen copies one after the other on the same stdout and stderr', async () => {
    const broken = outputs()
    broken.stdout.broken = true
    const endless = daemonStream(() => frame('stdout', 'y\n'))
    const copying = copyOutput(endless, broken, false)
    const settled = await within(copying.then(() => 'ended as if the stream had', (error: unknown) => error), 5000)
    if (broken.stdout.unheard) expect.fail('stdout\'s write failed (EPIPE: its reader went away) and nothing heard it: the client would have died there, with a stack trace, not the CLI\'s words (see "A slow or closed stdout")')
    if (!(settled instanceof Error)) expect.fail(`the copy to a stdout that fails every write: ${settled === 'late' ? 'not settled 5 s after' : settled} — whose error is that, and what does docker 28.2.2 do with it? (see "A slow or closed stdout")`)
    expect(endless.destroyed, 'stdout failed and the copy left the daemon\'s stream open: a container printing on, and nobody to let go of its attach').toBe(true)
    expect(`stdout: ${broken.stdout.listening()}; stderr: ${broken.stderr.listening()}`, 'what the failed copy left listening on the outputs (left: yours) — the outputs outlive the copy: what may they keep of it once it has settled?').toBe('stdout: 0 \'error\', 0 \'drain\'; stderr: 0 \'error\', 0 \'drain\'')

    // each way a copy ends, twice over, on the same outputs: logs -f, exec, the runs of a long-lived caller
    const shared = outputs()
    const ways: [string, () => Readable][] = [
      ['the stream\'s end', () => daemonStream((i) => (i ? null : frame('stdout', 'a\n')))],
      ['the daemon\'s error in the stream', () => daemonStream(() => frame(3, 'no'))],
      ['a close without an end', () => daemonStream((i) => (i ? null : frame('stdout', 'a\n'))).on('data', function (this: Readable) { this.destroy() })],
      ['the stream cut while stdout had stopped taking bytes', () => {
        const cut = daemonStream(() => frame('stdout', payload))
        setTimeout(() => cut.destroy(), 300)
        return cut
      }],
    ]
    const payload = Buffer.alloc(32 << 10, 'z')
    for (const round of [1, 2, 3]) {
      for (const [way, source] of ways) {
        shared.stdout.stalled = way.includes('stopped')
        await within(caught(() => copyOutput(source(), shared, false)), 5000)
        shared.stdout.release()
        const left = `stdout: ${shared.stdout.listening()}; stderr: ${shared.stderr.listening()}`
        expect(left, `round ${round}, a copy ended by ${way}: what it left listening on the outputs (left: yours) — the outputs outlive the copy: what may they keep of it once it has settled?`)
          .toBe('stdout: 0 \'error\', 0 \'drain\'; stderr: 0 \'error\', 0 \'drain\'')
      }
    }
  }, 60_000)
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

describe('the run\'s stream, cut or refused, beside docker 28.2.2', () => {
  const ID = 'c0ffee'.repeat(10) + 'c0ff'
  /**
   * A daemon whose container's attach stream is `stream`, ended. With `waits`, its wait answers
   * 3 once that connection has closed (or as `waits` answers it, head and all); without, the wait
   * never answers (a container that runs on).
   */
  async function cutDaemon(stream: Buffer | undefined, waits: boolean | ((res: ServerResponse) => void)) {
    let wait: ServerResponse | undefined
    let attachClosed = false
    const answerWait = () => {
      if (!waits || !attachClosed || !wait) return
      const res = wait
      wait = undefined
      if (waits === true) res.end('{"StatusCode":3,"Error":null}\n')
      else waits(res)
    }
    return fakeDaemon({
      version: '1.41',
      answer: (req, res) => {
        req.resume()
        const path = req.url!.replace(/^\/v[\d.]+/, '').split('?')[0]!
        if (path === '/containers/create') res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: ID, Warnings: [] }))
        else if (path.endsWith('/wait')) ((wait = res), typeof waits === 'boolean' && res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders(), answerWait())
        else if (path.endsWith('/start')) res.writeHead(204).end()
        else res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no ${path} here` }))
      },
      upgrade: (_req, socket) => {
        socket.on('close', () => ((attachClosed = true), answerWait()))
        if (stream === undefined) return void socket.end() // closed before any answer
        socket.end(Buffer.concat([Buffer.from('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'), stream]))
      },
    })
  }

  it('run whose wait answers with something other than an exit code: the daemon\'s error, a body that is not JSON, no body, half a body', async () => {
    // the container printed its line and ended; then its wait answers, once the attach has
    // closed, as a daemon that lost the container, a proxy that gave up, or a connection cut
    const answers: [string, (res: ServerResponse) => void][] = [
      ['an Error beside the StatusCode', (res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"StatusCode":0,"Error":{"Message":"container state lost"}}\n')],
      ['a body that is not JSON', (res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('upstream timed out\n')],
      ['an empty body', (res) => res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '0' }).end()],
      ['half a body, then the connection cut', (res) => (res.writeHead(200, { 'Content-Type': 'application/json' }).write('{"StatusCode":'), setImmediate(() => res.socket?.destroy()))],
    ]
    const daemonFor = (answer: (res: ServerResponse) => void) => cutDaemon(frame('stdout', 'done\n'), answer)
    for (const [what, answer] of answers) {
      const theirs = await docker('28.2.2', (await daemonFor(answer)).host, ['run', 'example.test/box'], { timeout: 30_000 })
      const mine = await minidocker(['-H', (await daemonFor(answer)).host, 'run', 'example.test/box'], { timeout: 15_000 })
        .catch((error: Error) => {
          if (error instanceof NotImplementedError) throw error
          return { stdout: '', stderr: error.message, exitCode: undefined }
        })
      const logged = (text: string) => text.replace(/time="[^"]*" /g, '')
      const differs = firstDifference({ ...mine, stderr: logged(mine.stderr) }, { ...theirs, stderr: logged(asMinidocker(theirs.stderr)) }, RESULTS)
      if (differs) expect.fail(`the wait answered with ${what}: ${differs}, against the same daemon as docker 28.2.2 — how does the CLI's client read the wait's answer, and what does it make of each thing that is not an exit code? (moby's client/container_wait.go, ContainerWait; the CLI's utils.go, waitExitOrRemoved)`)
    }
  }, 120_000)

  it('run of a container whose stream is cut inside a frame, carries the daemon\'s error, is not framed, or never answers the attach', async () => {
    const cases: [string, Buffer | undefined, boolean][] = [
      ['a stream cut inside a frame\'s payload, then the exit', Buffer.concat([frame('stdout', 'whole\n'), frame('stderr', 'cut short\n').subarray(0, 12)]), true],
      ['a stream cut inside a frame\'s header, then the exit', Buffer.concat([frame('stdout', 'whole\n'), frame('stderr', 'x\n').subarray(0, 5)]), true],
      ['the daemon\'s error in the stream, and no exit yet', Buffer.concat([frame('stdout', 'before\n'), frame(3, 'container gone'), frame('stdout', 'after\n')]), false],
      ['a stream StdCopy cannot read, and no exit yet', Buffer.concat([frame('stdout', 'before\n'), frame(7, 'what'), frame('stdout', 'after\n')]), false],
      ['a frame StdCopy cannot read, cut inside its payload, and no exit yet', Buffer.concat([frame('stdout', 'before\n'), frame(7, 'what is this').subarray(0, 10)]), false],
      ['an attach closed before any answer', undefined, false],
    ]
    for (const [what, stream, waits] of cases) {
      const theirs = await docker('28.2.2', (await cutDaemon(stream, waits)).host, ['run', 'example.test/box'], { timeout: 30_000 })
      // docker ends within a second here: a client still running after 15 s is waiting for something that is not coming
      const mine = await minidocker(['-H', (await cutDaemon(stream, waits)).host, 'run', 'example.test/box'], { timeout: 15_000 })
        .catch((error: Error) => {
          if (error instanceof NotImplementedError) throw error
          return { stdout: '', stderr: error.message, exitCode: undefined }
        })
      const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS)
      if (differs) expect.fail(`${what}: ${differs}, against the same daemon as docker 28.2.2 — what reached which side, which words, which exit code; and whose error is it: the stream's, the attach's, the run's? (see "Frames" and "Hijacking")`)
    }
  }, 120_000)
})
