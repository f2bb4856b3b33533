import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { done } from './support.ts'

// Runs that all meet a host with no bridge and no rules yet: a stand-in host of this file's own,
// returned to that state between rounds.
describeKernel('the first runs on a host', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  /** Back to a host no run has used: no bridge, no rules or chains, no forwarding. */
  async function fresh(): Promise<void> {
    const reset = 'ip link del minidocker0 2>/dev/null; for t in nat filter; do iptables -w -t $t -F && iptables -w -t $t -X; done && iptables -w -P FORWARD ACCEPT && echo 0 > /proc/sys/net/ipv4/ip_forward'
    expect((await host().run(['sh', '-c', reset])).exitCode, `${reset} in the stand-in host`).toBe(0)
  }

  // Whether two runs meet half-way through making the host's side is up to how their starts fall:
  // a round of five catches a run that makes it outside any lock about two times in three.
  it('5 runs with -p started at once on a host no run has used yet, 6 times', async () => {
    const ports = [8071, 8072, 8073, 8074, 8075]
    for (let round = 1; round <= 6; round++) {
      await fresh()
      const results = await Promise.all(ports.map((port) => done(host().minidocker(['run', '-p', `${port}:7000`, 'probe', '/bin/probe', 'exit:0']))))
      const failed = results.map((result, i) => [ports[i], result] as const).filter(([, result]) => result.exitCode !== 0)
      const said = failed.map(([port, result]) => `-p ${port}:7000 exited ${result.exitCode}: ${String(result.stderr).trim()}`).join('; ')
      expect(failed.length, `round ${round}: 5 runs started together on a host no run had used yet, and ${failed.length} of them failed: ${said}. What did they find half made, and by whom? (see "Putting it together")`).toBe(0)
    }
  })
})
