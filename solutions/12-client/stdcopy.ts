/**
 * The copy of a container's output to the client's stdout and stderr: moby's StdCopy, and the
 * CLI's hijack.go, which copies a terminal's stream as it is and runs any other through
 * StdCopy. The frames are cut by frameReader (frames.ts).
 */
import type { Readable } from 'node:stream'
import { getSystemErrorMap } from 'node:util'
import { ContainerError } from '../../lib/errors.ts'
import { frameReader } from './frames.ts'

/** The client's stdout and stderr: process.stdout and process.stderr, or a test's streams. */
export interface Outputs {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

/** A failed write as Go's os.File words it, the only words the CLI has for it: "write /dev/stdout: broken pipe". */
function writeError(side: 'stdout' | 'stderr', error: NodeJS.ErrnoException): ContainerError {
  const reason = (error.errno !== undefined && getSystemErrorMap().get(error.errno)?.[1]) || error.message
  return new ContainerError(`${error.syscall ?? 'write'} /dev/${side}: ${reason}`, 1)
}

// #region copyOutput
/**
 * Copy `source` to the outputs until it ends: demultiplexed, or as it is for a container
 * with a terminal (its stream is the pty's bytes, unframed). Settles once, however the copy
 * ends, as the CLI's copy ends: with the stream, or with its own error. An output that takes
 * its bytes slowly holds the source back, as Go's blocking writes hold the CLI's copy back.
 */
export function copyOutput(source: Readable, outputs: Outputs, tty: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    // the outputs that have taken more than they can pass on: the source waits until all have drained
    const full = new Set<NodeJS.WritableStream>()
    const sides = (['stdout', 'stderr'] as const).map((name) => {
      const stream = outputs[name]
      const side = {
        stream,
        failed: (error: NodeJS.ErrnoException) => settle(writeError(name, error)),
        drained: () => {
          full.delete(stream)
          if (full.size === 0) source.resume()
        },
        write(chunk: Buffer) {
          if (!stream.write(chunk) && !full.has(stream)) {
            full.add(stream)
            stream.once('drain', side.drained)
          }
        },
      }
      // a pipe's reader that went away fails a write later, as an 'error' event: unheard, it ends the process
      stream.on('error', side.failed)
      return side
    })
    const [stdout, stderr] = sides as [(typeof sides)[0], (typeof sides)[0]]
    const demux = tty ? undefined : frameReader({ stdout, stderr })
    let settled = false
    function settle(error?: unknown) {
      if (settled) return
      settled = true
      // the outputs outlive the copy (the next command's, a long-lived caller's): they keep nothing of it
      for (const side of sides) {
        side.stream.removeListener('error', side.failed)
        side.stream.removeListener('drain', side.drained)
      }
      if (error === undefined) return resolve()
      source.destroy()
      reject(error)
    }
    source.on('data', (chunk: Buffer) => {
      try {
        if (demux) demux.push(chunk)
        else stdout.write(chunk)
      } catch (error) {
        return settle(error)
      }
      if (full.size > 0 && !settled) source.pause()
    })
    source.on('end', () => {
      demux?.end()
      settle()
    })
    source.on('error', settle)
    source.on('close', () => settle()) // closed without an end (the daemon went away): what came is all
  })
}
// #endregion copyOutput
