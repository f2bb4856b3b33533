/**
 * The read side of moby's api/pkg/stdcopy (StdCopy): the attach, logs and exec streams of a
 * container without a terminal carry stdout and stderr on one connection, each piece in a
 * frame (chapter 11's writer). copyOutput (stdcopy.ts) runs it.
 */
import { NotImplementedError } from '../../lib/errors.ts'

/** Where the demultiplexed payloads go. */
export interface FrameOutputs {
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
export function frameReader(outputs: FrameOutputs): { push(chunk: Buffer): void; end(): void } {
  // TODO(12): the frames' reader (the text's "Frames"; moby's api/pkg/stdcopy/stdcopy.go,
  //   StdCopy, and its stdWriter, which chapter 11's writer mirrors).
  //   1. What do a frame's first bytes say, and in which byte order?
  //   2. The connection cuts the stream where it likes: a header in two chunks, a payload in
  //      thousands, ten frames in one chunk. What must one push leave for the next?
  //   3. A payload can be 64 MiB in 4 KiB chunks, a stream 300 000 small frames in 1 MiB
  //      chunks: what does each push cost yours, and what would it cost if it joined all it
  //      held on every push?
  //   4. Which stream numbers are output, and on which side? Which carries the daemon's own
  //      words, and in whose words does StdCopy end then? A number it does not know: does it
  //      wait for that frame's payload before it refuses it?
  //   5. A stream that ends inside a frame (a daemon gone, a proxy's cut): what does StdCopy
  //      write of that frame, and does it call it an error?
  throw new NotImplementedError('12-client', 'frameReader')
}
// #endregion frameReader
