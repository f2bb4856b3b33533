/**
 * `run` whose stdout or stdin is a pipe, beside docker 28.2.2 against the same fake daemon: a
 * reader that goes away (`| head -c 20`), a reader that stops for a while (`| less`, a slow
 * script), and with -i a writer faster than the container reads (`cat big | run -i`). The
 * daemon's container prints as fast as the client takes its bytes, and the daemon counts what
 * it managed to send; it reads nothing of the attach. And with -i, no terminal, a stdin that
 * holds the default detach keys: the bytes the daemon gets. And `yes | run -i … head -n 1`,
 * where the daemon closes the attach with stdin unread (the text's "Exit codes").
 */
import { spawn } from 'node:child_process'
import type { ServerResponse } from 'node:http'
import { execa } from 'execa'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { throwIfUnwritten } from '../support/daemon.ts'
import { asMinidocker, runCommand } from '../support/client.ts'
import { apiPath, fakeDaemons, oneContainer } from '../support/engine-server.ts'
import { frame } from '../support/frames.ts'
import { within } from '../support/errors.ts'
import { firstDifference, RESULTS } from './differences.ts'

const daemons = fakeDaemons()
/** the process groups of the shells that ran a client into a pipe */
const groups: number[] = []
afterEach(async () => {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {} // ended already
  }
  await daemons.stop()
})

const ID = 'feed'.repeat(16)
const MiB = 1 << 20
/** The container's n-th line, 1 KiB with its number, so that a lost or repeated line shows. */
const line = (n: number) => `line ${String(n).padStart(8, '0')} ${'.'.repeat(1004)}\n`

/**
 * A daemon whose container, once attached and started, is `attached`: given the attach (framed)
 * and its exit with 0, which answers the wait whenever the client's wait comes (stdin may reach
 * the attach before the wait reaches the daemon).
 */
function attachedDaemon(attached: (socket: Socket, exit: () => void) => void) {
  let wait: ServerResponse | undefined
  let exited = false
  const exit = () => {
    exited = true
    wait?.end('{"StatusCode":0,"Error":null}\n')
  }
  let socket: Socket | undefined
  let started = false
  let running = false
  const run = () => {
    if (running || !socket || !started) return
    running = true
    attached(socket, exit)
  }
  return daemons.daemon({
    version: '1.41',
    answer: oneContainer(ID, {
      start: (res) => (res.writeHead(204).end(), (started = true), run()),
      wait: (res) => ((wait = res), exited && exit()),
    }),
    upgrade: (_req, attach: Socket) => {
      attach.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      socket = attach
      run()
    },
  })
}

/**
 * A daemon whose container, once started, prints `lines` lines on its attach (for ever when
 * Infinity) as fast as the client takes them, then, once `running` settles, exits 3: its wait
 * answers then. It never reads the attach: the container takes none of its stdin.
 */
async function printingDaemon(lines: number, running?: Promise<void>) {
  const state = { sent: 0, attachClosed: false, requests: [] as string[] }
  let attach: Socket | undefined
  let exit: (() => void) | undefined
  let begin!: () => void
  const started = new Promise<void>((resolve) => (begin = resolve))
  const print = (socket: Socket) => {
    let n = 0
    const pump = () => {
      while (n < lines && !socket.destroyed) {
        const bytes = frame('stdout', line(n++))
        state.sent += bytes.length
        if (!socket.write(bytes)) return void socket.once('drain', pump)
      }
      if (!socket.destroyed) void Promise.resolve(running).then(() => socket.end(exit))
    }
    pump()
  }
  const daemon = await daemons.daemon({
    version: '1.41',
    answer: (req, res) => {
      req.resume()
      const path = apiPath(req)
      state.requests.push(`${req.method} ${path}`)
      if (path === '/containers/create') res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: ID, Warnings: [] }))
      else if (path.endsWith('/wait')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders()
        exit = () => res.end(JSON.stringify({ StatusCode: 3, Error: null }) + '\n')
      } else if (path.endsWith('/start')) {
        res.writeHead(204).end()
        begin()
        if (attach) print(attach)
      } else res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no ${path} here` }))
    },
    upgrade: (_req, socket: Socket) => {
      socket.on('close', () => (state.attachClosed = true))
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      attach = socket
    },
  })
  return { host: daemon.host, state, started }
}

interface Piped {
  stdout: string
  stderr: string
  exitCode: number | null
  /** what the daemon had sent by the end of the reader's pause */
  sentWhileStalled?: number
}

/**
 * `client run example.test/box` with its stdout a pipe, as a shell makes it: `| head -c N`, or
 * `| { sleep S; cat; }`, whose reader reads nothing for S seconds and then all. The client's
 * own stderr and exit code come back; a client still running 20 s later is killed.
 */
async function intoPipe(client: 'docker' | 'minidocker', host: string, state: { sent: number }, how: { head: number } | { stall: number }): Promise<Piped> {
  const [argv, env] = runCommand(client, host, ['example.test/box'])
  const reader = 'head' in how ? `head -c ${how.head}` : `{ sleep ${how.stall / 1000}; cat; }`
  // a group of its own: the shell, the client and the reader are ended together if they outlive the test
  const child = spawn('bash', ['-c', `"$@" | ${reader}; exit "\${PIPESTATUS[0]}"`, 'pipe', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  groups.push(child.pid!)
  let [stdout, stderr] = ['', '']
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  let sentWhileStalled: number | undefined
  if ('stall' in how) {
    await sleep(how.stall - 500)
    sentWhileStalled = state.sent
  }
  const exitCode = await within(exited, 20_000)
  throwIfUnwritten(stderr)
  if (exitCode === 'late') return { stdout, stderr: `${stderr}(still running 20 s later)`, exitCode: null, sentWhileStalled }
  return { stdout, stderr, exitCode, sentWhileStalled }
}

/**
 * `client run -i example.test/box` with its stdin a pipe the test writes as fast as the client
 * takes it, while the container reads none of it for 3 s: how much the client took by then
 * (counted when written into the pipe, so at most one pipe's worth more than the client read).
 * The writer stops at `most` bytes, so that a client that takes all it is given fails without
 * filling the machine's memory. Then the container exits: the client's stderr and exit code.
 */
async function fromPipe(client: 'docker' | 'minidocker', most: number): Promise<Piped & { taken: number }> {
  let exit!: () => void
  const { host, started } = await printingDaemon(0, new Promise((resolve) => (exit = resolve)))
  const [argv, env] = runCommand(client, host, ['-i', 'example.test/box'])
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  groups.push(child.pid!)
  let [stdout, stderr, taken, writing] = ['', '', 0, true]
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  child.stdin.on('error', () => (writing = false)) // the client has gone: nothing more to write
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const chunk = Buffer.alloc(64 * 1024, 'y\n')
  const write = () => {
    while (writing && taken < most) {
      if (!child.stdin.write(chunk, (error) => error || (taken += chunk.length))) return void child.stdin.once('drain', write)
    }
  }
  write()
  // the 3 s count from the start, which comes after the attach: on a busy machine a client
  // can take seconds to reach its copy
  await within(Promise.race([started, exited]), 30_000)
  await sleep(3000)
  const took = taken
  writing = false
  exit()
  const exitCode = await within(exited, 20_000)
  child.stdin.destroy()
  throwIfUnwritten(stderr)
  if (exitCode === 'late') return { stdout, stderr: `${stderr}(still running 20 s after its container exited)`, exitCode: null, taken: took }
  return { stdout, stderr, exitCode, taken: took }
}

describe('run whose stdout or stdin is a pipe, beside docker 28.2.2 (see "A slow or closed stdout" and "One connection, three streams")', () => {
  it('run | head -c 20: the pipe\'s reader gone while the container prints on', async () => {
    const dockers = await printingDaemon(Infinity)
    const theirs = await intoPipe('docker', dockers.host, dockers.state, { head: 20 })
    const daemon = await printingDaemon(Infinity)
    const mine = await intoPipe('minidocker', daemon.host, daemon.state, { head: 20 })
    const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS)
    if (differs) expect.fail(`the reader of the client's stdout went away after 20 bytes: ${differs}, against the same daemon as docker 28.2.2 — when does Node tell you a write failed, and whose error does that make of the run?`)
    expect(daemon.state.attachClosed, 'the client has ended: its attach closed with it').toBe(true)
    const ending = (requests: string[]) => requests.filter((r) => /^DELETE |\/(kill|stop)$/.test(r))
    if (ending(daemon.state.requests).join() !== ending(dockers.state.requests).join()) {
      expect.fail(`after the pipe broke, your client sent ${ending(daemon.state.requests).join(', ') || 'no request that ends the container'}, and docker 28.2.2's did not — what becomes of the container when its client's stdout goes away?`)
    }
  }, 90_000)

  it('run into a pipe nobody reads for 3 s, then read to its end: 24 MiB of lines', async () => {
    const lines = 24 * 1024
    const dockers = await printingDaemon(lines)
    const theirs = await intoPipe('docker', dockers.host, dockers.state, { stall: 3000 })
    const daemon = await printingDaemon(lines)
    const mine = await intoPipe('minidocker', daemon.host, daemon.state, { stall: 3000 })
    // what docker held back is its sockets' and pipe's buffers; allow yours four times that, and 8 MiB at least
    const allowed = Math.max(4 * theirs.sentWhileStalled!, 8 * MiB)
    if (mine.sentWhileStalled! > allowed) {
      expect.fail(`while nobody read the client's stdout for 3 s, the daemon sent yours ${(mine.sentWhileStalled! / MiB).toFixed(1)} MiB, docker 28.2.2 ${(theirs.sentWhileStalled! / MiB).toFixed(1)} MiB — all of it is in your client's memory: what holds the daemon back when the client's stdout does not take its bytes?`)
    }
    const printed = Array.from({ length: lines }, (_, n) => line(n)).join('')
    // the stdout read in words: every line in order, or where it stopped being what was printed
    const whole = (got: Piped) => {
      if (got.stdout === printed) return { ...got, stdout: 'every line, in order' }
      const at = got.stdout.split('\n').findIndex((text, n) => `${text}\n` !== line(n))
      return { ...got, stdout: `${got.stdout.length} of ${printed.length} bytes, as printed up to line ${at}` }
    }
    const differs = firstDifference(whole(mine), { ...whole(theirs), stderr: asMinidocker(theirs.stderr) }, RESULTS)
    if (differs) expect.fail(`the reader came back after 3 s and read to the end: ${differs}, against the same daemon as docker 28.2.2 — does your copy go on once stdout takes bytes again, and does every byte reach the pipe before the client exits?`)
  }, 90_000)

  it('cat big | run -i: a container that reads none of its stdin for 3 s, then exits', async () => {
    const theirs = await fromPipe('docker', 256 * MiB)
    // what docker took is its pipe's and sockets' buffers; allow yours four times that, and 8 MiB at least
    const allowed = Math.max(4 * theirs.taken, 8 * MiB)
    const mine = await fromPipe('minidocker', allowed + MiB)
    if (mine.taken > allowed) {
      expect.fail(`while the container read none of its stdin for 3 s, your client took ${(mine.taken / MiB).toFixed(1)} MiB from its stdin${mine.taken >= allowed + MiB ? ' (and the test stopped writing there)' : ''}, docker 28.2.2 ${(theirs.taken / MiB).toFixed(1)} MiB — where is what the daemon has not read, and what holds stdin back while the connection takes nothing?`)
    }
    const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS)
    if (differs) expect.fail(`the container exited with stdin still open and unread: ${differs}, against the same daemon as docker 28.2.2`)
  }, 150_000)

  it('yes | run -i: a container that exits after one line, the rest of its stdin unread', async () => {
    // the daemon closes the attach as the container's output ends, with stdin unread in its
    // buffer: the client reads the output, and then a reset (ECONNRESET) where an end would be.
    // dockerd does the same; the wait answers before the close, or after it
    const piped = async (client: 'docker' | 'minidocker', waitFirst: boolean) => {
      const daemon = await attachedDaemon((socket, exit) => socket.once('data', () => {
        socket.pause() // head has its line, and reads no more
        socket.write(frame('stdout', 'y\n'))
        if (waitFirst) exit()
        setTimeout(() => (socket.destroy(), waitFirst || setTimeout(exit, 50)), 100)
      }))
      const [argv, env] = runCommand(client, daemon.host, ['-i', 'example.test/box', 'head', '-n', '1'])
      // a client still running 20 s on is killed: a SIGTERM it would pass on to the container
      const run = execa('sh', ['-c', 'yes 2>/dev/null | exec "$@"', 'sh', ...argv], { env, reject: false, timeout: 20_000, killSignal: 'SIGKILL', detached: true })
      groups.push(run.pid!)
      const result = await run
      throwIfUnwritten(String(result.stderr))
      return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.timedOut ? undefined : result.exitCode }
    }
    for (const waitFirst of [false, true]) {
      const way = waitFirst ? 'the wait answered, then the attach closed' : 'the attach closed, then the wait answered'
      // the test's own check that its close is a reset at the client, read by docker 28.2.2
      if (!waitFirst) {
        const theirs = await piped('docker', waitFirst)
        expect(`${theirs.exitCode} ${theirs.stderr}`, `${way}: the test's daemon must reset the attach under the client, as docker 28.2.2 shows`).toMatch(/^1 .*connection reset by peer/)
      }
      const mine = await piped('minidocker', waitFirst)
      if (mine.stdout !== 'y' || mine.stderr !== '' || mine.exitCode !== 0) {
        expect.fail(`yes | run -i box head -n 1, the container printing "y" and exiting 0; ${way}, with the rest of stdin unread, so your client read a reset where the end would be: your stdout was ${JSON.stringify(mine.stdout)}, your stderr ${JSON.stringify(mine.stderr)}, your exit code ${mine.exitCode} (undefined: still running 20 s on) — whose failure is a reset that comes after all the container's output, and what does \`yes | head -n 1\` exit with in a shell? (see "Exit codes")`)
      }
    }
  }, 90_000)

  it('run -i without -t, the default detach keys inside its piped stdin', async () => {
    // the container reads all its stdin and exits 0 once it ends: the daemon answers the wait then
    const piped = async (client: 'docker' | 'minidocker') => {
      const got: Buffer[] = []
      const daemon = await attachedDaemon((socket, exit) => {
        socket.on('data', (chunk: Buffer) => got.push(chunk))
        socket.on('end', () => (socket.end(), setTimeout(exit, 100)))
      })
      const [argv, env] = runCommand(client, daemon.host, ['-i', 'example.test/box'])
      const result = await execa(argv[0]!, argv.slice(1), { env, input: Buffer.from('a\x10\x11b\n'), reject: false, timeout: 20_000 })
      throwIfUnwritten(String(result.stderr))
      return { sent: Buffer.concat(got).toString('hex'), stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.timedOut ? undefined : result.exitCode }
    }
    const theirs = await piped('docker')
    const mine = await piped('minidocker')
    const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, [['sent', 'bytes sent on the attach, in hex', ''], ...RESULTS])
    if (differs) expect.fail(`"a", Ctrl-P, Ctrl-Q, "b" and a newline piped into run -i, no terminal: ${differs} (exit code undefined: still running 20 s on) — with which flags are the detach keys watched, and why? (see "Detach keys")`)
  }, 60_000)
})
