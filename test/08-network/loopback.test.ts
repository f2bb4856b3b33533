import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { done, outsideMachine, printed } from './support.ts'

const SECTION = '(see "Published ports")'

// A port published on the host's loopback only, and a machine on the host's link that sends its
// packets for 127.0.0.1 to the host anyway: nothing stops a machine from putting any destination
// in a packet it sends, and the host's link is shared with whoever is on it.
describeKernel('a port published on 127.0.0.1, and a machine on the host\'s link', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 120_000 })

  it('a run with -p 127.0.0.1:8084:7000, then another machine on the link sends its packets for 127.0.0.1:8084 to the host', async () => {
    const outside = await outsideMachine(host(), '198.18.8')
    // The other machine: its own 127.0.0.1 gone from lo, 127.0.0.1 routed through the host, and
    // its kernel told to take an answer that comes from 127.0.0.1 on a link (route_localnet).
    for (const argv of [
      ['ip', 'addr', 'flush', 'dev', 'lo'],
      ['ip', 'route', 'add', '127.0.0.1/32', 'via', outside.hostAddress],
      ['sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1'],
      ['sh', '-c', 'for f in /proc/sys/net/ipv4/conf/*/route_localnet; do echo 1 > $f; done'],
    ]) expect((await outside.run(...argv)).exitCode, `${argv.join(' ')} on the other machine`).toBe(0)

    const run = host().minidocker(['run', '-p', '127.0.0.1:8084:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(run, /"listening"/, 'the container behind -p 127.0.0.1:8084:7000')
    // Read while the container runs: its run deletes its rule once it has ended.
    const chain = String((await host().run(['iptables', '-w', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout).trim().split('\n').filter((l) => l.startsWith('-A ')).join('; ')
    let ended = false
    void run.then(() => (ended = true))
    try {
      const remote = await outside.run('timeout', '5', PROBE_PATH, 'connect:127.0.0.1:8084')
      const got = probeLines(String(remote.stdout)).find((l) => 'reply' in l)?.reply
      expect(got, `-p 127.0.0.1:8084:7000 publishes the port to the host itself, and another machine on the host's link (${outside.address}) reached the container through it: it sent its packets for 127.0.0.1:8084 to the host's ${outside.hostAddress} and got the container's answer. What would the host's kernel have done with that packet without your rule, and why did it not? MINIDOCKER holds: ${chain} ${SECTION}`).toBeUndefined()
      // Nothing got through, and not because the container was unreachable: the host reaches it.
      const local = await host().run(['timeout', '10', PROBE_PATH, 'connect:127.0.0.1:8084'])
      expect(probeLines(String(local.stdout)).find((l) => 'reply' in l)?.reply, `the host itself could not reach 127.0.0.1:8084, published with -p 127.0.0.1:8084:7000: ${String(local.stdout).trim()} ${SECTION}`).toBe('ping\n')
    } finally {
      // The container waits for one connection before it ends: give it one if nobody has.
      if (!ended) await host().run(['timeout', '10', PROBE_PATH, 'connect:127.0.0.1:8084'])
      await run
    }
  })
})
