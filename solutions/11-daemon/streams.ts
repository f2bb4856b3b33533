/**
 * Chapter 11: the end of a container's output. The daemon reads a container's output FIFOs
 * (lib/output-streams.ts, given); when does its reader learn that no byte will come any more?
 */
import { closeSync, constants, openSync } from 'node:fs'

// #region noMoreWriters
/**
 * No process will write the FIFO at `path` any more (its task is deleted, its shim gone): the
 * daemon's reader of it, from outputReaders, reads what the FIFO still holds and then its
 * end-of-file, and its `drained` resolves, whenever that reader was opened. Never blocks; does
 * nothing if no reader holds the FIFO any more, or the FIFO is gone.
 */
export function noMoreWriters(path: string): void {
  // a reader polled by epoll hears a hang-up only from a writer that closed after the reader
  // opened (fifo(7), pipe_poll's w_counter in fs/pipe.c): one that comes and goes now is one
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
  } catch (error) {
    // ENXIO: no reader any more; ENOENT: no FIFO
    if (!['ENXIO', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
  }
}
// #endregion noMoreWriters
