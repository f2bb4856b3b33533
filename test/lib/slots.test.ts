/**
 * The given download slots (lib/slots.ts) that chapter 07's pulls share: a slot handed to a
 * waiter that is leaving, a caller that arrives as a slot comes free, a job that ends its own way.
 */
import { describe, expect, it } from 'vitest'
import { Slots } from '../../lib/slots.ts'
/** Let every queued promise callback run, then a few turns of the event loop more: nothing here does I/O. */
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}
/** Whether `promise` settles once the callbacks queued now have run. */
const settles = (promise: Promise<unknown>): Promise<boolean> =>
  Promise.race([promise.then(() => true, () => true), turns().then(() => false)])
/** A promise callback `depth` steps after this one. */
const later = (depth: number, f: () => void): void => {
  let p = Promise.resolve()
  for (let i = 0; i < depth; i++) p = p.then(() => {})
  void p.then(f)
}
describe('a slot handed to a waiter that is leaving', () => {
  it('a waiter whose signal aborts in the turn its slot comes free', async () => {
    for (let depth = 0; depth < 8; depth++) {
      const slots = new Slots(1)
      let end: (() => void) | undefined
      const holder = slots.run(new AbortController().signal, () => new Promise<void>((resolve) => (end = resolve)))
      const leaving = new AbortController()
      const ran: string[] = []
      const a = slots.run(leaving.signal, async () => void ran.push('a'))
      const b = slots.run(new AbortController().signal, async () => void ran.push('b'))
      a.catch(() => {})
      b.catch(() => {})
      // the holder's job has started (or run() has failed, which the race throws)
      for (let i = 0; i < 5 && !end; i++) await Promise.race([holder, turns(1)])
      if (!end) expect.fail('the first job, with a free slot, never started')
      end()
      later(depth, () => leaving.abort(new Error('the pull was cancelled')))
      await holder
      const where = `the job holding the only slot ended, and the first waiter's signal aborted ${depth} promise callback(s) later`
      expect(await settles(b), `${where}: the second waiter never got a slot. Where did the slot go? (lib/slots.ts)`).toBe(true)
      expect(await settles(a), `${where}: the first waiter's call never settled`).toBe(true)
      expect(ran, `${where}: the second waiter's job did not run`).toContain('b')
      // every job has ended: the one slot must be free again, and only one
      let waited = false
      let started = false
      let release: () => void = () => {}
      const next = slots.run(
        new AbortController().signal,
        () => new Promise<void>((resolve) => ((started = true), (release = resolve))),
        () => (waited = true),
      )
      await turns(1)
      expect(!waited && started, `${where}; when every job had ended, a new job ${waited ? 'had to wait' : 'did not start'} for a slot of a Slots(1) nobody held: how many slots does your count think are taken, and which waiter took one without ever giving it back? (lib/slots.ts)`).toBe(true)
      let second = false
      const other = slots.run(new AbortController().signal, async () => void (second = true), () => {})
      await turns(1)
      expect(second, `${where}; afterwards a Slots(1) ran two jobs at once: how many times was a slot given back? (lib/slots.ts)`).toBe(false)
      release()
      await Promise.all([next, other])
    }
  })
})

describe('a caller that arrives as a slot comes free', () => {
  it('a new caller in the turn the only slot is given back, while two wait', async () => {
    for (let depth = 0; depth < 8; depth++) {
      const slots = new Slots(1)
      const started: string[] = []
      let running = 0
      let most = 0
      /** a job that records its start and holds its slot for a few turns */
      const job = (name: string) => async () => {
        started.push(name)
        most = Math.max(most, ++running)
        await turns(2)
        running--
      }
      let end: (() => void) | undefined
      const holder = slots.run(new AbortController().signal, () => new Promise<void>((resolve) => (end = resolve)))
      const waiters = ['first waiter', 'second waiter'].map((name) => slots.run(new AbortController().signal, job(name), () => {}))
      for (let i = 0; i < 5 && !end; i++) await Promise.race([holder, turns(1)])
      if (!end) expect.fail('the first job, with a free slot, never started')
      let late: Promise<void> = Promise.resolve()
      end()
      later(depth, () => void (late = slots.run(new AbortController().signal, job('newcomer'), () => {})))
      await holder
      await Promise.all(waiters)
      await turns(1)
      await late
      const where = `a Slots(1) whose one job ended while two callers waited, and a third called run() ${depth} promise callback(s) later`
      expect(most, `${where}: ${most} jobs ran at once. Whose was the slot that came free, and what did the caller that arrived see of it? (lib/slots.ts)`).toBe(1)
      expect(started, `${where}: the jobs started in the order ${started.join(', ')}. Two had asked before the slot came free; could the third start before all of them? (see "One limit for the daemon"; moby's transferManager and its waitingTransfers)`).toEqual(['first waiter', 'second waiter', 'newcomer'])
    }
  })
})

describe('a job that ends its own way', () => {
  it('a job whose signal aborts while it runs, and that takes its time to settle', async () => {
    const slots = new Slots(1)
    const cancel = new AbortController()
    let finish!: () => void
    let settled = false
    const first = slots.run(cancel.signal, () => new Promise<void>((resolve) => (finish = resolve)).then(() => void (settled = true)))
    first.catch(() => {})
    await turns(1)
    // a run() that rejected before its job could start says why here
    if (!finish) await first
    // the pull behind it is cancelled: a download closes its connection, but a file still being written or a layer still
    // being unpacked ends when it ends
    cancel.abort(new Error('the pull was cancelled'))
    let started = false
    const second = slots.run(new AbortController().signal, async () => void (started = true), () => {})
    second.catch(() => {})
    await turns()
    const firstEnded = await settles(first)
    expect(
      started,
      `a Slots(1) whose one job's signal aborted while the job ran; the job had not settled yet, and a second job started beside it${firstEnded ? ', and run() had already settled for the first' : ''}: what was still running in the slot, and what does the limit count? (lib/slots.ts; where moby's transfer calls inactivate)`,
    ).toBe(false)
    expect(firstEnded, `a job's signal aborted while it ran, and run() settled before the job did: what does its caller then believe has ended? (see "Nothing after the end")`).toBe(false)
    finish()
    await first
    await second
    expect(settled && started, 'the first job settled, then the second ran').toBe(true)
  })

  it('a job that throws before it returns a promise', async () => {
    const slots = new Slots(1)
    const job = ((): Promise<void> => {
      throw new Error('the job could not start')
    }) as () => Promise<void>
    let error: unknown
    try {
      await slots.run(new AbortController().signal, job)
    } catch (e) {
      error = e
    }
    expect((error as Error | undefined)?.message, 'run() of a job that throws at once must reject with what it threw').toBe('the job could not start')
    let waited = false
    let ran = false
    const next = slots.run(new AbortController().signal, async () => void (ran = true), () => (waited = true))
    await turns(1)
    expect(
      !waited && ran,
      `a job of a Slots(1) threw before it returned a promise, and afterwards the next job ${waited ? 'had to wait for a slot nobody holds' : 'did not start'}: where in run() is the slot given back, and does a throw from the job's call itself get there? (lib/slots.ts)`,
    ).toBe(true)
    await next
  })
})
