/**
 * The hijacked connection and the multiplexed stream, without a real daemon: a small HTTP
 * server on a unix socket answers as dockerd would, and the frames (written by chapter 11's
 * reference writer) are fed in chunks no daemon would choose. Fast, so that the chapter's
 * mistakes about chunks and hijacked bytes are caught here.
 */
import { linkSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { frameReader } from '#ch/12-client/stdcopy.ts'
import { readAll } from '../../lib/client.ts'
import { copyOutput } from '../../lib/container-output.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { frame as written } from '../../lib/output-streams.ts'
import { fakeDaemons, type FakeDaemon, type FakeDaemonOptions } from '../support/engine-server.ts'
import { caught } from '../support/errors.ts'
import { docker } from '../support/daemon.ts'
import { asMinidocker, minidocker } from '../support/client.ts'
import { difference, firstDifference, RESULTS } from './differences.ts'
import type { Socket } from 'node:net'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const fakeDaemon = (options: FakeDaemonOptions) => daemons.daemon(options)
const connected = (daemon: FakeDaemon) => daemons.connected(daemon)

/**
 * A frame as the daemon writes it, of stdout, stderr, or another stream number: chapter 11's
 * writer knows only stdout and stderr, so another number is a stdout frame with the byte that
 * tells the two apart set to it.
 */
function frame(stream: 'stdout' | 'stderr' | number, payload: string): Buffer {
  if (typeof stream === 'string') return written(stream, Buffer.from(payload))
  const [out, err] = [written('stdout', Buffer.from(payload)), written('stderr', Buffer.from(payload))]
  const other = Buffer.from(out)
  other[out.findIndex((byte, i) => byte !== err[i])] = stream
  return other
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
  const small = [frame('stdout', 'out 1\n'), frame('stderr', 'err 1\n'), frame(0, 'in\n')]
  const stream = Buffer.concat([...small, frame('stdout', big), frame('stderr', 'err 2\n')])
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
      expect(result, `${what}: expected each payload whole, on the side it was written to (left: yours) — a chunk is not a frame: what does your reader keep for the next push, and where does it think the next frame starts? (see "Frames")`)
        .toEqual(expected)
    }
  })

  it('frameReader given the daemon\'s error in the stream, a stream number StdCopy does not know, and a stream cut inside a frame', () => {
    const { outputs, text } = collector()
    const reader = frameReader(outputs)
    expect(() => reader.push(Buffer.concat([frame('stdout', 'before\n'), frame(3, 'the container is gone')])), 'the daemon\'s own error in the stream: expected an error with its words')
      .toThrow('the container is gone')
    expect(text().stdout, 'expected the frame before the error written').toBe('before\n')
    expect(() => frameReader(outputs).push(frame(7, 'what')), 'a frame of a stream StdCopy does not know: expected an error naming its number')
      .toThrow(/\b7\b/)
    // a frame of such a stream whose payload has not come, and may never come (a daemon that
    // stalls, a size no one will send): the run beside it below shows what docker makes of it
    const unknown = frameReader(collector().outputs)
    const stalled = (() => {
      try {
        unknown.push(frame(7, 'x'.repeat(1000)).subarray(0, 11))
        return 'nothing thrown yet'
      } catch (thrown) {
        if (thrown instanceof NotImplementedError) throw thrown
        return String(thrown).match(/\b7\b/) ? 'refused, naming 7' : String(thrown)
      }
    })()
    // what docker's StdCopy has done by then, as measured
    const judged = difference('push', stalled, 'refused, naming 7')
    if (judged) expect.fail(`a header of stream 7 and 3 bytes of its 1000-byte payload, nothing more yet: ${judged} — which of a frame's facts does StdCopy need before it can judge it, and what does it wait for after that? (moby's stdcopy.go, StdCopy, line by line)`)
    // a daemon gone, or a proxy's cut: the stream ends in a frame's payload, or in its header
    for (const [where, length] of [['payload', 12], ['header', 5]] as const) {
      const cut = collector()
      const reader = frameReader(cut.outputs)
      let error: string | undefined
      try {
        reader.push(Buffer.concat([frame('stdout', 'whole\n'), frame('stderr', 'cut short\n').subarray(0, length)]))
        reader.end()
      } catch (thrown) {
        if (thrown instanceof NotImplementedError) throw thrown
        error = String(thrown)
      }
      // what docker 28.2.2 prints of the same stream, as measured (and asked of it in the run beside it below)
      const differs = firstDifference({ ...cut.text(), error }, { stdout: 'whole\n', stderr: '', error: undefined }, [['stdout', 'stdout', ''], ['stderr', 'stderr', ''], ['error', 'error thrown (undefined: none)', '']])
      if (differs) expect.fail(`a stream that ended inside a frame's ${where}: ${differs} — when does StdCopy write a payload, and what does it return when its source ends? (moby's stdcopy.go)`)
    }
  })

  it('frameReader fed megabytes: one payload of 64 MiB in 4 KiB chunks, and 300 000 small frames in 1 MiB chunks', () => {
    // a container that writes a large file to stdout at once, and one that writes a line at a
    // time, as a connection delivers them: each push must cost about its own size
    const line = frame('stdout', 'x')
    const lines = Buffer.alloc(line.length * 300_000)
    for (let at = 0; at < lines.length; at += line.length) line.copy(lines, at)
    const cases = [
      { what: 'one payload of 64 MiB in 4 KiB chunks', input: Buffer.concat([written('stdout', Buffer.alloc(64 << 20, 'y')), frame('stderr', 'done\n')]), size: 4096, bytes: 64 << 20 },
      { what: '300 000 frames of one byte in 1 MiB chunks', input: Buffer.concat([lines, frame('stderr', 'done\n')]), size: 1 << 20, bytes: 300_000 },
    ]
    for (const { what, input, size, bytes } of cases) {
      let [stdout, stderr] = [0, '']
      const reader = frameReader({ stdout: { write: (b: Buffer) => (stdout += b.length) }, stderr: { write: (b: Buffer) => (stderr += b.toString()) } })
      const budget = 15_000 // ms: a reader linear in the stream takes a small part of it, even on a busy machine
      const start = Date.now()
      let pushed = 0
      for (; pushed < input.length && Date.now() - start < budget; pushed += size) reader.push(input.subarray(pushed, pushed + size))
      const seconds = ((Date.now() - start) / 1000).toFixed(1)
      expect(pushed >= input.length ? 'all pushed' : `${seconds} s for ${Math.round((100 * pushed) / input.length)}% of the stream`, `${what}: yours (left) — what does each push cost yours, and does that grow with what it holds already? (see "Frames")`)
        .toBe('all pushed')
      reader.end()
      expect({ stdout, stderr }, `${what}: expected every payload byte on its side`).toEqual({ stdout: bytes, stderr: 'done\n' })
    }
  }, 60_000)

  it('copyOutput (given) of a framed stream, of a terminal\'s stream, and of the daemon\'s error in the stream', async () => {
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
    expect(String(await failed), 'expected copyOutput to reject with the daemon\'s error from the stream').toContain('daemon said no')
    failing.destroy()
  })
})

describe('the hijacked connection', () => {
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
    daemons.hijacked.push(stream)
    stream.write('hello')
    const got = await readAll(stream)
    const lost = got.startsWith('first bytes|') ? '' : ' The first bytes the daemon sent after its 101 never reached the stream yours returned: where did those bytes go?'
    expect(got, `expected every byte the daemon wrote after the 101, in order, and the connection usable both ways (left: yours).${lost} (see "Hijacking")`).toBe('first bytes|echo:hello')
    expect(daemon.requests.at(-1), 'expected a POST at the negotiated version').toBe('POST /v1.41/containers/c/attach?stdout=1&stream=1')

    const missing = await caught(() => engine.upgrade('/containers/nope/attach'))
    // the CLI's words for a refused upgrade, as docker 28.2.2 gives them (the tests below ask the CLI itself)
    const refusal = (status: number) => `unable to upgrade to tcp, received ${status}`
    expect(missing?.message === refusal(404), `a 404 instead of a 101: your error was ${JSON.stringify(missing?.message)}, not the words of the CLI's client (moby's client/hijack.go, setupHijackConn, as vendored in docker 28.2.2)`).toBe(true)
    const plain = await caught(() => engine.upgrade('/containers/plain/attach'))
    expect(plain?.message === refusal(200), `a 200 instead of a 101, the second refused upgrade of this Engine: your error was ${JSON.stringify(plain?.message)}, not the CLI's words — yours gave them for the 404: what was different the second time? (see "Hijacking")`).toBe(true)
  })

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
