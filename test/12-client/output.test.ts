/**
 * The copy of the output, without a real daemon: frames (written by chapter 11's reference
 * writer) come in chunks no daemon would choose, into outputs that stop taking bytes or fail
 * as pipes do; then runs whose stream is cut or refused, and a -d run whose start is answered
 * late, against a small HTTP server on a unix socket that answers as dockerd would, beside
 * docker 28.2.2 against the same server.
 */
import { spawn } from 'node:child_process'
import type { ServerResponse } from 'node:http'
import { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { copyOutput } from '#ch/12-client/stdcopy.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { frame, short } from '../support/frames.ts'
import { apiPath, fakeDaemons, oneContainer, type FakeDaemonOptions } from '../support/engine-server.ts'
import { caught, within } from '../support/errors.ts'
import { docker, throwIfUnwritten } from '../support/daemon.ts'
import { asMinidocker, minidocker, runCommand } from '../support/client.ts'
import { firstDifference, maskTimes, RESULTS } from './differences.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const fakeDaemon = (options: FakeDaemonOptions) => daemons.daemon(options)

/**
 * An output as a pipe is to Node (a high-water mark of 16 KiB, as process.stdout's): it passes
 * bytes on unless `stalled` (a reader that stopped reading), and once `broken` (a reader gone)
 * its writes fail with EPIPE, as process.stdout's do.
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
  /** every listener on it, by event: what a copy may have left behind */
  listening(): string {
    return this.eventNames().map((event) => `${this.listenerCount(event)} on ${String(event)}`).join(', ') || 'none'
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
    expect(String(failed), 'the daemon\'s error in the stream: expected the copy to fail with the daemon\'s words').toContain('daemon said no')
    expect(failing.destroyed, 'the copy failed on the daemon\'s error, and the daemon\'s stream was still open once it had settled').toBe(true)
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
      await sleep(300)
      for (const side of letGo) sinks[side].release()
      await sleep(300)
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
    const baseline = broken.stdout.listening() // a Writable's own, before any copy
    broken.stdout.broken = true
    const endless = daemonStream(() => frame('stdout', 'y\n'))
    const copying = copyOutput(endless, broken, false)
    const settled = await within(copying.then(() => 'ended as if the stream had', (error: unknown) => error), 5000)
    if (broken.stdout.unheard) expect.fail('stdout\'s write failed (EPIPE: its reader went away) and nothing heard it: the client would have died there, with a stack trace, not the CLI\'s words (see "A slow or closed stdout")')
    if (!(settled instanceof Error)) expect.fail(`the copy to a stdout that fails every write: ${settled === 'late' ? 'not settled 5 s after' : settled} — whose error is that, and what does docker 28.2.2 do with it? (see "A slow or closed stdout")`)
    expect(endless.destroyed, 'stdout failed, and the daemon\'s stream was still open once the copy had settled: a container printing on into it').toBe(true)
    expect(`stdout: ${broken.stdout.listening()}; stderr: ${broken.stderr.listening()}`, 'the listeners on the outputs once the failed copy had settled (left: yours) — the outputs outlive the copy: what may they keep of it?').toBe(`stdout: ${baseline}; stderr: ${baseline}`)

    // each way a copy ends, twice over, on the same outputs: logs -f, exec, the runs of a long-lived caller
    const shared = outputs()
    const payload = Buffer.alloc(32 << 10, 'z')
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
    for (const round of [1, 2, 3]) {
      for (const [way, source] of ways) {
        const stalled = way.includes('stopped')
        shared.stdout.stalled = stalled
        const copying = caught(() => copyOutput(source(), shared, false))
        // cut while stdout held its bytes, a copy may settle at the cut or once stdout takes bytes again
        let settled = await within(copying, 5000)
        shared.stdout.release()
        if (settled === 'late' && stalled) settled = await within(copying, 5000)
        if (settled === 'late') expect.fail(`round ${round}, a copy ended by ${way}: not settled 5 s after${stalled ? ' stdout took bytes again' : ''} — in how many ways can a copy end, and does yours settle on each? (see "A slow or closed stdout")`)
        const left = `stdout: ${shared.stdout.listening()}; stderr: ${shared.stderr.listening()}`
        expect(left, `round ${round}, a copy ended by ${way}: the listeners on the outputs once it had settled (left: yours) — the outputs outlive the copy: what may they keep of it?`)
          .toBe(`stdout: ${baseline}; stderr: ${baseline}`)
      }
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
        const path = apiPath(req)
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
      const differs = firstDifference({ ...mine, stderr: maskTimes(mine.stderr) }, { ...theirs, stderr: maskTimes(asMinidocker(theirs.stderr)) }, RESULTS)
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

describe('run -d whose daemon holds the start\'s answer, beside docker 28.2.2 (see "The run sequence")', () => {
  const ID = 'deaf'.repeat(16)
  it('what the client has printed 1.5 s after it sent the start, still unanswered, and once the start is answered', async () => {
    const seen = async (who: 'docker' | 'yours') => {
      let answer = () => {}
      let started: () => void
      const startSent = new Promise<void>((resolve) => (started = resolve))
      const daemon = await fakeDaemon({
        version: '1.41',
        answer: oneContainer(ID, { start: (res) => ((answer = () => res.writeHead(204).end()), started()) }),
      })
      const [argv, env] = runCommand(who === 'docker' ? 'docker' : 'minidocker', daemon.host, ['-d', 'example.test/box'])
      const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let [stdout, stderr] = ['', '']
      child.stdout.on('data', (d: Buffer) => (stdout += d))
      child.stderr.on('data', (d: Buffer) => (stderr += d))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      try {
        const first = await within(Promise.race([startSent.then(() => 'start'), exited.then(() => 'ended')]), 20_000)
        if (first !== 'start') {
          throwIfUnwritten(stderr)
          throw new Error(`${who === 'docker' ? 'docker' : 'your run -d'} sent no start (${first === 'late' ? 'within 20 s' : 'it ended first'}): ${stderr}`)
        }
        await sleep(1500)
        const beforeStart = stdout
        answer()
        const code = await within(exited, 10_000)
        throwIfUnwritten(stderr)
        return { beforeStart: beforeStart.replaceAll(ID, 'ID'), stdout: stdout.replaceAll(ID, 'ID'), stderr: asMinidocker(stderr), exitCode: code === 'late' ? undefined : code }
      } finally {
        child.kill('SIGKILL')
      }
    }
    const theirs = await seen('docker')
    const mine = await seen('yours')
    const differs = firstDifference(mine, theirs, [['beforeStart', 'stdout while the daemon held the start\'s answer', ''], ...RESULTS])
    if (differs) expect.fail(`run -d, the daemon holding the start's answer for 1.5 s: ${differs} — what does the user of a -d run need first, and must it wait for the start? (see "The run sequence")`)
  }, 60_000)
})
