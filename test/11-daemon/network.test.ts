/**
 * minidockerd's bridge and published ports (chapter 08's network code), driven by the real
 * docker CLIs. The daemon runs in a stand-in host's network namespace (test/support/netns.ts):
 * its bridge, veths, iptables rules and proxies are made there, never in the machine's own.
 * The image is pulled first by a daemon in this namespace (the stand-in cannot reach the
 * loopback registry), which then gives its data root to the one in the stand-in.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import {
  docker, imageRegistry, removeDir, startContainerd, startMinidockerd,
  type Cli, type Containerd, type Dockerd,
} from '../support/daemon.ts'
import { pushImage, type Registry } from '../support/registry.ts'
import { buildImage, probeEntries } from '../support/images.ts'

describeKernel('minidockerd with a bridge and published ports', () => {
  const host = useStandInHost()
  let dir: string
  let containerd: Containerd
  let registry: Registry
  let daemon: Dockerd | undefined
  let probe: string
  /** the probe with EXPOSE 7000, for -P */
  let exposing: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-net-'))
    containerd = await startContainerd(join(dir, 'containerd'))
    registry = await imageRegistry()
    await pushImage(registry, 'exposing', 'latest', await buildImage([probeEntries()], { config: { ExposedPorts: { '7000/tcp': {} } } }))
    probe = `${registry.host}/probe`
    exposing = `${registry.host}/exposing`
  }, 180_000)

  afterAll(async () => {
    await daemon?.stop()
    await containerd?.stop()
    await registry?.stop()
    if (dir) removeDir(dir)
  }, 120_000)

  let pulled = false
  /** The daemon in the stand-in (stopped after each test; a second call restarts it), once the images are in its store. */
  async function standInDaemon(): Promise<void> {
    await daemon?.stop()
    if (!pulled) {
      const puller = await startMinidockerd(join(dir, 'daemon'), containerd)
      try {
        for (const image of [probe, exposing]) {
          const pull = await docker('28.2.2', puller.host, ['pull', image], { timeout: 60_000 })
          expect(pull.exitCode, `docker pull ${image}: ${pull.stderr}`).toBe(0)
        }
        pulled = true
      } finally {
        await puller.stop()
      }
    }
    daemon = await startMinidockerd(join(dir, 'daemon'), containerd, { netns: host().pid })
  }

  const run = (cli: Cli, args: string[]) => docker(cli, daemon!.host, args, { timeout: 30_000 })

  /** Wait until the container's log has the probe's "listening" line. */
  async function listening(cli: Cli, name: string): Promise<void> {
    const deadline = Date.now() + 20_000
    for (;;) {
      const logs = await run(cli, ['logs', name])
      if (/"listening"/.test(logs.stdout)) return
      if (Date.now() > deadline) throw new Error(`${name} never printed "listening": logs ${JSON.stringify(logs.stdout + logs.stderr)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  it('run -d -p 127.0.0.1:8080:7000 from each CLI in turn, and a second -p 127.0.0.1:8080:7000 meanwhile', async () => {
    await standInDaemon()
    for (const cli of ['28.2.2', '20.10'] as const) {
      const name = `web-${cli.replace(/\./g, '')}`
      const started = await run(cli, ['run', '-d', '--name', name, '-p', '127.0.0.1:8080:7000', probe, '/probe', 'listen:7000'])
      const after = cli === '20.10' ? ', after the first container on that port has exited and been removed — what does a container\'s exit leave behind, and when (the text\'s "Attach, wait and the exit")?' : ''
      expect(started.exitCode, `${cli}: docker run -d -p 127.0.0.1:8080:7000 must start${after}: ${started.stderr}`).toBe(0)
      await listening(cli, name)

      const ps = await run(cli, ['ps', '--format', '{{.Names}} {{.Ports}}'])
      expect(ps.stdout, `${cli}: docker ps: expected the published port as dockerd shows it`).toBe(`${name} 127.0.0.1:8080->7000/tcp\n`)

      const taken = await run(cli, ['run', '--rm', '--name', `${name}-2`, '-p', '127.0.0.1:8080:7000', probe, '/probe', 'listen:7000'])
      expect(taken.exitCode, `${cli}: a second -p 127.0.0.1:8080: expected dockerd's exit code: ${taken.stderr}`).toBe(125)
      expect(taken.stderr, `${cli}: a second -p 127.0.0.1:8080: expected dockerd's words`).toMatch(
        new RegExp(`Error response from daemon: driver failed programming external connectivity on endpoint ${name}-2 \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:8080 failed: port is already allocated`))

      const reply = await host().run([PROBE_PATH, 'connect:127.0.0.1:8080'])
      expect(probeLines(String(reply.stdout)).find((l) => 'reply' in l)?.reply, `${cli}: a connection to 127.0.0.1:8080 in the daemon's namespace: expected the container's reply: ${reply.stdout}${reply.stderr}`).toBe('ping\n')
      const waited = await run(cli, ['wait', name])
      expect(waited.stdout, `${cli}: docker wait: expected the probe's exit code after its one connection`).toBe('0\n')
      expect((await run(cli, ['rm', name])).exitCode).toBe(0)
    }
    // every veth went with its container: the stand-in has lo and the bridge left
    const links = await host().run(['ip', '-o', 'link', 'show'])
    expect(String(links.stdout).split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]).sort(), 'links left in the daemon\'s namespace').toEqual(['lo', 'minidocker0'])
  }, 120_000)

  it('run --network bridge of cat /sys/class/net/eth0/address', async () => {
    await standInDaemon()
    const bridged = await run('28.2.2', ['run', '--rm', '--network', 'bridge', probe, '/probe', 'cat:/sys/class/net/eth0/address'])
    expect(bridged.exitCode, bridged.stderr).toBe(0)
    expect(bridged.stdout, 'eth0\'s MAC: expected the kind dockerd gives (chapter 08)').toMatch(/02:42:ac:1d:/)
  }, 60_000)

  /** What the probe's `cat:PATH` read in the running container NAME. */
  async function catIn(name: string, path: string): Promise<string> {
    const read = await run('28.2.2', ['exec', name, '/probe', `cat:${path}`])
    expect(read.exitCode, `docker exec ${name} /probe cat:${path}: ${read.stderr}`).toBe(0)
    return String(probeLines(read.stdout).find((l) => 'cat' in l)?.cat)
  }

  /** The reply of the container behind 127.0.0.1:PORT in the daemon's namespace. */
  async function reply(port: string): Promise<unknown> {
    const connected = await host().run([PROBE_PATH, `connect:127.0.0.1:${port}`])
    return probeLines(String(connected.stdout)).find((l) => 'reply' in l)?.reply
  }

  it('inspect and /etc/hosts of a bridged container', async () => {
    await standInDaemon()
    const started = await run('28.2.2', ['run', '-d', '--name', 'inspected', '-h', 'inspected-host', probe, '/probe', 'listen:7000'])
    expect(started.exitCode, started.stderr).toBe(0)
    await listening('28.2.2', 'inspected')
    for (const cli of ['28.2.2', '20.10'] as const) {
      const inspect = await run(cli, ['inspect', '-f', '{{json .NetworkSettings}}', 'inspected'])
      expect(inspect.exitCode, inspect.stderr).toBe(0)
      const settings = JSON.parse(inspect.stdout) as Record<string, unknown> & { Networks: Record<string, Record<string, unknown>> }
      const ip = { IPAddress: settings.IPAddress, Gateway: settings.Gateway, IPPrefixLen: settings.IPPrefixLen, MacAddress: settings.MacAddress }
      expect(ip.IPAddress, `${cli}: NetworkSettings.IPAddress of a bridged container: ${inspect.stdout}`).toMatch(/^172\.29\.\d+\.\d+$/)
      const [, , c, d] = String(ip.IPAddress).split('.').map(Number)
      const mac = ['02', '42', 'ac', '1d', c, d].map((x) => (typeof x === 'number' ? x.toString(16).padStart(2, '0') : x)).join(':')
      expect(ip, `${cli}: docker inspect: expected the gateway, prefix and MAC dockerd gives (chapter 08)`).toEqual({ IPAddress: ip.IPAddress, Gateway: '172.29.0.1', IPPrefixLen: 16, MacAddress: mac })
      expect(Object.keys(settings.Networks), `${cli}: dockerd keys the default network "bridge"`).toEqual(['bridge'])
      expect(settings.Networks.bridge, `${cli}: Networks.bridge repeats the address`).toMatchObject(ip)
      expect(settings.Ports, `${cli}: nothing published`).toEqual({})
      const ipOnly = await run(cli, ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'inspected'])
      expect(ipOnly.stdout, `${cli}: the usual template for a container's address`).toBe(`${ip.IPAddress}\n`)
    }
    const ip = (await run('28.2.2', ['inspect', '-f', '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.MacAddress}}', 'inspected'])).stdout.trim().split(' ')
    // the container's own view: its eth0's MAC, its local addresses (as `ip addr` reads them), its hosts file
    expect(await catIn('inspected', '/sys/class/net/eth0/address')).toBe(`${ip[1]}\n`)
    expect(await catIn('inspected', '/proc/net/fib_trie'), 'the container\'s kernel has the address inspect gives').toContain(`|-- ${ip[0]}\n`)
    expect((await catIn('inspected', '/etc/hosts')).split('\n'), '/etc/hosts of a bridged container: expected the line dockerd writes for its hostname').toContain(`${ip[0]}\tinspected-host`)
    const rm = await run('28.2.2', ['rm', '-f', 'inspected'])
    expect(rm.exitCode, rm.stderr).toBe(0)
  }, 90_000)

  it('-p 7000 and -P, then a restart of the daemon', async () => {
    await standInDaemon()
    const [low, high] = String((await host().run(['cat', '/proc/sys/net/ipv4/ip_local_port_range'])).stdout).trim().split(/\s+/).map(Number)
    const published: Record<string, string> = {}
    for (const [name, args] of [['chosen', ['-p', '7000', probe]], ['exposed', ['-P', exposing]]] as const) {
      const started = await run('28.2.2', ['run', '-d', '--name', name, ...args, '/probe', 'listen:7000'])
      expect(started.exitCode, `docker run ${args.join(' ')}: ${started.stderr}`).toBe(0)
      await listening('28.2.2', name)
      for (const cli of ['28.2.2', '20.10'] as const) {
        const port = await run(cli, ['port', name])
        expect(port.stdout, `${cli}: docker port ${name} after ${args[0]}: ${port.stderr}`).toMatch(/^7000\/tcp -> 0\.0\.0\.0:\d+\n$/)
        published[name] = port.stdout.trim().split(':').at(-1)!
        const ps = await run(cli, ['ps', '--filter', `name=${name}`, '--format', '{{.Ports}}'])
        expect(ps.stdout, `${cli}: docker ps shows the port chosen`).toBe(`0.0.0.0:${published[name]}->7000/tcp\n`)
      }
      expect(Number(published[name]), `the port is from the kernel's ephemeral range ${low}-${high}`).toBeGreaterThanOrEqual(low!)
      expect(Number(published[name])).toBeLessThanOrEqual(high!)
    }
    expect(published.chosen, 'two containers, two ports').not.toBe(published.exposed)
    expect(await reply(published.chosen!), '-p 7000 reaches the container').toBe('ping\n')
    expect((await run('28.2.2', ['wait', 'chosen'])).stdout).toBe('0\n')

    // the daemon goes and comes back: its proxies went with it, its rules stayed
    await standInDaemon()
    const rules = async () => String((await host().run(['iptables', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout).split('\n').filter((l) => l.includes('DNAT'))
    expect(await rules(), 'DNAT rules after the restart: expected those of the running container, once').toEqual([expect.stringContaining(`--dport ${published.exposed}`)])
    const ps = await run('28.2.2', ['ps', '--format', '{{.Names}} {{.Ports}}'])
    expect(ps.stdout, 'the restarted daemon lists the port').toBe(`exposed 0.0.0.0:${published.exposed}->7000/tcp\n`)
    expect(await reply(published.exposed!), 'the published port after the daemon\'s restart: expected the container\'s reply').toBe('ping\n')
    expect((await run('28.2.2', ['wait', 'exposed'])).stdout).toBe('0\n')
    expect(await rules(), 'DNAT rules after its exit: expected none').toEqual([])
    expect((await run('28.2.2', ['rm', 'chosen', 'exposed'])).exitCode).toBe(0)
  }, 120_000)
})
