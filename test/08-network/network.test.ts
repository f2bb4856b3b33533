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

  it('connects two containers on the bridge that reach each other by address, each with only lo and eth0 and a MAC of its own', async () => {
    const server = host().minidocker(['run', 'probe', '/bin/probe', hosts, netdev, 'cat:/sys/class/net/eth0/address', 'listen:7000'])
    const before = await printed(server, /"listening"/, 'the listening container')
    const address = addressIn(before)
    expect(address, 'the first container on an empty bridge gets the subnet\'s first free address').toBe('172.29.0.2')
    const client = await done(host().minidocker(['run', 'probe', '/bin/probe', netdev, 'cat:/sys/class/net/eth0/address', `connect:${address}:7000`]))
    expect(client.exitCode, `the second container could not reach ${address}:7000: ${client.stderr} ${client.stdout}`).toBe(0)
    expect(probeLines(client.stdout).find((l) => 'reply' in l)?.reply, 'the TCP echo from one container to the other').toBe('ping\n')
    const served = await done(server)
    expect(interfaces(served.stdout), 'a container on the bridge has lo and eth0, nothing of the host\'s').toEqual(['eth0', 'lo'])
    expect(interfaces(client.stdout)).toEqual(['eth0', 'lo'])
    const macs = [served.stdout, client.stdout].map((out) => (probeLines(out).find((l) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}\n$/.test(String(l.cat)))?.cat as string).trim())
    expect(macs[0], `both containers' eth0 have MAC ${macs[0]}: the bridge cannot tell them apart — did you give every veth the same address?`).not.toBe(macs[1])
  })

  it('brings lo up in the container\'s namespace, with --network bridge and --network none, where the host is out of reach', async () => {
    for (const mode of ['bridge', 'none']) {
      const run = await done(host().minidocker(['run', '--network', mode, 'probe', '/bin/probe', netdev, 'cat:/sys/class/net/lo/flags']))
      const flags = probeLines(run.stdout).find((l) => /^0x/.test(String(l.cat)))?.cat
      // IFF_UP is bit 0 of the flags; without it, 127.0.0.1 is unreachable inside the container.
      expect(Number(flags) & 1, `--network ${mode}: lo's flags are ${String(flags ?? run.stderr).trim()}, without IFF_UP — did you bring lo up in the container's namespace?`).toBe(1)
      if (mode !== 'none') continue
      expect(interfaces(run.stdout), '--network none: a namespace of its own with only lo').toEqual(['lo'])
      const isolated = await done(host().minidocker(['run', '--network', 'none', 'probe', '/bin/probe', 'connect:172.29.0.1:7000']))
      const refused = probeLines(isolated.stdout).find((l) => l.step === 'connect')
      expect(refused?.errno, `--network none: the host's bridge address must be unreachable (ENETUNREACH), but saw ${refused?.errno ?? isolated.stdout} — is the container in a network namespace of its own?`).toBe('ENETUNREACH')
    }
  })

  it('shares the host\'s network namespace with --network host', async () => {
    const run = await done(host().minidocker(['run', '--network', 'host', 'probe', '/bin/probe', 'ns']))
    const ns = probeLines(run.stdout).find((l) => 'ns' in l)?.ns as Record<string, string> | undefined
    expect(ns?.net, `--network host: the container's net namespace must be the host's (${run.stderr})`).toBe(readlinkSync(`/proc/${host().pid}/ns/net`))
  })

  it('leaves nothing behind when the container ends: no proxy, no veth, no DNAT rule, no address', async () => {
    const run = await done(host().minidocker(['run', '-p', '8083:7000', '-p', '8083:7000/udp', 'probe', '/bin/probe', 'exit:0']))
    expect(run.exitCode, run.stderr).toBe(0)
    await expectNothingLeft()
  })

  it('gives concurrent runs distinct addresses and releases them at exit', async () => {
    // Started together, and each waits for a connection, so all three are alive at once
    // however slowly the machine starts them.
    const runs = [0, 1, 2].map(() => host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000']))
    const addresses = (await Promise.all(runs.map((run, i) => printed(run, /"listening"/, `container ${i + 1} of 3`)))).map(addressIn)
    expect(new Set(addresses).size, `three containers running at once got ${addresses.join(', ')} — is the allocation made under a lock?`).toBe(3)
    for (const address of addresses) await host().run([PROBE_PATH, `connect:${address}:7000`])
    for (const run of runs) {
      const result = await done(run)
      expect(result.exitCode, String(result.stderr)).toBe(0)
    }
    const after = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts]))
    expect(addressIn(after.stdout), 'once they have ended, their addresses are free again and the next run gets the first one — did you release the address when the container ended?').toBe('172.29.0.2')
  })

  it('reclaims the address of a run that was killed', async () => {
    const killed = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'sleep:60000'])
    expect(addressIn(await printed(killed, /localhost/, 'the container to kill'))).toBe('172.29.0.2')
    await host().killAll()
    const next = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts]))
    expect(addressIn(next.stdout), `the run holding 172.29.0.2 was killed with its container, so the address is free: ${next.stderr} — did you check whether each allocation's owner still runs?`).toBe('172.29.0.2')
  })

  it('refuses bad input with a clear error and creates nothing', async () => {
    const taken = host().run([PROBE_PATH, 'listen:8090'])
    void taken.catch(() => undefined)
    await new Promise((r) => setTimeout(r, 300))
    // The first port is published before the second fails: both must be undone.
    const busy = await done(host().minidocker(['run', '-p', '8091:7000', '-p', '8090:7000', 'probe', '/bin/probe', 'exit:0']))
    expect(busy.exitCode, 'a port already in use: docker run exits 125').toBe(125)
    expect(busy.stderr, 'the error names the port and why').toMatch(/8090.*(already allocated|in use)/)
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
    expect(left, 'processes still running in the host after the container ended — did you end each minidocker-proxy when the container ended?').toEqual([])
    const veths = (await host().run(['ip', '-o', 'link', 'show', 'type', 'veth'])).stdout
    expect(veths, 'a veth is left on the host — did you delete it when the container ended, or when a later step failed?').toBe('')
    const rules = (await host().run(['iptables', '-w', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout
    expect(rules, 'DNAT rules are left in the MINIDOCKER chain — did you delete each rule when the container ended, or when a later step failed?').not.toMatch(/DNAT/)
    const next = await done(host().minidocker(['run', 'probe', '/bin/probe', hosts]))
    expect(addressIn(next.stdout), `the first address is still taken after the container ended: ${next.stderr} — did you release it, also when a later step failed?`).toBe('172.29.0.2')
    // Every run, this one too, made the host's rules anew: none may be there twice.
    const saved = (await host().run(['iptables-save'])).stdout.split('\n').filter((line) => line.startsWith('-A '))
    expect(saved.length, 'iptables-save lists no rules in the host').toBeGreaterThan(0)
    const twice = saved.filter((line, i) => saved.indexOf(line) !== i)
    expect(twice, 'after several runs the host holds these rules twice — did you check whether a rule is there before adding it?').toEqual([])
  }
})
