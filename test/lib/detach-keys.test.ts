/**
 * The given detach keys (lib/detach-keys.ts) judged by the docker CLI itself, docker 28.2.2's
 * `run -it` in a pseudo-terminal against a fake daemon that records what the CLI sends on the
 * attach (test/support/detach-cli.ts): each --detach-keys spelling (its warning for one it
 * refuses, its detach for the bytes parseDetachKeys made of one it takes), and the escape
 * proxy fed the same reads as were typed at the CLI (what each let through, whether each
 * detached).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { escapeProxy, parseDetachKeys } from '../../lib/detach-keys.ts'
import { hex, typedAgainst } from '../support/detach-cli.ts'
import { fakeDaemons } from '../support/engine-server.ts'
import { firstDifference } from '../12-client/differences.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const dockerTyped = typedAgainst(daemons)

describe('the detach keys\' names, asked of the docker CLI', () => {
  it('parseDetachKeys of spellings docker 28.2.2 takes and refuses: its warning, or its detach on the bytes given', async () => {
    const specs = ['ctrl-@,DEL', 'ctrl-\\,ctrl-^', 'é', 'ab', 'ctrl-p,', 'ctrl-P', 'del', ' ,ctrl-_']
    for (const spec of specs) {
      let mine: Buffer | Error
      try {
        mine = parseDetachKeys(spec)
      } catch (error) {
        mine = error as Error
      }
      // a spelling refused falls back to ctrl-p,ctrl-q; one taken is typed as parseDetachKeys made it
      const typing = mine instanceof Error ? [0x10, 0x11] : [...mine]
      const theirs = await dockerTyped(spec, typing)
      const warned = /invalid detach escape keys, using default: (.*?)"?\s*$/m.exec(theirs.output.replace(/\r/g, ''))?.[1]
      const said = JSON.stringify(spec)
      if (warned !== undefined) {
        expect(mine instanceof Error ? mine.message : `bytes ${mine.toString('hex')}`, `--detach-keys ${said}: docker refused it and said ${JSON.stringify(warned)} (right); parseDetachKeys (left) — which names are in the table the CLI reads, and what is "one character" to it?`)
          .toBe(warned)
      } else {
        expect(mine instanceof Error ? `refused: ${mine.message}` : 'taken', `--detach-keys ${said}: docker took it without a word — parseDetachKeys refused it`).toBe('taken')
        expect(theirs.code, `--detach-keys ${said}: typed the bytes parseDetachKeys made of it (${hex(typing)}), key by key, docker did not detach (undefined: it was still running) — which byte does a terminal send for each of these keys? (ascii(7))`)
          .toBe(0)
      }
    }
  }, 120_000)
})

/** What the proxy let through and whether it detached, beside what docker sent on the attach and whether it detached. */
const PROXIED = [
  ['sent', 'bytes let through, in hex', ''],
  ['detached', 'detach', ''],
] as const

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

describe('the escape proxy, asked of the docker CLI', () => {
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
      const differs = firstDifference(mine, { sent: theirs.sent.toString('hex'), detached: theirs.code === 0 }, PROXIED)
      if (differs) expect.fail(`--detach-keys ${keys}, ${what} (reads in hex: ${hex(reads)}): ${differs} — which reads does the CLI's proxy look into, and what does it do with a read once a match is pending? (moby/term's proxy.go, as the CLI vendors it) Type the same at docker 28.2.2.`)
    }
  }, 120_000)

  it('escapeProxy beside docker 28.2.2 with a sequence of three keys: a match that fails at its third key, one that fails at its second, the sequence over three reads', async () => {
    const a = (c: string) => c.charCodeAt(0)
    const keys = 'ctrl-a,b,c'
    const runs: [string, (number | number[])[]][] = [
      ['two keys held, then a key that is not the third', [a('x'), 0x01, a('b'), a('z'), 0x01, a('b'), a('c')]],
      ['two keys held, then the first key again', [0x01, a('b'), 0x01, a('b'), a('c')]],
      ['two keys held, then a read of two bytes', [0x01, a('b'), [a('c'), a('d')], 0x01, a('b'), a('c')]],
    ]
    for (const [what, reads] of runs) {
      const theirs = await dockerTyped(keys, reads)
      const mine = await proxied(parseDetachKeys(keys), reads)
      const differs = firstDifference(mine, { sent: theirs.sent.toString('hex'), detached: theirs.code === 0 }, PROXIED)
      if (differs) expect.fail(`--detach-keys ${keys}, ${what} (reads in hex: ${hex(reads)}): ${differs} — how much of a match can your proxy be holding, and what goes out, in which order, when it fails? (moby/term's proxy.go, as the CLI vendors it) Type the same at docker 28.2.2.`)
    }
  }, 120_000)

  it('escapeProxy when stdin ends while a key of the sequence is held, beside docker 28.2.2', async () => {
    // NORAW leaves the CLI's terminal cooked (its streams/in.go): each ^D then hands over what was
    // typed before it as one read, and a ^D on nothing is a read of nothing, the end of stdin
    const EOT = 0x04
    const theirs = await dockerTyped(undefined, [0x61, EOT, 0x10, EOT, EOT], 2500, { NORAW: '1' })
    expect(theirs.stdinEnded, 'expected docker 28.2.2 to end its side of the attach at the end of its stdin').toBe(true)
    const mine = await proxied(Buffer.from([0x10, 0x11]), [0x61, 0x10], true)
    const differs = firstDifference(mine, { sent: theirs.sent.toString('hex'), detached: theirs.code === 0 }, PROXIED)
    if (differs) expect.fail(`a read of "a", a read of ctrl-p, then the end of stdin, with the default keys ctrl-p,ctrl-q: ${differs} — what of the held key reaches the container once stdin has ended? (moby/term's proxy.go, as the CLI vendors it) Type the same at docker 28.2.2.`)
  }, 60_000)
})
