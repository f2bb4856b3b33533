/**
 * The daemon rows of `npm run bench`: `docker run --rm IMAGE true` through minidockerd (the
 * reference, on Debian's containerd 1.6 started from a temp dir) and through a real dockerd
 * (Debian's 20.10, from temp dirs, without bridge or iptables), both driven by the same
 * docker CLI, one after the other in each round so that the machine's load weighs on both;
 * then 50 of them at once, in total. And chapter 12's client: `minidocker run --rm IMAGE true`
 * (the reference) against `docker run --rm IMAGE true`, both through the same minidockerd.
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { minidocker } from '../test/support/client.ts'
import { docker, imageRegistry, startContainerd, startMinidockerd, startRealDockerd, type Dockerd } from '../test/support/daemon.ts'

export interface DaemonBench {
  /** median ms of one `docker run --rm` through each */
  ours: number
  real: number
  /** ms for 50 concurrent runs through each */
  oursConcurrent: number
  realConcurrent: number
  /** median ms of one `minidocker run --rm` (the reference client) through minidockerd */
  client: number
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

export async function benchDaemon(scratch: string, rounds: number, concurrent = 50): Promise<DaemonBench> {
  const registry = await imageRegistry()
  const stops: (() => Promise<unknown>)[] = [() => registry.stop()]
  try {
    const containerd = await startContainerd(join(scratch, 'containerd'))
    stops.unshift(() => containerd.stop())
    const ours = await startMinidockerd(join(scratch, 'minidockerd'), containerd)
    stops.unshift(() => ours.stop())
    const real = await startRealDockerd(join(scratch, 'dockerd'), registry.host)
    stops.unshift(() => real.stop())
    const image = `${registry.host}/busybox`
    const runOnce = async (daemon: Dockerd) => {
      const start = performance.now()
      const r = await docker('28.2.2', daemon.host, ['run', '--rm', '--network', 'none', image, 'true'])
      if (r.exitCode !== 0) throw new Error(`docker run --rm through ${daemon.host} exited ${r.exitCode}: ${r.stderr}`)
      return performance.now() - start
    }
    for (const d of [ours, real]) {
      const pull = await docker('28.2.2', d.host, ['pull', '-q', image])
      if (pull.exitCode !== 0) throw new Error(`docker pull through ${d.host}: ${pull.stderr}`)
      await runOnce(d) // warm-up
    }
    const clientOnce = async () => {
      const start = performance.now()
      const r = await minidocker(['-H', ours.host, 'run', '--rm', '--network', 'none', image, 'true'], { env: { WORKBOOK_IMPL: 'solutions' } })
      if (r.exitCode !== 0) throw new Error(`minidocker run --rm through ${ours.host} exited ${r.exitCode}: ${r.stderr}`)
      return performance.now() - start
    }
    await clientOnce() // warm-up, and the client's bundle built
    const times = { ours: [] as number[], real: [] as number[], client: [] as number[] }
    for (let i = 0; i < rounds; i++) {
      times.ours.push(await runOnce(ours))
      times.client.push(await clientOnce())
      times.real.push(await runOnce(real))
    }
    const together = async (d: Dockerd) => {
      const start = performance.now()
      const results = await Promise.allSettled(Array.from({ length: concurrent }, () => runOnce(d)))
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed.length > 0) throw new Error(`${failed.length} of ${concurrent} concurrent runs through ${d.host} failed, the first: ${(failed[0]!.reason as Error).message}`)
      return performance.now() - start
    }
    return { ours: median(times.ours), real: median(times.real), client: median(times.client), oursConcurrent: await together(ours), realConcurrent: await together(real) }
  } finally {
    for (const stop of stops) await stop()
  }
}
