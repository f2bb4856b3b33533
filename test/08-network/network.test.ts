import { readlinkSync } from 'node:fs'
import { expect, it, vi } from 'vitest'
import { NotImplementedError } from '../../lib/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'

type Run = ReturnType<ReturnType<ReturnType<typeof useStandInHost>>['minidocker']>

/** A starter's step, named by minidocker's stderr ("not written yet", or the note it ran without chapter 08). */
function unwritten(stderr: string): NotImplementedError | undefined {
  const missing = /(\w+)\(\) is not written yet: follow the TODO in it, in chapters\/08-network\//.exec(stderr)
  if (missing) return new NotImplementedError('08-network', missing[1]!)
  if (/chapter 08-network is not done yet/.test(stderr)) return new NotImplementedError('08-network', 'attachNetwork')
  return undefined
}

/** The run's result once it has ended; a starter's NotImplementedError is thrown as such. */
async function done(run: Run): Promise<Awaited<Run>> {
  const result = await run
  const error = unwritten(String(result.stderr))
  if (error) throw error
  return result
}

/** Resolve once `run` has printed a line matching `pattern`; fail with what it said if it ends first. */
async function printed(run: Run, pattern: RegExp, what: string): Promise<string> {
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matching ${pattern} within 60 s; it printed: ${out}`)), 60_000)
    run.stderr!.on('data', (chunk: Buffer) => {
      const error = unwritten(chunk.toString())
      if (error) clearTimeout(timer), reject(error)
    })
    run.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (pattern.test(out)) clearTimeout(timer), resolve(out)
    })
    void run.then((result) => {
      clearTimeout(timer)
      reject(unwritten(String(result.stderr)) ?? new Error(`${what}: minidocker exited (${result.exitCode}) before printing ${pattern}: ${result.stderr || result.stdout}`))
    })
  })
}

/** The container's address: the last line of its /etc/hosts, as the probe printed it. */
function addressIn(stdout: string): string {
  const hosts = probeLines(stdout).find((l) => typeof l.cat === 'string' && (l.cat as string).includes('localhost'))?.cat as string | undefined
  const address = hosts?.trim().split('\n').at(-1)?.split('\t')[0]
  if (!address || !/^\d+\.\d+\.\d+\.\d+$/.test(address)) throw new Error(`the container's /etc/hosts names no address for it: ${hosts ?? stdout}`)
  return address
}

/** The interfaces /proc/net/dev lists, as the probe printed it. */
function interfaces(stdout: string): string[] {
  const dev = probeLines(stdout).find((l) => typeof l.cat === 'string' && (l.cat as string).startsWith('Inter-'))?.cat as string
  return dev.split('\n').slice(2).filter(Boolean).map((line) => line.split(':')[0]!.trim()).sort()
}

const hosts = 'cat:/etc/hosts'
const netdev = 'cat:/proc/net/dev'

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

  it('publishes a TCP port on 127.0.0.1 through the proxy and to outside the host through DNAT', async () => {
    // An outside machine: a namespace of its own, wired to the stand-in host on 192.0.2.0/24.
    const outside = startHelper()
    await outside.unshare(['network'])
    const inOutside = (...argv: string[]) => host().run(['nsenter', `--net=/proc/${outside.pid}/ns/net`, '--', ...argv])
    for (const argv of [['ip', 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1'], ['ip', 'link', 'set', 'ext1', 'netns', String(outside.pid)], ['ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'ext0'], ['ip', 'link', 'set', 'ext0', 'up']])
      expect((await host().run(argv)).exitCode, argv.join(' ')).toBe(0)
    for (const argv of [['ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'ext1'], ['ip', 'link', 'set', 'ext1', 'up'], ['ip', 'route', 'add', 'default', 'via', '192.0.2.1']])
      expect((await inOutside(...argv)).exitCode, argv.join(' ')).toBe(0)

    const viaProxy = host().minidocker(['run', '-p', '8080:7000', 'probe', '/bin/probe', hosts, 'listen:7000'])
    const gateway = addressIn(await printed(viaProxy, /"listening"/, 'the container behind -p 8080:7000')).replace(/\.\d+$/, '.1')
    const local = await host().run([PROBE_PATH, 'connect:127.0.0.1:8080'])
    expect(probeLines(local.stdout).find((l) => 'reply' in l)?.reply, `the host's 127.0.0.1:8080 must reach the container: ${local.stdout} — is a minidocker-proxy listening?`).toBe('ping\n')
    expect(probeLines((await done(viaProxy)).stdout).find((l) => 'peer' in l)?.peer, 'from loopback, the proxy connects: the container sees the bridge\'s address').toBe(gateway)

    const viaDnat = host().minidocker(['run', '-p', '8081:7000', 'probe', '/bin/probe', 'listen:7000'])
    await printed(viaDnat, /"listening"/, 'the container behind -p 8081:7000')
    const remote = await inOutside(PROBE_PATH, 'connect:192.0.2.1:8081')
    expect(probeLines(remote.stdout).find((l) => 'reply' in l)?.reply, `a client outside the host could not reach 192.0.2.1:8081: ${remote.stdout} — is net.ipv4.ip_forward on in the host's namespace, so DNAT'ed packets are forwarded to the bridge?`).toBe('ping\n')
    const peer = probeLines((await done(viaDnat)).stdout).find((l) => 'peer' in l)?.peer
    expect(peer, `the container saw the connection from ${String(peer)}, not from the outside client 192.0.2.2: it came through the proxy — did you add the DNAT rule for traffic arriving from outside (PREROUTING)?`).toBe('192.0.2.2')
  })

  it('publishes a UDP port', async () => {
    const server = host().minidocker(['run', '-p', '127.0.0.1:8082:7001/udp', 'probe', '/bin/probe', 'udp-echo:7001'])
    await printed(server, /"listening"/, 'the container behind -p 127.0.0.1:8082:7001/udp')
    const client = await host().run([PROBE_PATH, 'udp:127.0.0.1:8082'])
    expect(probeLines(client.stdout).find((l) => 'reply' in l)?.reply, `a datagram to 127.0.0.1:8082 got no answer: ${client.stdout} — does the proxy send each reply back to the client it answers?`).toBe('ping\n')
    expect((await done(server)).exitCode).toBe(0)
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
  }
})
