/**
 * Chapter 07: one download for every pull that needs it at the same time. A daemon is one
 * process serving every `docker pull`; two that need the same layer (two images on one base,
 * or one image pulled twice) share its download, as moby's transfer manager
 * (distribution/xfer/transfer.go) shares it: the second pull watches the transfer the first
 * one started, its progress and its result.
 */
import type { JSONMessage, ProgressSink } from '../../lib/jsonmessage.ts'

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

interface Transfer {
  watchers: Set<Watch>
  controller: AbortController
  /** the last message reported, for a watcher that joins late */
  last?: JSONMessage
  done: Promise<unknown>
}

/** The transfers running in this process, by key. */
const transfers = new Map<string, Transfer>()

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
  if (watch.signal.aborted) return Promise.reject(watch.signal.reason)
  let transfer = transfers.get(key)
  if (transfer) {
    if (transfer.last) watch.progress(transfer.last)
  } else {
    const started: Transfer = { watchers: new Set(), controller: new AbortController(), done: Promise.resolve() }
    const broadcast = (message: JSONMessage): void => {
      started.last = message
      for (const watcher of started.watchers) watcher.progress(message)
    }
    // started on the next tick, so that its first report finds this watcher there
    started.done = Promise.resolve()
      .then(() => job(started.controller.signal, broadcast))
      .finally(() => forget(key, started))
    // an aborted job nobody watches still rejects
    started.done.catch(() => {})
    transfers.set(key, started)
    transfer = started
  }
  const joined = transfer
  joined.watchers.add(watch)
  return new Promise<T>((resolve, reject) => {
    let left = false
    const leave = (): void => {
      left = true
      joined.watchers.delete(watch)
      const reason: unknown = watch.signal.reason
      if (joined.watchers.size > 0) return reject(reason)
      // the last to leave stops the job and waits for it: nothing of it outlives the pulls
      forget(key, joined)
      joined.controller.abort(reason)
      joined.done.then(() => reject(reason), () => reject(reason))
    }
    watch.signal.addEventListener('abort', leave, { once: true })
    joined.done
      .finally(() => {
        watch.signal.removeEventListener('abort', leave)
        joined.watchers.delete(watch)
      })
      // the job that settles `done` is the one filed under `key`, whose result is a T
      .then((result) => left || resolve(result as T), (error: unknown) => left || reject(error))
  })
}

/** Drop `transfer` from the map, unless a newer transfer for the key has taken its place. */
function forget(key: string, transfer: Transfer): void {
  if (transfers.get(key) === transfer) transfers.delete(key)
}
// #endregion watchTransfer
