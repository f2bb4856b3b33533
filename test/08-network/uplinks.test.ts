import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, listening, outsideMachine, printed } from './support.ts'

const SECTION = '(see "Published ports")'

// A host whose links change under its rules: a first run while it has one link to other
// machines, then a second link comes up and later runs use it, both ways.
describeKernel('a host with a second link', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  /** The rules the stand-in holds now, as iptables-save prints them. */
  const rules = async () => String((await host().run(['iptables-save'])).stdout).split('\n').filter((l) => l.startsWith('-A ')).join('; ')
  /** What a probe printed besides its /etc files, for a message. */
  const said = (result: { stdout: unknown; stderr: unknown }) =>
    [...probeLines(String(result.stdout)).filter((l) => !('cat' in l)).map((l) => JSON.stringify(l)), String(result.stderr).trim().replace(/\s*\n\s*/g, ' | ')].filter(Boolean).join('; ') || 'it said nothing'

  /** A run whose container connects to `machine`'s port `port`; the reply it got, and the run. */
  async function reachOut(machine: Awaited<ReturnType<typeof outsideMachine>>, port: number) {
    const listener = machine.run(PROBE_PATH, `listen:${port}`)
    try {
      await listening(listener, `the listener on ${machine.address}:${port}`)
      const run = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts, `connect:${machine.address}:${port}`]))
      return { run, reply: probeLines(String(run.stdout)).find((l) => 'reply' in l)?.reply }
    } finally {
      listener.kill('SIGKILL')
      await listener
    }
  }

  it('a run while the host has one link to other machines, then a second link comes up: a container connects to a machine on it, which then connects to the host\'s -p 8088:7000, FORWARD policy DROP', async () => {
    expect((await host().run(['iptables', '-w', '-P', 'FORWARD', 'DROP'])).exitCode, 'iptables -P FORWARD DROP in the stand-in host').toBe(0)
    // Neither machine knows a route to 172.29.0.0/16, as no machine out there does.
    const near = await outsideMachine(host(), '198.51.100')
    const before = await reachOut(near, 9000)
    expect(before.reply, `a container connected to ${near.address}:9000, on the host's only link to other machines, and got no answer (${said(before.run)}) ${SECTION}`).toBe('ping\n')

    const far = await outsideMachine(host(), '203.0.113')
    const after = await reachOut(far, 9001)
    let address = 'its address'
    try {
      address = addressIn(String(after.run.stdout))
    } catch { /* no hosts line: the run failed before */ }
    expect(after.reply, `a container (${address}) connected to ${far.address}:9001 and got no answer (${said(after.run)}). That machine is on a link the host brought up after its first run; the same connection to ${near.address}, on the link the host had then, had worked. The host's rules: ${await rules()}. Which of them did a packet for the new link meet, and what did each of your rules know of the host's links when it was made? ${SECTION}`).toBe('ping\n')

    const published = host().minidocker(['run', '-p', '8088:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(published, /"listening"/, 'the container behind -p 8088:7000')
    const remote = await far.run(PROBE_PATH, `connect:${far.hostAddress}:8088`)
    expect(probeLines(String(remote.stdout)).find((l) => 'reply' in l)?.reply, `the machine on the host's second link (${far.address}) connected to the host's ${far.hostAddress}:8088, published with -p 8088:7000, and got no answer (${said(remote)}). The host's rules: ${await rules()} ${SECTION}`).toBe('ping\n')
    const peer = probeLines(String((await done(published)).stdout)).find((l) => 'peer' in l)?.peer
    expect(peer, `the container behind -p 8088:7000 saw the connection of ${far.address}, on the host's second link, come from ${String(peer)}: it came through the proxy, not a DNAT rule. Which packets for 8088 does your rule rewrite, and on which of the host's links and addresses? ${SECTION}`).toBe(far.address)
  })
})
