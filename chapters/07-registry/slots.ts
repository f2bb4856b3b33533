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
   * Run `job` within the limit, and settle as it settles. `onWait` is there for the "Waiting"
   * a docker pull shows when a download cannot start at once; `signal` is the caller's cancel,
   * and a call it cancels rejects with its reason.
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
