/**
 * The attach, logs and exec streams of a container without a terminal carry stdout and
 * stderr on one connection, each piece in a frame: moby's pkg/stdcopy, read side. The copy
 * around it (copyOutput, lib/container-output.ts) is given.
 */
import { ContainerError } from '../../lib/errors.ts'

/** Where the demultiplexed bytes go. */
export interface Outputs {
  stdout: { write(chunk: Buffer): unknown }
  stderr: { write(chunk: Buffer): unknown }
}

// #region frameReader
/** stdcopy.go's stdWriterPrefixLen */
const HEADER_SIZE = 8

/**
 * Cuts a byte stream into frames, whatever the chunks' boundaries, and writes each payload
 * where moby's StdCopy writes it. What StdCopy returns as an error is thrown, with the words
 * or the number it concerns. end() is called at the end of the stream: a stream that ends
 * inside a frame is an error too.
 */
export function frameReader(outputs: Outputs): { push(chunk: Buffer): void; end(): void } {
  let pending: Buffer = Buffer.alloc(0)
  return {
    push(chunk) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
      while (pending.length >= HEADER_SIZE) {
        const size = pending.readUInt32BE(4)
        if (pending.length < HEADER_SIZE + size) return
        const stream = pending[0]
        const payload = pending.subarray(HEADER_SIZE, HEADER_SIZE + size)
        pending = pending.subarray(HEADER_SIZE + size)
        if (stream === 0 || stream === 1) outputs.stdout.write(payload)
        else if (stream === 2) outputs.stderr.write(payload)
        else if (stream === 3) throw new ContainerError(`Error from daemon in stream: ${payload.toString('utf8')}`, 1)
        else throw new ContainerError(`Unrecognized input header: ${stream}`, 1)
      }
    },
    end() {
      if (pending.length > 0) throw new ContainerError(`the stream ended inside a frame (${pending.length} bytes left over)`, 1)
    },
  }
}
// #endregion frameReader
