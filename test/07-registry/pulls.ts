/**
 * Pulls run in the background by the tests of pulls that share a process: each keeps its
 * progress messages, and the helpers here read them and the interposer's counts.
 */
import { pullImage } from '#ch/07-registry/pull.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import type { DownloadLimit } from '../../lib/registry.ts'
import { caught } from '../support/errors.ts'
import type { Interposer } from './interposer.ts'

/** A pull running in the background, its progress kept. */
export interface Pull {
  messages: JSONMessage[]
  /** what it failed with, undefined when it succeeded (a NotImplementedError is rethrown) */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  outcome: Promise<any>
  ended: boolean
}

export function start(reference: string, root: string, options: { signal?: AbortSignal; slots?: DownloadLimit } = {}): Pull {
  const pull: Pull = { messages: [], outcome: Promise.resolve(), ended: false }
  pull.outcome = caught(() => pullImage(reference, { ...options, root, progress: (m) => pull.messages.push(m) })).finally(() => (pull.ended = true))
  // awaited later by the test, which then sees a NotImplementedError
  pull.outcome.catch(() => {})
  return pull
}

/** How long the tests wait for what must happen (much longer than it takes: the machine may be busy). */
export const PATIENCE_MS = 5000

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Wait until `condition` holds, PATIENCE_MS at most, or until one of `pulls` has ended (which
 * then rethrows a NotImplementedError): the assertions after it say what went wrong.
 */
export async function until(condition: () => boolean, pulls: Pull[] = []): Promise<void> {
  for (const deadline = Date.now() + PATIENCE_MS; !condition() && Date.now() < deadline; await sleep(20)) {
    const ended = pulls.find((p) => p.ended)
    if (ended) return void (await ended.outcome)
  }
}

export { within } from '../support/errors.ts'

export const idOf = (digest: string) => digest.slice(7, 19)
/** The statuses reported for one layer, each run of repeats counted once. */
export const statuses = (pull: Pull, digest: string) =>
  pull.messages.filter((m) => m.id === idOf(digest)).map((m) => m.status).filter((s, i, all) => s !== all[i - 1])
export const said = (pull: Pull, digest: string, status: string) => statuses(pull, digest).includes(status)
export const gets = (proxy: Interposer, digest: string) => proxy.blobRequests.filter((d) => d === digest).length
export const described = (error: Error | undefined) => (error ? `${error.name}: ${error.message}` : 'nothing (it succeeded)')

/**
 * `names[0]` pulled through `proxy` into `root` until it downloads blob `held`, which the link
 * holds half-sent; then `names[1]` pulled until it reaches the same blob (into `root`, or into
 * the second store when `root` names two).
 */
export async function twoPulls(proxy: Interposer, root: string | [string, string], names: [string, string], held: string, signals: (AbortSignal | undefined)[] = []): Promise<[Pull, Pull]> {
  const roots = typeof root === 'string' ? [root, root] : root
  const first = start(`${proxy.host}/${names[0]}`, roots[0], { signal: signals[0] })
  await until(() => said(first, held, 'Downloading'), [first])
  const second = start(`${proxy.host}/${names[1]}`, roots[1], { signal: signals[1] })
  await until(() => said(second, held, 'Pulling fs layer'), [first, second])
  await sleep(200)
  return [first, second]
}
