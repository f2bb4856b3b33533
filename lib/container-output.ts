/**
 * Chapter 12's given copy of a container's output to the client's stdout and stderr: the
 * stream as it is for a container with a terminal, through the chapter's frameReader
 * (stdcopy.ts) for one without (the CLI's hijack.go, which either copies the stream or runs it
 * through StdCopy).
 */
import type { Readable } from 'node:stream'
import { frameReader, type Outputs } from '#ch/12-client/stdcopy.ts'

// #region copyOutput
/**
 * Copy `source` to the outputs until it ends: demultiplexed, or as it is for a container
 * with a terminal (its stream is the pty's bytes, unframed). Settles once, whichever way the
 * stream ends: its end, an error, a close without an end, or a bad frame (which also
 * destroys the source).
 */
export function copyOutput(source: Readable, outputs: Outputs, tty: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const demux = tty ? undefined : frameReader(outputs)
    source.on('data', (chunk: Buffer) => {
      try {
        if (demux) demux.push(chunk)
        else outputs.stdout.write(chunk)
      } catch (error) {
        source.destroy()
        reject(error)
      }
    })
    source.on('end', () => {
      try {
        demux?.end()
        resolve()
      } catch (error) {
        reject(error)
      }
    })
    source.on('error', reject)
    source.on('close', () => resolve()) // closed without an end (the daemon went away): what came is all
  })
}
// #endregion copyOutput
