import { describe, expect, it } from 'vitest'
import { watchTransfer, type Watch } from '#ch/07-registry/transfer.ts'

/** Let every queued promise callback run, then a few turns of the event loop more: nothing here does I/O. */
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}
/** Whether `promise` settles once the callbacks queued now have run. */
const settles = (promise: Promise<unknown>): Promise<boolean> =>
  Promise.race([promise.then(() => true, () => true), turns().then(() => false)])
const watcher = (): Watch => ({ progress: () => {}, signal: new AbortController().signal })

describe('a transfer that settles as a pull joins it', () => {
  it('pulls that join at the moment the job settles are told how it ended', async () => {
    for (const outcome of ['resolves', 'rejects'] as const) {
      const key = `settling-${outcome}-${Math.random()}`
      const joins: { when: string; pull: Promise<string> }[] = []
      const join = (when: string): void => {
        const pull = watchTransfer(key, async () => 'a job started later', watcher())
        pull.catch(() => {})
        joins.push({ when, pull })
      }
      let finish!: () => void
      const gate = new Promise<void>((resolve) => (finish = resolve))
      const first = watchTransfer(
        key,
        () => {
          const ending = gate.then(() => (outcome === 'resolves' ? 'the first job' : Promise.reject(new Error('the first job failed'))))
          // the first callback of the job's own promise: after it settled, before any of yours
          ending.then(() => join("on the job's own promise"), () => join("on the job's own promise"))
          return ending
        },
        watcher(),
      )
      // and a pull that starts once the first pull has been told
      first.then(() => join("after the first pull's end"), () => join("after the first pull's end"))
      finish()
      await first.catch(() => {})
      await turns()
      expect(joins.map((j) => j.when).sort(), 'both joins ran').toEqual(["after the first pull's end", "on the job's own promise"])
      for (const { when, pull } of joins)
        expect(
          await settles(pull),
          `the job ${outcome === 'resolves' ? 'resolved' : 'rejected'}, and a pull that asked for its key ${when} was never told anything: what did it find under the key at that moment, and who was left to tell it? (see "Two pulls, one download")`,
        ).toBe(true)
    }
  })
})
