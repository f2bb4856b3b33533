/**
 * Chapter 11's given output streams (the starter and the reference share them): the bytes of a container's output on their two ways out, as dockerd writes
 * them: the 8-byte multiplexed frames of an attach or logs stream without a tty (moby
 * pkg/stdcopy), and the json-file log (daemon/logger/jsonfilelog), one JSON object a line;
 * and where they come from, the FIFOs containerd's shim writes.
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs'
import { Socket } from 'node:net'
import type { LogEntry, LogOptions, OutputReader, StreamName } from './engine.ts'

/** Stream numbers of the multiplexed format: 0 stdin, 1 stdout, 2 stderr. */
const STREAM_NUMBER: Record<StreamName, number> = { stdout: 1, stderr: 2 }

// #region frame
/**
 * One frame of the multiplexed stream the CLI splits back into stdout and stderr: a fixed-size
 * header that names the stream and the payload's length, then the payload.
 */
export function frame(stream: StreamName, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8)
  header[0] = STREAM_NUMBER[stream]
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}
// #endregion frame

/** A container's json-file log, open for writing. */
export interface LogWriter {
  write(stream: StreamName, chunk: Buffer): void
  flush(): void
  close(): void
}

// #region logWriter
/**
 * A writer of ID-json.log: every line the container writes becomes one entry
 * `{"log":"hi\n","stream":"stdout","time":"..."}` and one line of the file, as dockerd's
 * json-file driver writes it; flush() writes what is left when the container is gone.
 */
export function logWriter(path: string): LogWriter {
  const fd = openSync(path, 'a', 0o640)
  const partial: Record<StreamName, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }
  const entry = (stream: StreamName, text: Buffer) =>
    writeSync(fd, `${JSON.stringify({ log: text.toString('utf8'), stream, time: new Date().toISOString() })}\n`)
  const flush = () => {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (partial[stream].length > 0) entry(stream, partial[stream])
      partial[stream] = Buffer.alloc(0)
    }
  }
  return {
    write(stream, chunk) {
      let data = Buffer.concat([partial[stream], chunk])
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
        entry(stream, data.subarray(0, nl + 1))
        data = data.subarray(nl + 1)
      }
      partial[stream] = data
    },
    flush,
    close() {
      flush()
      closeSync(fd)
    },
  }
}
// #endregion logWriter

// #region outputReaders
/**
 * The daemon's read ends of a process's output FIFOs (no stderr with a tty): every chunk the
 * shim writes goes to `deliver`, and `drained` resolves once the reader has read end-of-file
 * (as epoll reports it) or was closed. The read ends are open when this returns, before containerd's shim
 * opens its write ends, and no Node thread ever blocks on a FIFO nobody has opened yet.
 */
export function outputReaders(paths: { stdout: string; stderr?: string }, deliver: (stream: StreamName, chunk: Buffer) => void): OutputReader[] {
  return ([['stdout', paths.stdout], ['stderr', paths.stderr]] as const).filter(([, path]) => path).map(([stream, path]) => {
    // epoll drives a non-blocking descriptor: no libuv thread sits in read(), and open() does not wait for a writer
    const socket = new Socket({ fd: openSync(path!, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false })
    socket.on('data', (chunk: Buffer) => deliver(stream, chunk))
    return { path: path!, drained: new Promise<void>((resolve) => socket.once('close', () => resolve())), close: () => socket.destroy() }
  })
}
// #endregion outputReaders

export { logOptions } from './engine.ts'
export type { LogEntry, LogOptions, OutputReader, StreamName } from './engine.ts'

/** Log entries as a client of a stream reads them: raw with a tty, else each in a frame of its stream. */
export function streamed(entries: LogEntry[], tty: boolean): Buffer[] {
  return entries.map((e) => (tty ? Buffer.from(e.log) : frame(e.stream, Buffer.from(e.log))))
}

// #region readLog
/**
 * The entries of a json-file log the options select, in order, as `docker logs` shows them
 * (docker-logs(1): the streams, `since`, `tail` as "all" or a number, `timestamps`). Returns
 * the entries and the byte offset read up to, so that a follower can go on from there. The
 * log may be read while its writer is still writing it.
 */
export function readLog(path: string, options: LogOptions, from = 0): { entries: LogEntry[]; offset: number } {
  let text: Buffer
  try {
    text = readFileSync(path).subarray(from)
  } catch {
    return { entries: [], offset: from }
  }
  const complete = text.lastIndexOf(10) + 1
  let entries = text.subarray(0, complete).toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogEntry)
  entries = entries.filter((e) => options[e.stream] && Date.parse(e.time) >= options.since * 1000)
  if (options.tail !== 'all') {
    const n = Number(options.tail)
    if (Number.isInteger(n) && n >= 0) entries = n === 0 ? [] : entries.slice(-n)
  }
  if (options.timestamps) entries = entries.map((e) => ({ ...e, log: `${e.time} ${e.log}` }))
  return { entries, offset: from + complete }
}
// #endregion readLog
