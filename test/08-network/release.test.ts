import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { descendantsOf, useStandInHost } from '../support/netns.ts'
import { processState } from '../support/container.ts'
import { PROBE_PATH } from '../support/probe.ts'
import { addressIn, hosts, printed, type Run } from './support.ts'

const SECTION = '(see "Putting it together")'

const comm = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

// A run whose container has ended, held (stopped) before it has undone anything, while another
// run starts: the ended container's address is free to the new run's allocation. Nothing races:
// the held run goes on only when the test lets it (SIGCONT).
describeKernel('a run that undoes after its container ended, beside a run that started since', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 120_000 })

  it('run A\'s container ends while A is stopped, run B starts, A goes on and ends, then run C', async () => {
    const listen = (run: Run, what: string) => printed(run, /"listening"/, what).then(addressIn)
    const a = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000'])
    const first = await listen(a, 'run A')
    // A's own process (nsenter execs it) and its container's PID 1.
    const runA = a.pid!
    expect(comm(runA), 'run A\'s process').not.toBe('nsenter')
    const containerA = descendantsOf([runA]).find((p) => comm(p) === 'probe')
    expect(containerA, 'run A\'s container (the probe)').toBeDefined()
    process.kill(runA, 'SIGSTOP')
    let b: Run | undefined
    let c: Run | undefined
    try {
      // A's container ends (its listener takes one connection), and is reaped: its address's owner is gone.
      await host().run([PROBE_PATH, `connect:${first}:7000`])
      for (let i = 0; i < 1000 && processState(containerA!) !== undefined; i++) await sleep(10)
      expect(processState(containerA!), `run A's container (PID ${containerA}) had ended but was still not reaped 10 s later`).toBeUndefined()

      b = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000'])
      const second = await listen(b, 'run B, started after A\'s container ended')
      process.kill(runA, 'SIGCONT')
      const doneA = await a
      expect(doneA.exitCode, `run A, let go after B had started: ${String(doneA.stderr)}`).toBe(0)

      c = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000'])
      const third = await listen(c, 'run C, started after A had ended')
      const book = readFileSync(join(host().root, 'network', 'ipam.json'), 'utf8').replace(/\s+/g, ' ')
      expect(third, `run A's container had ended (at ${first}) before run B started, and B's container was given ${second}; run A then undid its work and ended, and run C, while B's container still runs, was given ${third} as well: two running containers on one address. ipam.json now holds ${book}. What did A's undoing do, and to whom? ${SECTION}`).not.toBe(second)
      for (const address of [second, third]) await host().run([PROBE_PATH, `connect:${address}:7000`])
      for (const run of [b, c]) expect((await run).exitCode, 'runs B and C').toBe(0)
    } finally {
      try {
        process.kill(runA, 'SIGCONT')
      } catch { /* gone */ }
    }
  })
})
