/**
 * Chapter 11: the bytes of a container's output on their two ways out, as dockerd writes
 * them: the 8-byte multiplexed frames of an attach or logs stream without a tty (moby
 * pkg/stdcopy), and the json-file log (daemon/logger/jsonfilelog), one JSON object a line;
 * and where they come from, the FIFOs containerd's shim writes.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { LogEntry, LogOptions, OutputReader, StreamName } from '../../lib/engine.ts'

/** Stream numbers of the multiplexed format: 0 stdin, 1 stdout, 2 stderr. */
const STREAM_NUMBER: Record<StreamName, number> = { stdout: 1, stderr: 2 }

// #region frame
/**
 * One frame of the multiplexed stream the CLI splits back into stdout and stderr: a fixed-size
 * header that names the stream and the payload's length, then the payload.
 */
export function frame(stream: StreamName, payload: Uint8Array): Buffer {
  // TODO(11): one frame of the multiplexed stream (the text's "Frames and the json-file log").
  //   1. What does the header hold, byte by byte (moby api/pkg/stdcopy/stdcopy.go, StdWriter and StdCopy)? Which
  //      byte order does a network format use, and which one does your machine?
  throw new NotImplementedError('11-daemon', 'frame')
}
// #endregion frame

// #region logWriter
/**
 * A writer of ID-json.log: every line the container writes becomes one entry
 * `{"log":"hi\n","stream":"stdout","time":"..."}` and one line of the file, as dockerd's
 * json-file driver writes it; flush() writes what is left when the container is gone.
 */
export function logWriter(path: string): { write(stream: StreamName, chunk: Buffer): void; flush(): void; close(): void } {
  // TODO(11): the json-file log writer (moby daemon/logger/jsonfilelog).
  //   1. A container's write may hold several lines, or half of one: what becomes of the part after the last newline?
  //   2. Why must stdout's partial line never be joined with stderr's?
  //   3. What must flush() and close() write before the file is closed? Which fields does each entry have,
  //      and in which time format?
  throw new NotImplementedError('11-daemon', 'logWriter')
}
// #endregion logWriter

// #region outputReaders
/**
 * The daemon's read ends of a process's output FIFOs (no stderr with a tty): every chunk the
 * shim writes goes to `deliver`, and `drained` resolves once the shim has closed its end
 * after the last byte. The read ends are open when this returns, before containerd's shim
 * opens its write ends, and no Node thread ever blocks on a FIFO nobody has opened yet.
 */
export function outputReaders(paths: { stdout: string; stderr?: string }, deliver: (stream: StreamName, chunk: Buffer) => void): OutputReader[] {
  // TODO(11): read a FIFO without blocking the daemon (the text's "Start, and the FIFOs"; fifo(7); dockerd opens
  //   them through containerd's pkg/cio).
  //   1. What does open(2) of a FIFO for reading do while no writer has it open, and what can change that?
  //   2. A read of a quiet FIFO may wait for days, and the daemon with a dozen quiet containers must still
  //      answer every client at once.
  //   3. When does the reader of a FIFO see end-of-file, and which event of your reader means "all of it came"?
  //   4. Each reader also names the FIFO it reads (`path`), for noMoreWriters below.
  throw new NotImplementedError('11-daemon', 'outputReaders')
}
// #endregion outputReaders

// #region noMoreWriters
/**
 * No process will write the FIFO at `path` any more (its task is deleted, its shim gone): the
 * daemon's reader of it, from outputReaders, reads what the FIFO still holds and then its
 * end-of-file, and its `drained` resolves, even if the last writer closed before that reader
 * was opened (a daemon restored after the task ended). Never blocks; does nothing if no reader
 * holds the FIFO any more, or the FIFO is gone.
 */
export function noMoreWriters(path: string): void {
  // TODO(11): an end-of-file that a reader is owed (the text's "Output that never ends").
  //   1. When does your reader learn that the other side hung up, and is that what read(2) would answer for
  //      a reader opened after the last writer had gone? The kernel's fs/pipe.c keeps the answer.
  //   2. Make the end-of-file come, without blocking and without adding a byte to the output.
  //   3. Called while the shim still holds its end, it must change nothing that reader sees; called when no
  //      reader is left (or no FIFO), it is no error.
  throw new NotImplementedError('11-daemon', 'noMoreWriters')
}
// #endregion noMoreWriters

export { logOptions } from '../../lib/engine.ts'
export type { LogEntry, LogOptions, OutputReader, StreamName } from '../../lib/engine.ts'

// #region readLog
/**
 * The entries of a json-file log the options select, in order, as `docker logs` shows them
 * (docker-logs(1): the streams, `since`, `tail` as "all" or a number, `timestamps`). Returns
 * the entries and the byte offset read up to, so that a follower can go on from there. The
 * log may be read while its writer is still writing it.
 */
export function readLog(path: string, options: LogOptions, from = 0): { entries: LogEntry[]; offset: number } {
  // TODO(11): read the entries `docker logs` asked for.
  //   1. The writer may be in the middle of a line: which bytes are safe to parse now, and what offset lets a
  //      follower continue where you stopped?
  //   2. In which order do the stream filter, `since` and `tail` apply? What does tail "0" mean?
  //   3. `timestamps` puts the entry's time before its text.
  throw new NotImplementedError('11-daemon', 'readLog')
}
// #endregion readLog
