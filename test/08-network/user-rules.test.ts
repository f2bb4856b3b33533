import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { done, outsideMachine, printed } from './support.ts'

const SECTION = '(see "Published ports")'

// The administrator's own rules about containers, in MINIDOCKER-USER as Docker's documentation
// tells them to put theirs in DOCKER-USER: made by the first run, filled in by them, and met by a
// second run.
describeKernel('the administrator\'s rules in MINIDOCKER-USER', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  it('the administrator\'s rules in MINIDOCKER-USER, added after a first run, decide for a second run\'s published port', async () => {
    expect((await host().run(['iptables', '-w', '-P', 'FORWARD', 'DROP'])).exitCode, 'iptables -P FORWARD DROP in the stand-in host').toBe(0)
    const outside = await outsideMachine(host(), '198.19.0')
    const filter = async () => String((await host().run(['iptables', '-w', '-S'])).stdout).trim().split('\n').filter((l) => l.startsWith('-A ')).join('; ')
    /** The other machine connects to the host's `port`: the reply it got, if any, within 10 s. */
    const reach = async (port: number) => {
      const out = await outside.run('timeout', '10', PROBE_PATH, `connect:${outside.hostAddress}:${port}`)
      return probeLines(String(out.stdout)).find((l) => 'reply' in l)?.reply
    }

    const first = host().minidocker(['run', '-p', '8086:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(first, /"listening"/, 'the first container, behind -p 8086:7000')
    expect(await reach(8086), `another machine connected to the host's port 8086, published by a first run, and got no answer; the filter table holds: ${await filter()} ${SECTION}`).toBe('ping\n')
    expect((await done(first)).exitCode, 'the first container, behind -p 8086:7000').toBe(0)

    // What an administrator adds: the other machine may not reach any container.
    const rule = ['iptables', '-w', '-I', 'MINIDOCKER-USER', '-s', outside.address, '-j', 'DROP']
    const added = await host().run(rule)
    expect(added.exitCode, `after a first run, the administrator's \`${rule.join(' ')}\` failed (${String(added.stderr).trim()}); the filter table holds: ${await filter()}. Where do the host's own rules about containers go, so that they decide before yours? (What is Docker's DOCKER-USER for?) ${SECTION}`).toBe(0)

    const second = host().minidocker(['run', '-p', '8087:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(second, /"listening"/, 'the second container, behind -p 8087:7000')
    const got = await reach(8087)
    const user = String((await host().run(['iptables', '-w', '-S', 'MINIDOCKER-USER'])).stdout).trim().split('\n').join('; ')
    expect(got, `the administrator inserted \`-s ${outside.address} -j DROP\` into MINIDOCKER-USER after a first run, and that machine still reached the port a second run published (${String(got).trim()}). MINIDOCKER-USER now holds: ${user}; the filter table: ${await filter()}. What decided for that machine's packets, and where were the administrator's rules then? ${SECTION}`).toBeUndefined()
    // Nothing got through, and not because the container was gone: the host itself reaches it (through the proxy).
    const local = await host().run([PROBE_PATH, 'connect:127.0.0.1:8087'])
    expect(probeLines(String(local.stdout)).find((l) => 'reply' in l)?.reply, `the second container, behind -p 8087:7000, did not answer the host itself: ${String(local.stdout).trim()}`).toBe('ping\n')
    expect((await done(second)).exitCode, 'the second container, behind -p 8087:7000').toBe(0)

    const lines = String((await host().run(['iptables', '-w', '-S'])).stdout).trim().split('\n')
    const twice = lines.filter((line, i) => lines.indexOf(line) !== i)
    expect(twice, `after two runs the filter table holds these rules twice: who adds a rule that is there already? ${SECTION}`).toEqual([])
  })
})
