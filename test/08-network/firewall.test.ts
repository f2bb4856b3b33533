import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { done, hosts, listening, outsideMachine, printed } from './support.ts'

const SECTION = '(see "Published ports")'

// A host with a firewall of its own, as ufw and firewalld leave one: FORWARD's policy is ACCEPT,
// but its last rule rejects whatever no rule before it accepted.
describeKernel('a host whose FORWARD chain ends in REJECT', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  it('a container connects out, and another machine reaches a published port, FORWARD ending in -j REJECT', async () => {
    for (const argv of [['iptables', '-w', '-P', 'FORWARD', 'ACCEPT'], ['iptables', '-w', '-A', 'FORWARD', '-j', 'REJECT']])
      expect((await host().run(argv)).exitCode, `${argv.join(' ')} in the stand-in host`).toBe(0)
    const outside = await outsideMachine(host(), '198.18.0', [['default', 'via', '198.18.0.1']])
    const rules = async () => String((await host().run(['iptables', '-w', '-S', 'FORWARD'])).stdout).trim().split('\n').join('; ')

    const listener = outside.run(PROBE_PATH, 'listen:9000')
    try {
      await listening(listener, 'the other machine\'s listener on 9000')
      const out = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts, `connect:${outside.address}:9000`]))
      const reply = probeLines(String(out.stdout)).find((l) => 'reply' in l)?.reply
      const said = probeLines(String(out.stdout)).filter((l) => !('cat' in l)).map((l) => JSON.stringify(l)).join('; ') || String(out.stderr).trim()
      expect(reply, `a container connected to ${outside.address}:9000 on another machine and got no answer (${said}), on a host whose FORWARD chain the administrator had ended with a REJECT before your run; after it, FORWARD holds: ${await rules()}. Which rule does a container's packet meet first? ${SECTION}`).toBe('ping\n')
    } finally {
      listener.kill('SIGKILL')
      await listener
    }

    const published = host().minidocker(['run', '-p', '8085:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(published, /"listening"/, 'the container behind -p 8085:7000')
    const remote = await outside.run(PROBE_PATH, `connect:${outside.hostAddress}:8085`)
    const got = probeLines(String(remote.stdout)).find((l) => 'reply' in l)?.reply
    expect(got, `another machine connected to the host's ${outside.hostAddress}:8085, published with -p 8085:7000, and got no answer (${String(remote.stdout).trim()}); FORWARD holds: ${await rules()}. Whose rules does the host look at first, and did yours ever see that packet? ${SECTION}`).toBe('ping\n')
    expect((await done(published)).exitCode, 'the container behind -p 8085:7000').toBe(0)
  })
})
