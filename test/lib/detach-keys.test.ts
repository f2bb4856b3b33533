/**
 * The given --detach-keys names (lib/detach-keys.ts) judged by the docker CLI itself: each
 * spelling asked of docker 28.2.2's `run -it` in a pseudo-terminal, against a fake daemon
 * (its warning for one it refuses, its detach for the bytes parseDetachKeys made of one it
 * takes).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { parseDetachKeys } from '../../lib/detach-keys.ts'
import { hex, typedAgainst } from '../support/detach-cli.ts'
import { fakeDaemons } from '../support/engine-server.ts'

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
