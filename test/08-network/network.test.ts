import { readlinkSync } from 'node:fs'
import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, interfaces, netdev, printed } from './support.ts'

describeKernel('the container network', () => {
  const host = useStandInHost()
  // A test here runs minidocker up to six times, a second each on a busy machine and ten in the
  // VM test's emulated guest.
  vi.setConfig({ testTimeout: 180_000 })

  it('two containers on the bridge, the second connecting to the first\'s port 7000', async () => {
    const server = host().minidocker(['run', 'probe', '/bin/probe', hosts, netdev, 'cat:/sys/class/net/eth0/address', 'listen:7000'])
    const before = await printed(server, /"listening"/, 'the listening container')
    const address = addressIn(before)
    expect(address, 'the first container on an empty bridge got another address than the subnet\'s first free one').toBe('172.29.0.2')
    const client = await done(host().minidocker(['run', 'probe', '/bin/probe', netdev, 'cat:/sys/class/net/eth0/address', `connect:${address}:7000`]))
    expect(client.exitCode, `the second container could not reach ${address}:7000: ${client.stderr} ${client.stdout}`).toBe(0)
    expect(probeLines(client.stdout).find((l) => 'reply' in l)?.reply, 'expected the TCP echo from one container to the other').toBe('ping\n')
    const served = await done(server)
    expect(interfaces(served.stdout), 'the interfaces the first container sees (see "A veth pair")').toEqual(['eth0', 'lo'])
    expect(interfaces(client.stdout), 'the interfaces the second container sees (see "A veth pair")').toEqual(['eth0', 'lo'])
    const macs = [served.stdout, client.stdout].map((out) => (probeLines(out).find((l) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}\n$/.test(String(l.cat)))?.cat as string).trim())
    expect(macs[0], `both containers' eth0 have MAC ${macs[0]}: what does a bridge learn from the frames it sees? (see "A veth pair")`).not.toBe(macs[1])
  })

  it('runs with --network bridge and --network none: lo\'s flags, and the host\'s bridge address from none', async () => {
    for (const mode of ['bridge', 'none']) {
      const run = await done(host().minidocker(['run', '--network', mode, 'probe', '/bin/probe', netdev, 'cat:/sys/class/net/lo/flags']))
      const flags = probeLines(run.stdout).find((l) => /^0x/.test(String(l.cat)))?.cat
      // IFF_UP is bit 0 of the flags; without it, 127.0.0.1 is unreachable inside the container.
      expect(Number(flags) & 1, `--network ${mode}: lo's flags are ${String(flags ?? run.stderr).trim()}, without IFF_UP: what state is a new namespace's lo in? (see "--network none and host")`).toBe(1)
      if (mode !== 'none') continue
      expect(interfaces(run.stdout), '--network none: the interfaces the container sees (see "--network none and host")').toEqual(['lo'])
      const isolated = await done(host().minidocker(['run', '--network', 'none', 'probe', '/bin/probe', 'connect:172.29.0.1:7000']))
      const refused = probeLines(isolated.stdout).find((l) => l.step === 'connect')
      expect(refused?.errno, `--network none: connecting to the host's bridge address gave ${refused?.errno ?? isolated.stdout}, not ENETUNREACH — which network namespace is the container in?`).toBe('ENETUNREACH')
    }
  })

  it('a run with --network host', async () => {
    const run = await done(host().minidocker(['run', '--network', 'host', 'probe', '/bin/probe', 'ns']))
    const ns = probeLines(run.stdout).find((l) => 'ns' in l)?.ns as Record<string, string> | undefined
    expect(ns?.net, `--network host: the container's net namespace, against the host's (${run.stderr})`).toBe(readlinkSync(`/proc/${host().pid}/ns/net`))
  })

  it('a run with -p 8083:7000 and -p 8083:7000/udp whose container exits at once', async () => {
    const run = await done(host().minidocker(['run', '-p', '8083:7000', '-p', '8083:7000/udp', 'probe', '/bin/probe', 'exit:0']))
    expect(run.exitCode, run.stderr).toBe(0)
    await expectNothingLeft()
  })

  it('three runs at once, then a fourth after they end', async () => {
    // Started together, and each waits for a connection, so all three are alive at once
    // however slowly the machine starts them.
    const runs = [0, 1, 2].map(() => host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000']))
    const addresses = (await Promise.all(runs.map((run, i) => printed(run, /"listening"/, `container ${i + 1} of 3`)))).map(addressIn)
    expect(new Set(addresses).size, `three containers running at once got ${addresses.join(', ')} (see "Addresses")`).toBe(3)
    for (const address of addresses) await host().run([PROBE_PATH, `connect:${address}:7000`])
    for (const run of runs) {
      const result = await done(run)
      expect(result.exitCode, String(result.stderr)).toBe(0)
    }
    const after = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts]))
    expect(addressIn(after.stdout), 'the three had ended, and the next run got another address than the subnet\'s first (see "Putting it together")').toBe('172.29.0.2')
  })

  it('a run killed with its container, then another run', async () => {
    const killed = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'sleep:60000'])
    expect(addressIn(await printed(killed, /localhost/, 'the container to kill'))).toBe('172.29.0.2')
    await host().killAll()
    const next = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts]))
    expect(addressIn(next.stdout), `the run holding 172.29.0.2 was killed with its container, and the next run got another address: ${next.stderr} (see "Addresses")`).toBe('172.29.0.2')
  })

  it('runs with -p of a port the host already listens on, of a port out of range, and of sctp', async () => {
    const taken = host().run([PROBE_PATH, 'listen:8090'])
    void taken.catch(() => undefined)
    await new Promise((r) => setTimeout(r, 300))
    // The first port is published before the second fails: both must be undone.
    const busy = await done(host().minidocker(['run', '-p', '8091:7000', '-p', '8090:7000', 'probe', '/bin/probe', 'exit:0']))
    expect(busy.exitCode, '-p 8090:7000, with 8090 taken on the host: docker run\'s exit code for an error of its own').toBe(125)
    expect(busy.stderr, 'expected the error to name the port and why (see "Published ports")').toMatch(/8090.*(already allocated|in use)/)
    for (const [flag, why] of [['70000:80', /out of range/], ['80:80/sctp', /sctp/]] as const) {
      const bad = await done(host().minidocker(['run', '-p', flag, 'probe', '/bin/probe', 'exit:0']))
      expect(bad.exitCode, `-p ${flag}`).toBe(125)
      expect(bad.stderr, `-p ${flag}`).toMatch(why)
    }
    await expectNothingLeft()
  })

  /** No minidocker-proxy, no veth, no DNAT rule in the stand-in, and the first address free. */
  async function expectNothingLeft(): Promise<void> {
    const left = host().processes().map((pid) => { try { return readlinkSync(`/proc/${pid}/exe`) + ' ' + pid } catch { return '' } }).filter((p) => p && !p.includes('probe'))
    expect(left, 'processes still running in the host after the container ended: what ends a minidocker-proxy? (see "Published ports")').toEqual([])
    const veths = (await host().run(['ip', '-o', 'link', 'show', 'type', 'veth'])).stdout
    expect(veths, 'a veth is left on the host after the run ended (see "Putting it together")').toBe('')
    const rules = (await host().run(['iptables', '-w', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout
    expect(rules, 'DNAT rules are left in the MINIDOCKER chain after the run ended (see "Putting it together")').not.toMatch(/DNAT/)
    const next = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts]))
    expect(addressIn(next.stdout), `the first address is still taken after the run ended: ${next.stderr} (see "Putting it together")`).toBe('172.29.0.2')
    // Every run, this one too, made the host's rules anew: none may be there twice.
    const saved = (await host().run(['iptables-save'])).stdout.split('\n').filter((line) => line.startsWith('-A '))
    expect(saved.length, 'iptables-save lists no rules in the host').toBeGreaterThan(0)
    const twice = saved.filter((line, i) => saved.indexOf(line) !== i)
    expect(twice, 'after several runs the host holds these rules twice: how does a run know a rule is there already? (iptables(8), COMMANDS; see "Published ports")').toEqual([])
  }
})
