/**
 * Chapter 11: the end of a container's output. The daemon reads a container's output FIFOs
 * (lib/output-streams.ts, given); when does its reader learn that no byte will come any more?
 */
import { NotImplementedError } from '../../lib/errors.ts'

// #region noMoreWriters
/**
 * No process will write the FIFO at `path` any more (its task is deleted, its shim gone): the
 * daemon's reader of it, from outputReaders, reads what the FIFO still holds and then its
 * end-of-file, and its `drained` resolves, whenever that reader was opened. Never blocks; does
 * nothing if no reader holds the FIFO any more, or the FIFO is gone.
 */
export function noMoreWriters(path: string): void {
  // TODO(11): an end-of-file that a reader is owed (the text's "Output that never ends").
  //   1. When does your reader learn that the other side hung up: for a reader opened before the last writer
  //      went, for one opened after, with bytes left in the FIFO and without? Try each (fifo(7); the kernel's fs/pipe.c).
  //   2. Make the end-of-file come, without blocking and without adding a byte to the output.
  //   3. Called while the shim still holds its end, it must change nothing that reader sees; called when no
  //      reader is left (or no FIFO), it is no error, and leaves the path as it found it.
  throw new NotImplementedError('11-daemon', 'noMoreWriters')
}
// #endregion noMoreWriters
