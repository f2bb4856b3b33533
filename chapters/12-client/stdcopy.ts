/**
 * The attach, logs and exec streams of a container without a terminal carry stdout and
 * stderr on one connection, each piece in a frame: moby's pkg/stdcopy, read side.
 */
import type { Readable } from 'node:stream'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

/** Where the demultiplexed bytes go. */
export interface Outputs {
  stdout: { write(chunk: Buffer): unknown }
  stderr: { write(chunk: Buffer): unknown }
}

/** A frame's header: [stream, 0, 0, 0, size as a big-endian uint32]. */
export const HEADER_SIZE = 8

// #region frameReader
/**
 * Cuts a byte stream into frames, whatever the chunks' boundaries: a header may arrive in
 * two pieces, a chunk may hold many frames. Stream 1 is stdout, 2 stderr (0, stdin, is
 * written to stdout, as stdcopy does); 3 is the daemon's error, which ends the stream with an
 * error (as stdcopy's StdCopy returns it); any other number means the stream is not framed.
 * end() is called at the end of the stream: half a frame left over means it was cut short.
 */
export function frameReader(outputs: Outputs): { push(chunk: Buffer): void; end(): void } {
  // TODO(12): read the multiplexed stream (moby pkg/stdcopy's StdCopy, the text's "Frames").
  //   1. What are the 8 header bytes, and in which byte order is the length?
  //   2. A chunk may end in the middle of a header or a payload: what do you keep between pushes,
  //      and when is a frame complete?
  //   3. Which stream numbers go where, and which one carries an error from the daemon? What does
  //      an unknown number mean?
  //   4. What must end() say about bytes left over?
  throw new NotImplementedError('12-client', 'frameReader')
}
// #endregion frameReader

// #region copyOutput
/**
 * Copy `source` to the outputs until it ends: demultiplexed, or as it is for a container
 * with a terminal (its stream is the pty's bytes, unframed).
 */
export function copyOutput(source: Readable, outputs: Outputs, tty: boolean): Promise<void> {
  // TODO(12): the container's output, to the client's stdout and stderr.
  //   1. When is the stream framed, and when is it the terminal's bytes as they are? (It is not
  //      the Content-Type that says so: see the text's "Frames".)
  //   2. The promise settles when the stream ends: with an error if the frames say so, and what if
  //      the daemon closes the connection without an end?
  throw new NotImplementedError('12-client', 'copyOutput')
}
// #endregion copyOutput
