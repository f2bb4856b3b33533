/**
 * The container's stdio. containerd (or ctr) makes a FIFO for each of stdin, stdout and stderr
 * and hands the shim their paths; the container gets pipes, and the shim copies between them.
 * The shim holds the FIFOs, not containerd: when containerd dies, output waits in the shim
 * (and in the FIFO's buffer) instead of being lost, and a restarted containerd reads on.
 */
import { closeSync, constants, openSync } from 'node:fs'
import { Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import { outputRead } from '../../lib/shim.ts'
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
}

// #region openOutput
/**
 * Open an output FIFO for writing once its reader is there, without blocking: a non-blocking
 * write-only open fails (ENXIO) until someone opens the FIFO for reading. Then hold a read end
 * too, as containerd's runc shim does: with it, the FIFO keeps its buffered output when the
 * reader goes away (containerd restarting), and writes never fail with EPIPE.
 */
export async function openOutput(path: string): Promise<{ fifo: Socket; keeper: number }> {
  // TODO(10): open an output FIFO for writing without ever blocking the shim.
  //   1. A plain open(2) of a FIFO for writing blocks until a reader comes, and ctr may open its
  //      read side only later, or never. A non-blocking write-only open fails with ENXIO while
  //      there is no reader: retry it, a little later, until it works. Other errors are errors.
  //   2. Then also hold a read end of your own, and return it as `keeper`: why does containerd's
  //      runc shim do the same (pkg/process/io.go, copyPipes)? Think of containerd restarting
  //      while the container writes.
  //   3. The writer becomes a socket over the fd (epoll); see fifo(7) and open(2), O_NONBLOCK.
  throw new NotImplementedError('10-shim', 'openOutput')
}
// #endregion openOutput

// #region copyStdio
/**
 * Copy stdin's FIFO into the process and the process's stdout and stderr into their FIFOs.
 * No open may block the shim: a FIFO's open waits for the other side, which may never come.
 * An output FIFO is closed once the process's pipe reaches end-of-file, so the reader sees
 * end-of-file too; until it is open, output waits in the process's pipe. The copy is done
 * only once the reader has read what the FIFO holds (outputRead). The stdin FIFO is
 * opened read-only and non-blocking; epoll reports it only once a writer has come, and
 * end-of-file once the writer has gone, which is then passed on. Streams are sockets over the
 * fds (epoll), never fs streams, whose blocking reads hold a thread and keep Node from exiting.
 */
export function copyStdio(paths: StdioPaths, pipes: ProcessPipes): Copying {
  // TODO(10): copy stdin's FIFO into the process and the process's output into the FIFOs.
  //   1. For stdout and stderr: a path of '' means nobody reads, but the process's pipe must
  //      still be drained or the process blocks once it is full.
  //   2. Otherwise copy into the FIFO from openOutput, and close the FIFO (and the keeper) only
  //      when the process's pipe has ended, so the reader gets everything and then end-of-file.
  //      `done` settles after both, and only once the reader has read what the FIFO holds (the
  //      given outputRead of lib/shim.ts): the shim reports an exit only after `done`, and ctr
  //      1.6.20 closes its FIFOs as soon as it hears of the exit. An exec may be over before
  //      the runtime's exec command returns: its pipes may have ended already.
  //   3. stdin: open its FIFO read-only and non-blocking (a blocking open waits for a writer) and
  //      copy it into the process; when the writer goes away, the process must see end-of-file.
  //      closeStdin (CloseIO) does the same on demand. No stdin path: the process's stdin ends.
  //   4. Never an fs read stream on a FIFO (its blocking read holds a thread, and the shim could
  //      never exit); sockets over the fds are epoll based. A write error on a FIFO must not
  //      crash the shim. Chapter text: "The FIFOs".
  throw new NotImplementedError('10-shim', 'copyStdio')
}
// #endregion copyStdio
