import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, outsideMachine, printed } from './support.ts'

// Published ports: the proxy on loopback, DNAT from another machine. The VM test's guest runs
// this file for chapter 08: it crosses the bridge, a veth, iptables' nat table and the proxy.
describeKernel('the container network', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  it('a run with -p 8080:7000 reached from the host\'s 127.0.0.1, then one with -p 8081:7000 from another machine, FORWARD policy DROP', async () => {
    // As on a machine running Docker: what the host forwards is dropped unless a rule accepts it.
    expect((await host().run(['iptables', '-w', '-P', 'FORWARD', 'DROP'])).exitCode, 'iptables -P FORWARD DROP in the stand-in host').toBe(0)
    // An outside machine, wired to the stand-in host on 192.0.2.0/24.
    const { run: inOutside } = await outsideMachine(host(), '192.0.2', [['default', 'via', '192.0.2.1']])

    const viaProxy = host().minidocker(['run', '-p', '8080:7000', 'probe', '/bin/probe', hosts, 'listen:7000'])
    const gateway = addressIn(await printed(viaProxy, /"listening"/, 'the container behind -p 8080:7000')).replace(/\.\d+$/, '.1')
    const local = await host().run([PROBE_PATH, 'connect:127.0.0.1:8080'])
    expect(probeLines(local.stdout).find((l) => 'reply' in l)?.reply, `the host's 127.0.0.1:8080 did not reach the container: ${local.stdout} — is a minidocker-proxy listening? (see "Published ports")`).toBe('ping\n')
    expect(probeLines((await done(viaProxy)).stdout).find((l) => 'peer' in l)?.peer, 'the peer the container saw for a connection to the host\'s 127.0.0.1:8080').toBe(gateway)

    const viaDnat = host().minidocker(['run', '-p', '8081:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(viaDnat, /"listening"/, 'the container behind -p 8081:7000')
    const remote = await inOutside(PROBE_PATH, 'connect:192.0.2.1:8081')
    const forwarding = (await host().run(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim() === '1'
    const why = forwarding
      ? 'the host forwards, but its FORWARD policy is DROP: what does that do to a container\'s packets, and to the replies? (see "Published ports")'
      : 'the stand-in host does not forward packets (its /proc/sys/net/ipv4/ip_forward is 0): where does a DNAT\'ed packet for the bridge go then? (see "The bridge")'
    expect(probeLines(remote.stdout).find((l) => 'reply' in l)?.reply, `a client outside the host could not reach 192.0.2.1:8081: ${remote.stdout} — ${why}`).toBe('ping\n')
    const peer = probeLines((await done(viaDnat)).stdout).find((l) => 'peer' in l)?.peer
    expect(peer, `the container saw the connection from ${String(peer)}, not from the outside client 192.0.2.2: it came through the proxy — which nat hook do packets from outside pass? (see "Published ports")`).toBe('192.0.2.2')
  })

  it('a run with -p 127.0.0.1:8082:7001/udp', async () => {
    const server = host().minidocker(['run', '-p', '127.0.0.1:8082:7001/udp', 'probe', '/bin/probe', 'udp-echo:7001'])
    await printed(server, /"listening"/, 'the container behind -p 127.0.0.1:8082:7001/udp')
    const client = await host().run([PROBE_PATH, 'udp:127.0.0.1:8082'])
    expect(probeLines(client.stdout).find((l) => 'reply' in l)?.reply, `a datagram to 127.0.0.1:8082 got no answer: ${client.stdout} — how does the container's reply find its way back to the client? (see "The proxy")`).toBe('ping\n')
    expect((await done(server)).exitCode).toBe(0)
  })
})
