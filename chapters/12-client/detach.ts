/**
 * The detach keys of `run -it`: the escape proxy that watches the keys typed for them on
 * their way to the container (moby/term's NewEscapeProxy, which the CLI's hijack.go puts on
 * stdin). The key names of --detach-keys as bytes (moby/term's ToBytes) are given, in
 * lib/detach-keys.ts.
 */
import type { Transform } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

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
  //      end in a later one. What must survive from chunk to chunk, and how much of it can
  //      there be (--detach-keys can name more than two keys)?
  //   2. Nothing typed may be lost or reordered once it is known not to be the sequence, and
  //      nothing of a possible sequence may leave before that is known. Decide for each case
  //      before you look: type at the real `docker run -it --detach-keys ctrl-x,y` and read
  //      what the container got.
  //   3. After the sequence nothing more goes through. And if stdin ends first?
  throw new NotImplementedError('12-client', 'escapeProxy')
}
// #endregion escapeProxy
