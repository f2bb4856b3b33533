/**
 * Chapter 07: the download slots of a process. dockerd's limit of three downloads
 * (--max-concurrent-downloads) belongs to its transfer manager (distribution/xfer/transfer.go).
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { DownloadLimit } from '../../lib/registry.ts'

// #region Slots
/** At most `limit` jobs running at once, among all the callers of one Slots. */
export class Slots implements DownloadLimit {
  constructor(readonly limit: number) {}

  /**
   * Run `job` once a slot is free, and hold the slot until `job` settles, however it settles;
   * resolve or reject as `job` does. A job that has to queue calls `onWait` once, when it
   * starts to wait, and jobs start in the order they asked. When `signal` has aborted before
   * the call, or aborts while the job waits, the call rejects at once with the signal's reason
   * and the job never runs.
   */
  async run<T>(signal: AbortSignal, job: () => Promise<T>, onWait?: () => void): Promise<T> {
    // TODO(07): one limit for every pull of the process (the chapter's "One limit for the daemon";
    //   moby's distribution/xfer/transfer.go: transferManager's concurrencyLimit, activeTransfers,
    //   waitingTransfers, and what inactivate does with a slot).
    //   1. What must you know at every moment, and what changes when a job ends while others
    //      wait?
    //   2. A job ends by resolving, by rejecting, or by throwing before its first await. In each
    //      case the slot must come back exactly once. Who gives it back, and where in your code?
    //   3. A waiter whose signal aborts: what of it is still in your state when the call rejects?
    //   4. Follow one slot from the job that gives it back to the job that next runs in it: what else
    //      can happen in between, and what does it see? And a job whose signal aborts once it runs:
    //      what is still going on in its slot?
    throw new NotImplementedError('07-registry', 'Slots.run')
  }
}
// #endregion Slots
