/**
 * The detach keys judged by the docker CLI itself: docker 28.2.2's `run -it`, in a
 * pseudo-terminal, against a fake daemon here that accepts any attach and records what the
 * CLI sends on it. Each spelling of --detach-keys is asked of the CLI (its warning for one it
 * refuses, its detach for the bytes yours made of one it takes); each sequence of reads typed
 * at the CLI is fed to your escapeProxy as the same reads, and what each let through, and
 * whether each detached, must agree.
 */
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { escapeProxy, parseDetachKeys } from '#ch/12-client/detach.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { typeInTerminal } from '../support/client.ts'
import { CLIS, dockerEnv } from '../support/daemon.ts'
import { fakeDaemons } from '../support/engine-server.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())

const ID = 'c0ffee'.repeat(10) + 'c0ff'
const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))

/**
 * docker 28.2.2 `run -it [--detach-keys spec]` against a daemon whose container prints "ready"
 * and runs on (its wait never answers), typed at with `reads` once ready. Resolves with the
 * terminal's output, the exit code (undefined: still running `deadline` ms after the last
 * read) and the bytes the CLI sent on the attach connection.
 */
async function dockerTyped(spec: string | undefined, reads: (number | number[])[], deadline = 2500, env: Record<string, string> = {}): Promise<{ output: string; code?: number; sent: Buffer; stdinEnded: boolean }> {
  const sent: Buffer[] = []
  let stdinEnded = false
  let attach: import('node:net').Socket | undefined
  const daemon = await daemons.daemon({
    version: '1.41',
    answer: (req, res) => {
      req.resume()
      const path = req.url!.replace(/^\/v[\d.]+/, '').split('?')[0]!
      if (path === '/containers/create') json(res, 201, { Id: ID, Warnings: [] })
      else if (path.endsWith('/wait')) res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders()
      else if (path.endsWith('/start')) (res.writeHead(204).end(), attach?.write('ready\r\n'))
      else if (path.endsWith('/resize')) res.writeHead(200).end()
      else json(res, 404, { message: `no ${path} here` })
    },
    upgrade: (_req, socket) => {
      attach = socket
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      socket.on('data', (chunk: Buffer) => sent.push(chunk))
      socket.on('end', () => (stdinEnded = true))
    },
  })
  const args = ['run', '-it', ...(spec === undefined ? [] : ['--detach-keys', spec]), 'example.test/box', 'sh']
  const typed = await typeInTerminal([CLIS['28.2.2'], ...args], reads, { ready: 'ready', env: { ...dockerEnv(daemon.host), ...env }, deadline })
  return { ...typed, sent: Buffer.concat(sent), stdinEnded }
}

/** The same reads through escapeProxy: what it let through, and whether it called detach(). */
async function proxied(keys: Buffer, reads: (number | number[])[], end = false): Promise<{ sent: string; detached: boolean }> {
  let detached = false
  const out: Buffer[] = []
  const proxy = escapeProxy(keys, () => (detached = true))
  proxy.on('data', (chunk: Buffer) => out.push(chunk))
  const ended = new Promise<void>((resolve) => proxy.on('end', resolve).on('error', () => resolve()))
  for (const read of reads) {
    proxy.write(Buffer.from(typeof read === 'number' ? [read] : read))
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (end) {
    proxy.end()
    await ended
  }
  return { sent: Buffer.concat(out).toString('hex'), detached }
}

const hex = (reads: (number | number[])[]) => reads.map((r) => Buffer.from(typeof r === 'number' ? [r] : r).toString('hex')).join(' ')

describe('the detach keys, asked of the docker CLI (see "Detach keys")', () => {
  it('parseDetachKeys of spellings docker 28.2.2 takes and refuses: its warning, or its detach on your bytes', async () => {
    const specs = ['ctrl-@,DEL', 'ctrl-\\,ctrl-^', 'é', 'ab', 'ctrl-p,', 'ctrl-P', 'del', ' ,ctrl-_']
    for (const spec of specs) {
      let mine: Buffer | Error
      try {
        mine = parseDetachKeys(spec)
      } catch (error) {
        if (error instanceof NotImplementedError) throw error
        mine = error as Error
      }
      // a spelling refused falls back to ctrl-p,ctrl-q; one taken is typed as yours made it
      const typing = mine instanceof Error ? [0x10, 0x11] : [...mine]
      const theirs = await dockerTyped(spec, typing)
      const warned = /invalid detach escape keys, using default: (.*?)"?\s*$/m.exec(theirs.output.replace(/\r/g, ''))?.[1]
      const said = JSON.stringify(spec)
      if (warned !== undefined) {
        expect(mine instanceof Error ? mine.message : `bytes ${mine.toString('hex')}`, `--detach-keys ${said}: docker refused it and said ${JSON.stringify(warned)} (right); yours (left) — which names are in the table the CLI reads, and what is "one character" to it?`)
          .toBe(warned)
      } else {
        expect(mine instanceof Error ? `refused: ${mine.message}` : 'taken', `--detach-keys ${said}: docker took it without a word — yours refused it`).toBe('taken')
        expect(theirs.code, `--detach-keys ${said}: typed the bytes yours made of it (${hex(typing)}), key by key, docker did not detach (undefined: it was still running) — which byte does a terminal send for each of these keys? (ascii(7))`)
          .toBe(0)
      }
    }
  }, 120_000)

  it('escapeProxy beside docker 28.2.2, typed at read by read: reads of several bytes, a match pending across reads, the sequence inside one read', async () => {
    const [NUL, ESC] = [0x00, 0x1b]
    const a = (c: string) => c.charCodeAt(0)
    const keys = 'ctrl-@,ctrl-['
    // each run ends with the sequence typed key by key, in case nothing before it detached
    const runs: [string, (number | number[])[]][] = [
      ['a key held, then a read of two other bytes', [a('a'), NUL, [a('b'), a('c')], a('d'), NUL, ESC]],
      ['a key held, then a read that completes the sequence and goes on', [a('a'), NUL, [ESC, a('z')], NUL, ESC]],
      ['the whole sequence inside one read, between other bytes', [a('a'), [a('x'), NUL, ESC, a('y')], NUL, ESC]],
      ['a read of the first key twice, then the second key alone', [a('a'), [NUL, NUL], ESC, a('b'), NUL, ESC]],
    ]
    for (const [what, reads] of runs) {
      const theirs = await dockerTyped(keys, reads)
      const mine = await proxied(parseDetachKeys(keys), reads)
      expect(mine, `--detach-keys ${keys}, ${what} (reads in hex: ${hex(reads)}): what your proxy let through, in hex, and whether it detached (left), beside what docker sent on the attach connection and whether it detached (right) — which reads does the CLI's proxy look into, and what does it do with a read once a match is pending? (moby/term's proxy.go, as the CLI vendors it)`)
        .toEqual({ sent: theirs.sent.toString('hex'), detached: theirs.code === 0 })
    }
  }, 120_000)

  it('escapeProxy when stdin ends while a key of the sequence is held, beside docker 28.2.2', async () => {
    // NORAW leaves the CLI's terminal cooked (its streams/in.go): each ^D then hands over what was
    // typed before it as one read, and a ^D on nothing is a read of nothing, the end of stdin
    const EOT = 0x04
    const theirs = await dockerTyped(undefined, [0x61, EOT, 0x10, EOT, EOT], 2500, { NORAW: '1' })
    expect(theirs.stdinEnded, 'expected docker 28.2.2 to end its side of the attach at the end of its stdin').toBe(true)
    const mine = await proxied(Buffer.from([0x10, 0x11]), [0x61, 0x10], true)
    expect(mine, 'a read of "a", a read of ctrl-p, then the end of stdin, with the default keys ctrl-p,ctrl-q: what your proxy let through, in hex, and whether it detached (left), beside what docker sent on the attach connection and whether it detached (right) — the CLI\'s proxy learns of the end in the same read call that would have given the held key back: what does that read return? (moby/term\'s proxy.go, as the CLI vendors it)')
      .toEqual({ sent: theirs.sent.toString('hex'), detached: theirs.code === 0 })
  }, 60_000)
})
