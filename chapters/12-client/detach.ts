/**
 * The detach keys of `run -it`: the key names of --detach-keys as bytes (moby/term's
 * ToBytes), and the escape proxy that watches the keys typed for them on their way to the
 * container (moby/term's NewEscapeProxy, which the CLI's hijack.go puts on stdin).
 */
import type { Transform } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

/** ctrl-p, ctrl-q: the CLI's sequence when none is given (hijack.go, defaultEscapeKeys). */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q'

// #region parseDetachKeys
/**
 * `--detach-keys` as the bytes a terminal sends for them: comma-separated keys, each one
 * character (its byte) or `ctrl-X` (X one of a-z @ [ \ ] ^ _) or `DEL`. Anything else
 * throws an Error in ToBytes's words.
 */
export function parseDetachKeys(keys: string): Buffer {
  // TODO(12): the key names as bytes (the text's "Detach keys"; moby/term's ToBytes, ascii.go).
  //   1. Which byte does a terminal send for ctrl-p? For ctrl-@ and ctrl-[, which are no
  //      letters? ascii(7) has the table; the test types ctrl-@,ctrl-[ and compares with docker.
  //   2. "One character" is one byte to ToBytes: what of é, of "ab", of an empty key between
  //      two commas, of ctrl-P? Its words for a refusal are in the moby/term the CLI vendors.
  throw new NotImplementedError('12-client', 'parseDetachKeys')
}
// #endregion parseDetachKeys

// #region escapeProxy
/**
 * stdin on its way to the container, watched for the sequence `keys` as the CLI's escape
 * proxy watches it: what reaches the container, and when, is what docker's proxy lets through
 * for the same keys typed. Once the sequence has been typed, `detach()` is called and nothing
 * more goes through.
 */
export function escapeProxy(keys: Buffer, detach: () => void): Transform {
  // TODO(12): the escape proxy (the text's "Detach keys"; moby/term's proxy.go, escapeProxy.Read).
  //   1. A terminal in raw mode hands over one key per read: a match can begin in one chunk
  //      and end in a later one. What must survive from chunk to chunk?
  //   2. Nothing of a possible sequence may leave before it is known not to be one; nothing
  //      typed may be lost or reordered once it is known. Which bytes go out when a match
  //      breaks, and is the breaking byte the start of a new match? Type ctrl-x ctrl-x y at
  //      the real `docker run -it --detach-keys ctrl-x,y` and read what the container got.
  //   3. After the sequence nothing more goes through. Should the daemon then read an end of
  //      stdin, and what would it do with one (the CLI's hijack.go, beginInputStream, at an
  //      EscapeError)?
  throw new NotImplementedError('12-client', 'escapeProxy')
}
// #endregion escapeProxy
