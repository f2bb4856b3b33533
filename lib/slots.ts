/**
 * The download slots of a process (given code for chapter 07). dockerd's limit of three downloads
 * (--max-concurrent-downloads) belongs to its transfer manager (distribution/xfer/transfer.go),
 * one per daemon: every pull it serves shares the same slots, and a slot is held by a transfer,
 * not by a pull, from the moment the transfer starts to the moment it ends.
 */
import type { DownloadLimit } from './registry.ts'

/** At most `limit` jobs running at once, among all the callers of one Slots. */
export class Slots implements DownloadLimit {
  /** how many jobs hold a slot */
  #active = 0
  /** the jobs waiting for a slot, oldest first: each is woken with a slot already its own */
  readonly #waiting: (() => void)[] = []

  constructor(readonly limit: number) {}

  /**
   * Run `job` within the limit, and settle as it settles. `onWait` is there for the "Waiting"
   * a docker pull shows when a download cannot start at once; `signal` is the caller's cancel,
   * and a call it cancels rejects with its reason.
   */
  async run<T>(signal: AbortSignal, job: () => Promise<T>, onWait?: () => void): Promise<T> {
    signal.throwIfAborted()
    if (this.#active < this.limit) this.#active++
    else {
      onWait?.()
      await this.#queue(signal)
    }
    try {
      return await job()
    } finally {
      this.#release()
    }
  }

  /** Wait until a slot is handed over, or leave the queue when `signal` aborts. */
  #queue(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', leave)
        resolve()
      }
      const leave = (): void => {
        this.#waiting.splice(this.#waiting.indexOf(wake), 1)
        reject(signal.reason)
      }
      this.#waiting.push(wake)
      signal.addEventListener('abort', leave, { once: true })
    })
  }

  /** Hand the slot to the oldest waiter, or free it when nobody waits. */
  #release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#active--
  }
}
