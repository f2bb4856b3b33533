/**
 * The copy of a container's output to the client's stdout and stderr: moby's StdCopy, and the
 * CLI's hijack.go, which copies a terminal's stream as it is and runs any other through
 * StdCopy. The frames are cut by frameReader (frames.ts).
 */
import type { Readable } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

/** The client's stdout and stderr: process.stdout and process.stderr, or a test's streams. */
export interface Outputs {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

// #region copyOutput
/**
 * Copy `source` to the outputs until it ends: demultiplexed, or as it is for a container
 * with a terminal (its stream is the pty's bytes, unframed). Settles once, however the copy
 * ends, as the CLI's copy ends: with the stream, or with its own error. An output that takes
 * its bytes slowly holds the source back, as Go's blocking writes hold the CLI's copy back.
 */
export function copyOutput(source: Readable, outputs: Outputs, tty: boolean): Promise<void> {
  // TODO(12): the copy of the run's, exec's and logs' output (the text's "Frames" and "A slow
  //   or closed stdout"; moby's stdcopy.go, StdCopy, and the CLI's hijack.go). The frames are
  //   your frameReader's (frames.ts); this is the copy around it.
  //   1. Which way of copying does each kind of stream need, and how does this side know
  //      which it has (at API 1.41 both carry the same Content-Type)?
  //   2. The client's stdout can be a pipe whose reader is slower than the daemon:
  //      `docker run ... | less`, a script reading line by line. What does that cost docker,
  //      and what does it cost yours? Watch both with `| (sleep 10; cat)` (VmRSS in
  //      /proc/PID/status), and find why in what a write to a full pipe does in Go and in
  //      Node. Two outputs can be slow at once.
  //   3. Its reader can go away: `docker run busybox yes | head -c 20` (pipe(7) on EPIPE).
  //      When does Node tell you a write failed, and how? What does docker 28.2.2 print then,
  //      with which exit code, and what becomes of the attach?
  //   4. The outputs outlive the copy: logs -f, exec, the next run in a long-lived caller,
  //      a dozen copies one after another on process.stdout.
  throw new NotImplementedError('12-client', 'copyOutput')
}
// #endregion copyOutput
