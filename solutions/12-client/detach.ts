/**
 * The detach keys of `run -it`: the key names of --detach-keys as bytes (moby/term's
 * ToBytes), and the escape proxy that watches the keys typed for them on their way to the
 * container (moby/term's NewEscapeProxy, which the CLI's hijack.go puts on stdin).
 */
import { Transform } from 'node:stream'

/** ctrl-p, ctrl-q: the CLI's sequence when none is given (hijack.go, defaultEscapeKeys). */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q'

// #region parseDetachKeys
/** The names after `ctrl-`, in the order of their codes: ctrl-@ is 0, ctrl-a 1, ... ctrl-_ 31. */
const CONTROL_NAMES = '@abcdefghijklmnopqrstuvwxyz[\\]^_'

/**
 * `--detach-keys` as the bytes the docker CLI makes of it: every spelling the CLI accepts
 * gives the bytes its proxy watches for, and every spelling it refuses throws an Error in
 * its words.
 */
export function parseDetachKeys(keys: string): Buffer {
  return Buffer.from(keys.split(',').map((key) => {
    if (Buffer.byteLength(key) === 1) return key.charCodeAt(0)
    const control = key.startsWith('ctrl-') && key.length === 6 ? CONTROL_NAMES.indexOf(key[5]!) : -1
    if (control >= 0) return control
    if (key === 'DEL') return 0x7f
    throw new Error(`Unknown character: '${key}'`)
  }))
}
// #endregion parseDetachKeys

// #region escapeProxy
/**
 * stdin on its way to the container, watched for the sequence `keys` as the CLI's escape
 * proxy watches it: what reaches the container, and when, is what docker's proxy lets through
 * for the same reads of the same terminal. Once the sequence has been typed, `detach()` is
 * called and nothing more goes through.
 */
export function escapeProxy(keys: Buffer, detach: () => void): Transform {
  let matched = 0 // how many bytes of `keys` are held
  let detached = false
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (detached) return done()
      const out: number[] = []
      for (const byte of chunk) {
        if (byte === keys[matched]) {
          if (++matched < keys.length) continue
          detached = true
          this.push(Buffer.from(out))
          detach()
          return done()
        }
        out.push(...keys.subarray(0, matched), byte)
        matched = 0
      }
      done(null, Buffer.from(out))
    },
  })
}
// #endregion escapeProxy
