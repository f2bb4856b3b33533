/**
 * Chapter 12's given detach keys, as the docker CLI has them from moby/term, in the version it
 * vendors: the --detach-keys names as bytes (ascii.go, ToBytes), and the escape proxy that
 * watches stdin for those bytes on its way to the container (proxy.go, which the CLI's
 * hijack.go puts on stdin).
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
 * proxy watches it, read by read: what reaches the container, and when, is what docker's proxy
 * lets through for the same reads of the same terminal. Once the sequence has been typed,
 * `detach()` is called and nothing more goes through.
 */
export function escapeProxy(keys: Buffer, detach: () => void): Transform {
  let held = 0 // how many bytes of `keys` the reads so far have ended on
  let detached = false
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (detached) return done()
      const out: number[] = []
      for (const byte of chunk) {
        if (byte === keys[held]) {
          if (++held < keys.length) continue
          detached = true
          this.push(Buffer.from(out))
          detach()
          return done()
        }
        // as the vendored proxy does: the byte that breaks a match is not tried as a new start
        out.push(...keys.subarray(0, held), byte)
        held = 0
      }
      done(null, Buffer.from(out))
    },
  })
}
// #endregion escapeProxy
