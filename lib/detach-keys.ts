/**
 * Chapter 12's given --detach-keys names, as the docker CLI reads them (moby/term's ascii.go,
 * ToBytes, in the version the CLI vendors): the bytes the escape proxy (the chapter's
 * detach.ts) watches for.
 */

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
