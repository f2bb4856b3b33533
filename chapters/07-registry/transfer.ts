/**
 * Chapter 07: one download for every pull that needs it at the same time. A daemon is one
 * process serving every `docker pull`; two that need the same layer (two images on one base,
 * or one image pulled twice) share its download, as moby's transfer manager
 * (distribution/xfer/transfer.go) shares it: the second pull watches the transfer the first
 * one started, its progress and its result.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { ProgressSink } from '../../lib/jsonmessage.ts'

// These imports are what the signatures need; add the ones your code calls.

/**
 * The work of one transfer, run once for all its watchers: it stops when `signal` aborts,
 * reports through `progress`, which reaches every watcher, and its result is every watcher's.
 */
export type TransferJob<T = void> = (signal: AbortSignal, progress: ProgressSink) => Promise<T>

/** One pull's watch of a transfer. */
export interface Watch {
  /** where this pull's progress goes */
  progress: ProgressSink
  /** this pull's cancellation: when it aborts, this pull stops watching */
  signal: AbortSignal
}

// #region watchTransfer
/**
 * Watch the transfer for `key`, starting it with `job` when none is running: every pull that
 * asks for the same key while it runs shares the one job. A watcher gets the job's progress
 * and settles as the job does: with its result, or with the job's own error when it fails. When
 * `watch.signal` aborts, this watcher leaves, rejecting with the signal's reason, and the job
 * goes on for the others. What the pulls of the chapter's "Two pulls, one download" see, and
 * what becomes of a job when nobody watches it any more, are that section's questions.
 */
export function watchTransfer<T>(key: string, job: TransferJob<T>, watch: Watch): Promise<T> {
  // TODO(07): the chapter's "Two pulls, one download"; moby's distribution/xfer/transfer.go (transferManager's
  //   transfer, and the transfer's Watch, Release, Broadcast) and xfer/download.go.
  //   1. Where does the knowledge of running transfers live, and for how long?
  //   2. Under whose signal does the job run, and what stops it? When the last watcher has left, what of
  //      the job may still be running (an unpacking cannot be stopped half-way), and when may that
  //      watcher's pull be told it is over?
  //   3. Progress: what does a pull that joins half-way see first, and can a report be lost before anyone
  //      watches?
  //   4. A job that was told to stop takes a while to settle. A pull that asks for its key in that while:
  //      what does it meet, and what should it meet? And when such a job settles late, what does its
  //      clean-up do?
  //   5. What becomes of a job's rejection that no watcher is left to see?
  throw new NotImplementedError('07-registry', 'watchTransfer')
}
// #endregion watchTransfer
