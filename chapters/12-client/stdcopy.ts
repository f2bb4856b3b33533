/**
 * The attach, logs and exec streams of a container without a terminal carry stdout and
 * stderr on one connection, each piece in a frame: moby's pkg/stdcopy, read side. The copy
 * around it (copyOutput, lib/container-output.ts) is given.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

/** Where the demultiplexed bytes go. */
export interface Outputs {
  stdout: { write(chunk: Buffer): unknown }
  stderr: { write(chunk: Buffer): unknown }
}

// #region frameReader
/**
 * Cuts a byte stream into frames, whatever the chunks' boundaries, and writes each payload
 * where moby's StdCopy writes it. What StdCopy returns as an error is thrown, with the words
 * or the number it concerns. end() is called at the end of the stream, and does with a frame
 * the stream ended inside what StdCopy does with it.
 */
export function frameReader(outputs: Outputs): { push(chunk: Buffer): void; end(): void } {
  // TODO(12): the read side of moby's api/pkg/stdcopy (StdCopy; the text's "Frames").
  //   1. push() gets chunks as the connection delivers them, not frames: a header can be cut
  //      in two, a payload can span many chunks, one chunk can hold many frames. What must
  //      outlive a push, and when is a frame whole? A frame of megabytes can come in thousands
  //      of chunks: what does each of your pushes cost then?
  //   2. What is in a header, how long is it, and what does each stream number mean? A payload
  //      can be far larger than 64 KiB: the size field's width and byte order decide where the
  //      next header starts (moby's stdcopy.go, StdCopy and the writer; chapter 11 wrote it).
  //   3. Which stream numbers does StdCopy refuse, and which one carries the daemon's words,
  //      in which words of the CLI's? At which byte of a frame does StdCopy know enough to
  //      refuse it?
  //   4. A stream can end inside a frame: a daemon that went away, a proxy that timed out. What
  //      of that frame reaches the client's stdout or stderr, and what does docker 28.2.2 print
  //      then? Make a daemon of your own cut a frame and run the CLI against it.
  throw new NotImplementedError('12-client', 'frameReader')
}
// #endregion frameReader
