/**
 * The read side of moby's api/pkg/stdcopy (StdCopy): the attach, logs and exec streams of a
 * container without a terminal carry stdout and stderr on one connection, each piece in a
 * frame (chapter 11's writer). copyOutput (stdcopy.ts) runs it.
 */
import { ContainerError } from '../../lib/errors.ts'

/** Where the demultiplexed payloads go. */
export interface FrameOutputs {
  stdout: { write(chunk: Buffer): unknown }
  stderr: { write(chunk: Buffer): unknown }
}

/** stdcopy.go's stdWriterPrefixLen */
const HEADER_SIZE = 8

// #region frameReader
/**
 * Cuts a byte stream into frames, whatever the chunks' boundaries, and writes each payload
 * where moby's StdCopy writes it. What StdCopy returns as an error is thrown, with the words
 * or the number it concerns. end() is called at the end of the stream, and does with a frame
 * the stream ended inside what StdCopy does with it.
 */
export function frameReader(outputs: FrameOutputs): { push(chunk: Buffer): void; end(): void } {
  // the chunks of a frame not yet whole, joined only once it is: a payload can be megabytes
  // and come in thousands of chunks, so joining on every push copies it thousands of times
  let held: Buffer[] = []
  let heldBytes = 0
  let needed = HEADER_SIZE // what the next frame needs before it can be read: its header, then all of it
  return {
    push(chunk) {
      held.push(chunk)
      heldBytes += chunk.length
      if (heldBytes < needed) return
      let pending = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes)
      needed = HEADER_SIZE
      while (pending.length >= HEADER_SIZE) {
        const size = pending.readUInt32BE(4)
        const stream = pending[0]!
        // StdCopy judges the stream number as soon as the header is in, before it waits for the
        // payload: a frame of a stream it does not know fails there, whatever follows (or never does)
        if (stream > 3) throw new ContainerError(`Unrecognized input header: ${stream}`, 1)
        if (pending.length < HEADER_SIZE + size) {
          needed = HEADER_SIZE + size
          break
        }
        const payload = pending.subarray(HEADER_SIZE, HEADER_SIZE + size)
        pending = pending.subarray(HEADER_SIZE + size)
        if (stream === 0 || stream === 1) outputs.stdout.write(payload)
        else if (stream === 2) outputs.stderr.write(payload)
        else throw new ContainerError(`error from daemon in stream: ${payload.toString('utf8')}`, 1) // 3: the daemon's own words
      }
      held = pending.length ? [pending] : []
      heldBytes = pending.length
    },
    end() {
      // a frame the stream ended inside is dropped, none of it written, and that is no error:
      // StdCopy writes a payload only once it is whole, and at EOF returns what it wrote, nil
      held = []
      heldBytes = 0
    },
  }
}
// #endregion frameReader
