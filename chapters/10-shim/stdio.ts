/**
 * The container's stdio. containerd (or ctr) makes a FIFO for each of stdin, stdout and stderr
 * and hands the shim their paths; the container gets pipes, and the shim copies between them.
 */
import type { Readable, Writable } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

/** The FIFO paths containerd sends in Create and Exec ('' for none). */
export interface StdioPaths {
  stdin: string
  stdout: string
  stderr: string
}

/** The container side: the shim's ends of the pipes given to the runtime ('ignore' ones are null). */
export interface ProcessPipes {
  stdin: Writable | null
  stdout: Readable | null
  stderr: Readable | null
}

export interface Copying {
  /** settles when stdout and stderr have reached end-of-file and their FIFOs are closed */
  done: Promise<void>
  /** close the process's stdin (CloseIO): it reads end-of-file */
  closeStdin(): void
  /** what #watch reads to tell whether output is still on its way (item 6 below) */
  readonly progress: number
  /** Delete: the process is gone for good, and nobody will read or write its stdio any more */
  close(): void
}

// #region copyStdio
/**
 * Copy stdin's FIFO into the process, and the process's stdout and stderr into their FIFOs,
 * each end-of-file passed on; `done` tells when the output has reached its reader.
 */
export function copyStdio(paths: StdioPaths, pipes: ProcessPipes): Copying {
  // TODO(10): the container's stdio, between its pipes and containerd's FIFOs.
  //   1. Output: the reader must get every byte, then end-of-file, and only when the process's pipe
  //      has ended. Who decides when the reader sees end-of-file, and when may the shim let go of
  //      the FIFO and of what it holds open (lib/shim.ts, openOutput)? Output with no FIFO ('') has no reader,
  //      yet the process must never block on a full pipe. A reader that is slow, or away for a
  //      while: how much of the output may the shim hold meanwhile?
  //   2. `done` is what the shim waits for before it reports the exit (#watch in task.ts), and
  //      ctr 1.6.20 closes its FIFOs as soon as it hears of the exit: when is output really
  //      delivered? (The text's "The FIFOs"; lib/shim.ts has what Node cannot ask the kernel.)
  //   3. An exec can be over before the runtime's exec returns, output and all: what state are
  //      its pipes in by the time they reach you, and what does a Node stream do then?
  //   4. Input: opening the stdin FIFO must not wait for a writer (fifo(7)); when ctr's end goes
  //      away, the process must see end-of-file, and closeStdin (CloseIO) does the same on demand,
  //      at any moment: ctr sends it as soon as its own stdin ends, and no byte may be lost.
  //      A process with no stdin FIFO reads end-of-file at once.
  //   5. The shim must be able to exit while a FIFO is still open, and a FIFO that fails costs its
  //      own output, never the shim (the text says which kind of Node stream blocks a thread).
  //   6. `progress` is what #watch has to tell a reader that is slow from one that has stopped or
  //      never came. What can the shim see move while a reader takes a few KiB at a time, and how
  //      long can it see nothing move although the reader is still reading?
  //   7. close() comes with Delete, after the exit was told, and the copy may be anywhere then:
  //      done, still waiting for a reader, or stuck on one that will never read again. What does
  //      the shim still hold for this process in each case (runc's shim: process/init.go, delete)?
  throw new NotImplementedError('10-shim', 'copyStdio')
}
// #endregion copyStdio
