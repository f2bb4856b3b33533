/**
 * The detach keys of `run -it`: the key names of --detach-keys as bytes (moby/term's
 * ToBytes), and the escape proxy that watches the keys typed for them on their way to the
 * container (moby/term's NewEscapeProxy, which the CLI's hijack.go puts on stdin).
 */
import type { Transform } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

// #region parseDetachKeys
/**
 * `--detach-keys` as the bytes the docker CLI makes of it: every spelling the CLI accepts
 * gives the bytes its proxy watches for, and every spelling it refuses throws an Error in
 * its words.
 */
export function parseDetachKeys(keys: string): Buffer {
  // TODO(12): the key names as bytes (the text's "Detach keys").
  //   1. Where is the table the CLI reads the names from, and which names are in it? Not
  //      docker's documentation: the code the CLI vendors.
  //   2. What does that code take for "one character", and what does it say for everything
  //      it does not know? The tests ask docker 28.2.2 itself, at test time, about spellings
  //      you may not think of.
  throw new NotImplementedError('12-client', 'parseDetachKeys')
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
  // TODO(12): the escape proxy (the text's "Detach keys"; moby/term's proxy.go, escapeProxy.Read,
  //   in the version the CLI vendors).
  //   1. A terminal in raw mode hands over what was typed since the last read: one key, or
  //      several (a paste, a fast typist, a slow reader). A match can begin in one chunk and
  //      end in a later one. What must survive from chunk to chunk?
  //   2. Nothing typed may be lost or reordered once it is known not to be the sequence, and
  //      nothing of a possible sequence may leave before that is known. Decide for each case
  //      before you look: type at the real `docker run -it --detach-keys ctrl-x,y` and read
  //      what the container got.
  //   3. After the sequence nothing more goes through. And if stdin ends first?
  throw new NotImplementedError('12-client', 'escapeProxy')
}
// #endregion escapeProxy
