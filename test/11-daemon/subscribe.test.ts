/**
 * The daemon's subscribe(), against the real containerd 1.6: two daemons share the namespace,
 * containerd puts each subscription in place late (as a loaded machine may), and the test
 * publishes an event the moment each promise resolves. What reaches onEnvelope is compared with
 * the events the test publishes.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { Daemon } from '#ch/11-daemon/daemon.ts'
import { connectContainerd, type Containerd as Client, type Envelope, type Subscription } from '../../lib/containerd.ts'
import { describeKernel } from '../support/kernel.ts'
import { registeredLate, startContainerd, stopInProcessDaemon, type Containerd } from '../support/daemon.ts'

const NAMESPACE = 'minidocker-test'
const PROBE = '/minidocker/probe'
const SECTION = 'the text\'s "Is the subscription in place?"'
/** How long after each daemon's Subscribe containerd puts its subscription in place, in ms. */
const SUBSCRIBED_AFTER = [1000, 300]
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let dir: string | undefined
let containerd: Containerd | undefined
const clients: Client[] = []
const subscriptions: Subscription[] = []

/** Everything the tests need, made by the first test that asks (a starter fails there, not in a hook). */
let made: Promise<void> | undefined
const ready = () => (made ??= (async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-subscribe-'))
  containerd = await startContainerd(join(dir, 'containerd'))
})())

/** A daemon of its own data root whose subscriptions containerd puts in place `late` ms after the call. */
function daemonWith(late: number, name: string): Daemon {
  const client = connectContainerd(containerd!.socket, NAMESPACE)
  clients.push(client)
  const root = join(dir!, name)
  mkdirSync(join(root, 'data'), { recursive: true })
  return new Daemon({ root: join(root, 'data'), runRoot: join(root, 'exec'), containerd: { ...client, events: registeredLate(client.events, late) }, cgroupParent: containerd!.cgroupParent })
}

/** `promise`'s value, or 'pending' after `ms`. */
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms).then(() => 'pending' as const)])

afterAll(async () => {
  for (const s of subscriptions) s.close()
  await stopInProcessDaemon({ closers: clients, containerd, dir })
}, 60_000)

describeKernel("subscribe(): a subscription known to be in place", () => {
  it('two daemons subscribe in one namespace while containerd is slow to register their streams', async () => {
    await ready()
    const received = SUBSCRIBED_AFTER.map(() => [] as Envelope[])
    const daemons = SUBSCRIBED_AFTER.map((late, i) => daemonWith(late, `daemon-${i}`))
    const filters = [`namespace==${JSON.stringify(NAMESPACE)},topic==${JSON.stringify(PROBE)}`]
    const subscribed = daemons.map((d, i) => d.subscribe(filters, (envelope) => received[i]!.push(envelope), () => {}))
    const publisher = connectContainerd(containerd!.socket, NAMESPACE)
    clients.push(publisher)
    for (const [i, promise] of subscribed.entries()) {
      const subscription = await within(promise, 15_000)
      expect(subscription, `daemon ${i}'s subscribe had not resolved 15 s after the call; containerd had put its subscription in place ${SUBSCRIBED_AFTER[i]} ms after the call. What was your daemon waiting for, and what if that came about before containerd had registered the stream (${SECTION})?`).not.toBe('pending')
      subscriptions.push(subscription as Subscription)
      // the very moment it resolves: an event that must reach it
      const value = randomBytes(8)
      await publisher.events.Publish({ topic: PROBE, event: { type_url: 'minidocker.Probe', value } })
      for (let waited = 0; waited < 3000 && !received[i]!.some((e) => Buffer.from(e.event?.value ?? []).equals(value)); waited += 50) await sleep(50)
      expect(received[i]!.some((e) => Buffer.from(e.event?.value ?? []).equals(value)),
        `an event of topic ${PROBE}, which daemon ${i}'s filters ask for, was published right after its subscribe resolved and never reached its onEnvelope (3 s). What did your daemon know of containerd's side when it resolved (${SECTION})?`).toBe(true)
    }
    await sleep(1500) // anything still on its way arrives meanwhile
    for (const [i, envelopes] of received.entries()) {
      const strangers = envelopes.map((e) => e.topic).filter((topic) => topic !== PROBE)
      expect(strangers,
        `daemon ${i}'s onEnvelope received ${strangers.length} envelope(s) of topic(s) ${JSON.stringify([...new Set(strangers)])}, where its filters asked for ${PROBE} only, while another daemon subscribed in the same namespace: where did they come from (${SECTION})?`).toEqual([])
    }
  }, 60_000)

  it('a subscription whose filter containerd refuses', async () => {
    await ready()
    const daemon = daemonWith(300, 'daemon-refused')
    // containerd refuses a filter it cannot parse, and ends the stream with that error
    const outcome = await within(daemon.subscribe(['topic=='], () => {}, () => {}).then((s) => (subscriptions.push(s), 'resolved'), (error: Error) => `rejected: ${error.message}`), 15_000)
    expect(outcome, `subscribe with a filter containerd refuses (\`topic==\`; containerd ends the stream with its error): 15 s after the call the promise was ${outcome}. Who was told of that error, and who waits on the promise (subscribe's doc comment; ${SECTION})?`).toMatch(/^rejected: /)
  }, 30_000)
})
