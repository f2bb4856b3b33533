import { expect, it, vi } from 'vitest'
import { processStart, type PortMapping } from '../../lib/net.ts'
import { dnatRule, ownedRule } from '../../lib/publish.ts'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, deadOwner, done, hosts, natChain, plantRules, printed } from './support.ts'

const SECTION = '(see "Rules a killed run left")'
const bridge = { name: 'minidocker0', subnet: '172.29.0.0/16' }
const port = (hostPort: number): PortMapping => ({ hostIp: '0.0.0.0', hostPort, containerPort: 7000, proto: 'tcp' })

// Rules a run killed with SIGKILL left behind, swept by the next runs. Everything happens in
// the stand-in host: its MINIDOCKER chain is read with its own iptables, never the machine's.
describeKernel('stale DNAT rules', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 120_000 })

  const chain = () => natChain(host())
  /** A connection from the stand-in host to its bridge address's `hostPort`: what the container answered, if one did. */
  const connect = async (hostPort: number) => probeLines(String((await host().run([PROBE_PATH, `connect:172.29.0.1:${hostPort}`])).stdout)).find((l) => 'reply' in l)?.reply
  const plant = (rules: string[][]) => plantRules(host(), rules)

  it('a run with -p 8080:7000 killed with its container, then a run on its address, then one with -p 8080:7000', async () => {
    const killed = host().minidocker(['run', '-p', '8080:7000', 'probe', '/bin/probe', hosts, 'sleep:60000'])
    expect(addressIn(await printed(killed, /localhost/, 'the container to kill'))).toBe('172.29.0.2')
    const theirs = (await chain()).filter((line) => line.includes('DNAT'))
    expect(theirs.length, 'the run with -p 8080:7000 has no DNAT rule in MINIDOCKER (see "Published ports")').toBe(1)
    await host().killAll()

    const quiet = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000'])
    const address = addressIn(await printed(quiet, /"listening"/, 'the run without -p after the killed one'))
    expect(address, 'the killed run\'s address was not given again: its owner is dead (see "Addresses")').toBe('172.29.0.2')
    const left = (await chain()).filter((line) => theirs.includes(line))
    expect(left, `the next run got 172.29.0.2 and started its container, and the killed run's rule is still in MINIDOCKER: did that run sweep, and could it tell the rule's owner had died? ${SECTION}`).toEqual([])
    const stray = await connect(8080)
    expect(stray, `the host's port 8080 reached the container at 172.29.0.2, whose run never published it: a rule of the killed run still sends it there — whose is a rule, and who removes it when its run could not? ${SECTION}`).toBeUndefined()

    const third = host().minidocker(['run', '-p', '8080:7000', 'probe', '/bin/probe', hosts, 'listen:7000'])
    expect(addressIn(await printed(third, /"listening"/, 'the run with -p 8080:7000 beside the one without'))).toBe('172.29.0.3')
    expect(await connect(8080), `a connection to the host's 8080 got no answer from the run publishing it now, at 172.29.0.3; MINIDOCKER holds: ${(await chain()).join('; ')} ${SECTION}`).toBe('ping\n')
    const ended = await Promise.race([done(third).then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, 15_000, false))])
    expect(ended, `the host's 8080 answered, but not from the container at 172.29.0.3 that publishes it now: which rule matched first? MINIDOCKER holds: ${(await chain()).join('; ')} ${SECTION}`).toBe(true)
  })

  it('rules of a live owner, of a live PID with another start time, and of an ended process, then a run', async () => {
    const me = { pid: process.pid, start: processStart(process.pid)! }
    // What a reused PID looks like: the PID runs, but it is not the process that started then.
    const reused = { pid: process.pid, start: String(Number(me.start) - 1) }
    const dead = await deadOwner()
    const rules = [ownedRule(dnatRule(port(8091), bridge, '172.29.9.1'), reused), ownedRule(dnatRule(port(8092), bridge, '172.29.9.2'), dead), ownedRule(dnatRule(port(8093), bridge, '172.29.9.3'), me)]
    await plant(rules)
    const [ofReused, ofDead, ofMine] = await chain()
    expect([ofReused, ofDead, ofMine].every(Boolean), 'the chain holds the three rules just added').toBe(true)
    const run = await done(host().minidocker(['run', 'probe', '/bin/probe', 'exit:0']))
    expect(run.exitCode, `a run on the bridge with those three rules in MINIDOCKER failed: ${run.stderr} ${SECTION}`).toBe(0)
    const after = await chain()
    expect([ofReused, ofDead, ofMine].some((line) => after.includes(line!)), `after one run on the bridge, MINIDOCKER holds none of the three rules planted in it, the live owner's neither: what did the run do to a chain that other runs' rules were in? (see "Published ports")`).toBe(true)
    expect(after, `the rule marked with this test's own process (PID ${me.pid}, started at ${me.start}, running) was gone after the run: what did the run delete, and how did it name what it deleted? ${SECTION}`).toContain(ofMine)
    expect(after, `a rule marked with PID ${reused.pid} and start time ${reused.start} was kept after the run; PID ${reused.pid} runs now, started at ${me.start}. Whose rule was it? ${SECTION}`).not.toContain(ofReused)
    expect(after, `the rule of process ${dead.pid}, which has ended, was kept ${SECTION}`).not.toContain(ofDead)
  })
})
