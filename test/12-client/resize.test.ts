/**
 * The pty's size, judged by docker 28.2.2: each client's `run -t` in a pseudo-terminal of 24
 * rows by 80 columns, against a fake daemon whose container prints "ready" and runs until the
 * daemon has had no resize for a second. The daemon refuses resizes, or holds one while the
 * test resizes the terminal under the client: which sizes reach it, how many, and what the
 * terminal shows must be docker's. The daemon applies a size when it answers the resize, as
 * two requests at once may reach a real daemon's pty in either order.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { endInTerminal, MINIDOCKER } from '../support/client.ts'
import { CLIS, dockerEnv } from '../support/daemon.ts'
import { fakeDaemons, json, oneContainer } from '../support/engine-server.ts'
import { firstDifference } from './differences.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())

const ID = 'c0ffee'.repeat(10) + 'c0ff'
const QUIET = 1000

interface Resize { size: string; at: number; answered?: number; refused: boolean; unanswered: number }

/** a client's command before its arguments, given the daemon's host */
type Client = (host: string) => string[]
const docker: Client = () => [CLIS['28.2.2']]
const mine: Client = (host) => [process.execPath, MINIDOCKER, '-H', host]

/**
 * `run -t example.test/box sh` from `client` in a pseudo-terminal. The daemon refuses the
 * resizes `refuse` names (by their number, from 1), holds the one `hold` names for 2 s, and once
 * the first resize has come, the terminal's shell runs `sh` (stty, sleeps).
 */
async function sized(client: Client, daemon: { refuse?: (n: number) => boolean; hold?: number; sh?: string }) {
  const t0 = Date.now()
  const resizes: Resize[] = []
  let unanswered = 0
  let attach: Socket | undefined
  let wait: ServerResponse | undefined
  let quiet: ReturnType<typeof setTimeout> | undefined
  let started: number | undefined
  let first: () => void = () => {}
  const firstResize = new Promise<void>((resolve) => (first = resolve))
  // the container ends once no resize has come or been answered for a while
  const settle = () => {
    clearTimeout(quiet)
    if (unanswered === 0) quiet = setTimeout(() => (wait?.end(JSON.stringify({ StatusCode: 0, Error: null })), attach?.end()), QUIET)
  }
  const fake = await daemons.daemon({
    version: '1.41',
    answer: oneContainer(ID, {
      wait: (res) => (wait = res),
      start: (res) => {
        started = Date.now() - t0
        res.writeHead(204).end()
        attach?.write('ready\r\n')
        settle()
      },
      kill: (_req, res) => res.writeHead(204).end(), // the proxy passes SIGWINCH on too
      resize: (req, res) => {
        const query = new URL(req.url!, 'http://daemon').searchParams
        const n = resizes.length + 1
        const resize: Resize = { size: `${query.get('h')}x${query.get('w')}`, at: Date.now() - t0, refused: daemon.refuse?.(n) ?? false, unanswered: ++unanswered }
        resizes.push(resize)
        clearTimeout(quiet)
        first()
        const answer = () => {
          unanswered--
          resize.answered = Date.now() - t0
          if (resize.refused) json(res, 409, { message: `Container ${ID} is not running` })
          else res.writeHead(200).end()
          settle()
        }
        if (n === daemon.hold) setTimeout(answer, 2000)
        else answer()
      },
    }),
    upgrade: (_req, socket) => {
      attach = socket
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
    },
  })
  const ended = await endInTerminal([...client(fake.host), 'run', '-t', 'example.test/box', 'sh'], {
    ready: 'ready', env: { ...dockerEnv(fake.host), MINIDOCKER_HOST: '' }, deadline: 15_000,
    act: () => (daemon.sh ? Promise.race([firstResize, new Promise((r) => setTimeout(r, 5000))]).then(() => ({ sh: daemon.sh! })) : undefined),
  })
  clearTimeout(quiet)
  await daemons.stop()
  return { resizes, started, output: ended.output.replace(/\r/g, ''), code: ended.code }
}

/** The pty's size at the end: the last size the daemon took, in the order it answered. */
const lastTaken = (resizes: Resize[]) => resizes.filter((r) => !r.refused && r.answered !== undefined).sort((a, b) => a.answered! - b.answered!).at(-1)?.size

describe('the pty\'s size, beside docker 28.2.2 (see "A terminal")', () => {
  it('resizes the daemon refuses: the first three, then all of them', async () => {
    for (const [refuses, refuse] of [['the first three', (n: number) => n <= 3], ['every one', () => true]] as const) {
      const seen = async (client: Client) => {
        const { resizes, output, code } = await sized(client, { refuse })
        return { resizes: resizes.map((r) => r.size), output, code, gaps: resizes.slice(1).map((r, i) => r.at - resizes[i]!.answered!) }
      }
      const theirs = await seen(docker)
      const ours = await seen(mine)
      const differs = firstDifference(ours, theirs, [
        ['resizes', 'sizes sent, in order', ''], ['output', 'terminal output', ''], ['code', 'exit code (undefined: still running 15 s on)', ''],
      ])
      if (differs) expect.fail(`run -t at a terminal of 24x80, the daemon refusing ${refuses} of its resizes (409, not running): ${differs} — the first resize goes out as the start answers: what may the daemon not have yet, what does docker do about it, for how long, and what does it say in the end? Refuse them at docker 28.2.2 (see "A terminal"; tty.go, initTtySize)`)
      // Go's sleeps are at least as long as asked: the Nth try waits N times 10 ms
      const short = ours.gaps.findIndex((gap, i) => gap < (i + 1) * 10 - 2)
      if (short >= 0) expect.fail(`run -t, the daemon refusing ${refuses} of its resizes: your try ${short + 2} came ${ours.gaps[short]} ms after the daemon refused the one before (gaps: ${ours.gaps.join(', ')} ms) — how long does docker wait before each try, and why wait at all? (see "A terminal"; tty.go, initTtySize)`)
    }
  }, 120_000)

  it('the terminal resized three times while the daemon holds a resize for 2 s', async () => {
    // rows and columns are set one at a time: each is a SIGWINCH
    const sh = 'stty rows 30 cols 100; sleep 0.3; stty rows 40 cols 120; sleep 0.3; stty cols 132'
    const seen = async (client: Client) => {
      const { resizes, started, output, code } = await sized(client, { hold: 2, sh })
      const held = resizes[1]
      return {
        beforeStart: resizes.filter((r) => started === undefined || r.at < started).length, first: resizes[0]?.size, unanswered: Math.max(0, ...resizes.map((r) => r.unanswered)),
        afterHeld: held?.answered === undefined ? [] : resizes.filter((r) => r.at >= held.answered!).map((r) => r.size),
        last: lastTaken(resizes), output, code,
      }
    }
    const theirs = await seen(docker)
    const ours = await seen(mine)
    const differs = firstDifference(ours, theirs, [
      ['beforeStart', 'resizes sent before the start was answered', ''], ['first', 'the size sent first', ''], ['unanswered', 'most resizes unanswered at once', ''], ['afterHeld', 'sizes sent once the held resize was answered', ''],
      ['last', 'the pty\'s size at the end (the last size the daemon took, in the order it answered)', ''], ['output', 'terminal output', ''], ['code', 'exit code (undefined: still running 15 s on)', ''],
    ])
    if (differs) expect.fail(`run -t at a terminal of 24x80, resized to 30x100, 40x120 and 40x132 while the daemon held the second resize for 2 s (a daemon applies each size as it answers): ${differs} — what does the pty end up with if two resizes are out at once, and which sizes are still worth sending once the daemon answers? Resize docker 28.2.2's terminal the same way (see "A terminal"; tty.go, MonitorTtySize)`)
  }, 120_000)
})
