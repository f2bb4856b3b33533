/**
 * `run -t` without `-i`, judged by docker 28.2.2: each client in a pseudo-terminal against a
 * fake daemon whose container prints "ready" and runs until it is sent a signal, typed at
 * with a line and then the terminal's interrupt key. What the terminal showed, what the
 * client sent on the attach, which signal reached the container and the exit code must be
 * docker's. And `run -it` with --detach-keys words that the daemon took and the client's own
 * table cannot read (test/support/detach-cli.ts's daemon, which takes any): what the client
 * says, what reaches the attach and which keys detach, as with docker.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { constants } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { MINIDOCKER, typeInTerminal } from '../support/client.ts'
import { CLIS, dockerEnv } from '../support/daemon.ts'
import { fakeDaemons, oneContainer } from '../support/engine-server.ts'
import { hex, typedAgainst } from '../support/detach-cli.ts'
import { firstDifference, maskTimes } from './differences.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())

const ID = 'c0ffee'.repeat(10) + 'c0ff'
/** a signal as a name without SIG, whether the client sent a name or a number */
const signalName = (signal: string) => (/^\d+$/.test(signal) ? Object.entries(constants.signals).find(([, n]) => n === Number(signal))?.[0] ?? signal : signal).replace(/^SIG/, '')

interface Seen { terminal: string; code?: number; sentOnAttach: string; stdinEnded: boolean; signals: string[] }

/** `argv` (a client's `run -t example.test/box sh`) in a pseudo-terminal, typed at with `keys` once the container is ready. */
async function typedAt(argv: (host: string) => string[], keys: number[]): Promise<Seen> {
  const sent: Buffer[] = []
  const signals: string[] = []
  let stdinEnded = false
  // whether the client had ended its side by the time the container was signalled: at its
  // own exit every client's side ends
  let endedBeforeKill: boolean | undefined
  let attach: Socket | undefined
  let wait: ServerResponse | undefined
  const daemon = await daemons.daemon({
    version: '1.41',
    answer: oneContainer(ID, {
      wait: (res) => (wait = res),
      start: (res) => (res.writeHead(204).end(), attach?.write('ready\r\n')),
      kill: (req, res) => {
        res.writeHead(204).end()
        endedBeforeKill ??= stdinEnded
        const signal = signalName(new URL(req.url!, 'http://daemon').searchParams.get('signal') ?? 'KILL')
        signals.push(signal)
        // the container dies of it, as sh at a terminal dies of an INT
        attach?.end(`container got ${signal}\r\n`)
        wait?.end(JSON.stringify({ StatusCode: 128 + (constants.signals[`SIG${signal}` as keyof typeof constants.signals] ?? 0), Error: null }))
      },
    }),
    upgrade: (_req, socket) => {
      attach = socket
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      socket.on('data', (chunk: Buffer) => sent.push(chunk))
      socket.on('end', () => (stdinEnded = true))
    },
  })
  const typed = await typeInTerminal(argv(daemon.host), keys, { ready: 'ready', env: { ...dockerEnv(daemon.host), MINIDOCKER_HOST: '' }, deadline: 4000 })
  await daemons.stop()
  return { terminal: typed.output, code: typed.code, sentOnAttach: Buffer.concat(sent).toString(), stdinEnded: endedBeforeKill ?? stdinEnded, signals }
}

describe('run -t without -i at a terminal, beside docker 28.2.2', () => {
  it('run -t, a line typed and then the interrupt key (^C): the terminal, the attach, the signal and the exit code', async () => {
    const keys = [...Buffer.from('echo hi\r'), 0x03]
    const args = ['run', '-t', 'example.test/box', 'sh']
    const theirs = await typedAt(() => [CLIS['28.2.2'], ...args], keys)
    const mine = await typedAt((host) => [process.execPath, MINIDOCKER, '-H', host, ...args], keys)
    const differs = firstDifference(mine, theirs, [
      ['terminal', 'terminal output', ''], ['sentOnAttach', 'bytes sent on the attach', ''], ['stdinEnded', 'end of stdin on the attach before the container was signalled', ''],
      ['signals', 'signals sent to the container', ''], ['code', 'exit code (undefined: still running 4 s later)', ''],
    ])
    if (differs) expect.fail(`docker run -t without -i, typed "echo hi", Enter, then ^C: what the terminal showed, what the client sent on the attach and whether it ended its side, the signals the container was sent, and the exit code: ${differs}. Whose is the terminal when the container has one but the client passes no stdin: who echoes what is typed, and who turns ^C into a signal, for whom? Type the same at docker 28.2.2 (see "A terminal" and "Signals")`)
  }, 60_000)
})

describe('run -it with --detach-keys that a daemon let through, beside docker 28.2.2', () => {
  it('keys the CLI\'s own table cannot read, the daemon taking them: what the client says, and which keys then detach', async () => {
    const typed = typedAgainst(daemons)
    // a daemon of another version may read names the client cannot: this one takes any
    for (const spec of ['é', 'ctrl-p,']) {
      for (const reads of [[0x10, 0x11], [0x18, 0x79]]) {
        const run = (client?: (host: string) => string[]) => typed(spec, reads, 2500, { MINIDOCKER_HOST: '' }, client)
        const theirs = await run()
        const mine = await run((host) => [process.execPath, MINIDOCKER, '-H', host])
        const seen = (r: Awaited<ReturnType<typeof run>>) => ({ output: maskTimes(r.output.replace(/\r/g, '')), code: r.code, sent: r.sent.toString('hex') })
        const differs = firstDifference(seen(mine), seen(theirs), [
          ['output', 'terminal output', ''], ['code', 'exit code (undefined: still running 2.5 s after the last key)', ''], ['sent', 'bytes sent on the attach, in hex', ''],
        ])
        if (differs) expect.fail(`run -it --detach-keys ${JSON.stringify(spec)}, which the daemon took, typed ${hex(reads)}: ${differs} — who reads these names, with which table, and what does the client do with words its own table refuses? Type the same at docker 28.2.2 (see "Detach keys")`)
      }
    }
  }, 120_000)
})
