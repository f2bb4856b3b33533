import { readFileSync } from 'node:fs'
import { expect, it, vi } from 'vitest'
import { processStart } from '../../lib/net.ts'
import { describeKernel } from '../support/kernel.ts'
import { alive, processState, waitFor } from '../support/container.ts'
import { descendantsOf, useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, printed } from './support.ts'

const SECTION = '(see "Rules a killed run left")'

/** The command name of `pid`; '' once it is gone. */
const commOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

/** The processes below `run` (its container's, from the helper to the probe), each with its start time. */
const below = (run: number) => descendantsOf([run]).map((pid) => ({ pid, start: processStart(pid), comm: commOf(pid) }))

// Whose a DNAT rule is: a run killed with SIGKILL while its container runs on, then the
// container ending by itself. Everything happens in the stand-in host, read with its own iptables.
describeKernel('whose a DNAT rule is', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 120_000 })

  const chain = async (): Promise<string[]> => String((await host().run(['iptables', '-w', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout).split('\n').filter((line) => line.startsWith('-A ') && line.includes('DNAT'))
  const connect = async (hostPort: number) => probeLines(String((await host().run([PROBE_PATH, `connect:172.29.0.1:${hostPort}`])).stdout)).find((l) => 'reply' in l)?.reply
  /** A run that sweeps (attachNetwork on the bridge) and ends. */
  const sweepingRun = async (what: string) => {
    const run = await done(host().minidocker(['run', 'probe', '/bin/probe', 'exit:0']))
    expect(run.exitCode, `${what} failed: ${run.stderr} ${SECTION}`).toBe(0)
  }

  it('a run with -p 8090:7000 killed while its container runs on, then a run, then one with the same -p, then the container ends, then a run', async () => {
    const first = host().minidocker(['run', '-p', '8090:7000', 'probe', '/bin/probe', hosts, 'listen:7000'])
    const address = addressIn(await printed(first, /"listening"/, 'the run with -p 8090:7000'))
    const theirs = await chain()
    expect(theirs.length, 'the run with -p 8090:7000 has no DNAT rule in MINIDOCKER (see "Published ports")').toBe(1)
    const tree = below(first.pid!)
    const container = tree.find((p) => p.comm === 'probe')?.pid
    if (container === undefined) throw new Error('the container of the run with -p 8090:7000 (a probe below the run) was not found')
    try {
      await runOn(first.pid!, container, address, theirs)
    } finally {
      // Orphaned by its run, the container is out of the stand-in's reach (and its cgroup with
      // it): end what is left of it here, each process only if it is still the one that started then.
      for (const p of tree) if (p.start !== undefined && processStart(p.pid) === p.start) process.kill(p.pid, 'SIGKILL')
      await waitFor(() => tree.every((p) => processState(p.pid) === undefined), 10_000)
    }
  })

  /** The run `run` dies while its container runs on; then the container ends by itself. */
  async function runOn(run: number, container: number, address: string, theirs: string[]): Promise<void> {
    // The run alone dies: its container is another process, and runs on. Not awaited as a
    // promise: the run's output pipe is the container's too, open until the container ends.
    process.kill(run, 'SIGKILL')
    expect(await waitFor(() => processState(run) === undefined, 10_000), 'the run killed with SIGKILL is still there').toBe(true)
    expect(alive(container), `the container (PID ${container}) ended with its run: the test cannot tell a run's rule from its container's`).toBe(true)

    await sweepingRun('a run on the bridge after the killed one')
    expect(await chain(), `minidocker was killed while its container (PID ${container}, at ${address}) ran on, and the next run's sweep deleted the container's DNAT rule, while the container still listened behind its port. Whose is a rule, and what did the sweep find dead? ${SECTION}`).toEqual(expect.arrayContaining(theirs))
    // The same -p again, while the container still serves it: the killed run's proxy is gone,
    // its rule is not.
    const again = await done(host().minidocker(['run', '-p', '8090:7000', 'probe', '/bin/probe', 'exit:0']))
    const said = `${again.exitCode === 0 ? 'ran its container' : `exited ${again.exitCode}`}${String(again.stderr).trim() ? `, saying: ${String(again.stderr).trim()}` : ''}`
    expect(again.exitCode, `a run with -p 8090:7000, while the container of a killed run (PID ${container}, at ${address}) still runs with the host's port 8090 published to it, ${said}. Where would its connections on 8090 have gone: to its container, or to the one already there? What does docker run do with a -p whose host port is in use? ${SECTION}`).toBe(125)
    expect(String(again.stderr), `a run with -p 8090:7000 while another container has the host's port 8090 published was refused, but not in docker's words for a host port that is in use ${SECTION}`).toMatch(/Bind for 0\.0\.0\.0:8090 failed: port is already allocated/)
    expect(await chain(), `the run refused -p 8090:7000 left MINIDOCKER changed ${SECTION}`).toEqual(theirs)
    expect(await connect(8090), `the host's port 8090 no longer reaches the container at ${address}, which still runs and listens on 7000, after its run was killed and another run swept; MINIDOCKER holds: ${(await chain()).join('; ') || 'nothing'} ${SECTION}`).toBe('ping\n')

    // The connection was the container's last step: its PID 1 ends, and nothing may stay for it.
    const gone = await waitFor(() => processState(container) === undefined, 15_000)
    expect(gone, `the container (PID ${container}) answered its one connection but did not end`).toBe(true)
    await sweepingRun('a run on the bridge after the container ended')
    const left = (await chain()).filter((line) => theirs.includes(line))
    expect(left, `the container at ${address} has ended (its PID 1 is gone) and its run was killed, and after the next run's sweep its DNAT rule is still in MINIDOCKER: when is a rule's owner gone? ${SECTION}`).toEqual([])
  }
})
