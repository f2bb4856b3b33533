import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, listening, outsideMachine, printed } from './support.ts'

const SECTION = '(see "Published ports")'

// A container and another machine, on a stand-in host whose FORWARD policy is DROP, as on a
// machine running Docker: the container reaching out, and the machine reaching in.
describeKernel('the bridge and other machines', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  const forwardDrop = async () =>
    expect((await host().run(['iptables', '-w', '-P', 'FORWARD', 'DROP'])).exitCode, 'iptables -P FORWARD DROP in the stand-in host').toBe(0)

  it('a container connects to another machine that has no route to the containers, FORWARD policy DROP', async () => {
    await forwardDrop()
    // Like any machine out there, it knows nothing of 172.29.0.0/16, only its own link.
    const outside = await outsideMachine(host(), '198.51.100')
    // What arrives for its port, counted by source: the host's address, or another.
    for (const argv of [['iptables', '-w', '-A', 'INPUT', '-p', 'tcp', '--dport', '9000', '-s', outside.hostAddress], ['iptables', '-w', '-A', 'INPUT', '-p', 'tcp', '--dport', '9000', '!', '-s', outside.hostAddress]])
      expect((await outside.run(...argv)).exitCode, `${argv.join(' ')} on the other machine`).toBe(0)
    const listener = outside.run(PROBE_PATH, 'listen:9000')
    try {
      await listening(listener, 'the other machine\'s listener on 9000')
      const run = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts, `connect:${outside.address}:9000`]))
      const reply = probeLines(String(run.stdout)).find((l) => 'reply' in l)?.reply
      if (reply !== 'ping\n') {
        const counts = String((await outside.run('iptables', '-w', '-L', 'INPUT', '-n', '-v', '-x')).stdout).split('\n').filter((l) => /dpt:9000/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]))
        const [fromHost = 0, fromElsewhere = 0] = counts
        let address = 'its address'
        try {
          address = addressIn(String(run.stdout))
        } catch { /* no hosts line: the run failed before */ }
        const got = [...probeLines(String(run.stdout)).filter((l) => !('cat' in l)).map((l) => JSON.stringify(l)), String(run.stderr).trim()].filter(Boolean).join('; ') || 'it said nothing'
        const seen = fromElsewhere > 0
          ? `the machine got ${fromElsewhere} packet(s) for port 9000 from an address other than the host's ${outside.hostAddress}, and has no route back to it: which source address does a container's packet carry when it leaves the host, and which one can the machine answer?`
          : fromHost > 0
            ? `the machine got ${fromHost} packet(s) from the host's ${outside.hostAddress} for port 9000 and answered them, but the connection never opened: the host forwarded the container's packets out; what happens to the answers on their way in, under a FORWARD policy of DROP?`
            : 'nothing arrived at the machine: did the host forward the container\'s packets at all, under a FORWARD policy of DROP?'
        expect.fail(`a container (${address}) connected to ${outside.address}:9000 on another machine, which listens there and knows no route to the containers' subnet (as no machine out there does), and got no answer (${got}); ${seen} ${SECTION}`)
      }
      const peer = probeLines(String((await listener).stdout)).find((l) => 'peer' in l)?.peer
      expect(peer, `the other machine saw the container's connection come from ${String(peer)}: from which address must it come, for the answer to find the way back? ${SECTION}`).toBe(outside.hostAddress)
    } finally {
      listener.kill('SIGKILL')
      await listener
    }
  })

  it('another machine routes to the containers through the host, to a port no -p published, FORWARD policy DROP', async () => {
    await forwardDrop()
    const outside = await outsideMachine(host(), '203.0.113', [['172.29.0.0/16', 'via', '203.0.113.1']])
    const run = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7001'])
    const address = addressIn(await printed(run, /"listening"/, 'the container listening on 7001'))
    const remote = await outside.run(PROBE_PATH, `connect:${address}:7001`)
    const reply = probeLines(String(remote.stdout)).find((l) => 'reply' in l)?.reply
    expect(reply, `another machine (${outside.address}), whose route to 172.29.0.0/16 goes through the host, connected straight to the container's ${address}:7001 and got an answer, though no -p published that port. Which packets going into the bridge does your FORWARD accept, and what tells a published port's packets from these? ${SECTION}`).toBeUndefined()
    // The container did listen: from the host itself (no forwarding on the way), 7001 answers.
    const local = await host().run([PROBE_PATH, `connect:${address}:7001`])
    expect(probeLines(String(local.stdout)).find((l) => 'reply' in l)?.reply, `the host could not reach the container's ${address}:7001 either: ${local.stdout}${local.stderr}`).toBe('ping\n')
    expect((await done(run)).exitCode, 'the container that answered the host').toBe(0)
  })
})

// The same machine beside a fresh host of its own: before the first run, it forwarded nothing.
describeKernel('the bridge and another machine, on a host that forwarded nothing before', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  it('another machine routes to the containers through the host, to a port no -p published, on a host that forwarded nothing before the first run', async () => {
    // A fresh host: ip_forward 0, and FORWARD's policy left at ACCEPT, as the kernel makes it:
    // nothing was forwarded, so nothing needed dropping. The first run turns forwarding on.
    // Made so here whatever a new network namespace inherits on this machine.
    for (const argv of [['sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward'], ['iptables', '-w', '-P', 'FORWARD', 'ACCEPT']])
      expect((await host().run(argv)).exitCode, `${argv.join(' ')} in the stand-in host`).toBe(0)
    const outside = await outsideMachine(host(), '203.0.114', [['172.29.0.0/16', 'via', '203.0.114.1']])
    const run = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7002'])
    const address = addressIn(await printed(run, /"listening"/, 'the container listening on 7002'))
    const remote = await outside.run('timeout', '10', PROBE_PATH, `connect:${address}:7002`)
    const reply = probeLines(String(remote.stdout)).find((l) => 'reply' in l)?.reply
    const forward = String((await host().run(['iptables', '-w', '-S', 'FORWARD'])).stdout).trim().split('\n').join('; ')
    expect(reply, `another machine (${outside.address}), whose route to 172.29.0.0/16 goes through the host, connected straight to the container's ${address}:7002 and got an answer, though no -p published that port. Before your first run this host forwarded nothing; your run turned forwarding on, and FORWARD now holds: ${forward}. What let it into the bridge? ${SECTION}`).toBeUndefined()
    const local = await host().run([PROBE_PATH, `connect:${address}:7002`])
    expect(probeLines(String(local.stdout)).find((l) => 'reply' in l)?.reply, `the host could not reach the container's ${address}:7002 either: ${local.stdout}${local.stderr}`).toBe('ping\n')
    expect((await done(run)).exitCode, 'the container that answered the host').toBe(0)
  })
})
