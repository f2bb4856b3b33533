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
  docker, imageRegistry, removeDaemonCgroups, removeDir, startContainerd, startMinidockerd,
  type Cli, type Containerd, type Dockerd,
} from '../support/daemon.ts'
import type { Registry } from '../support/registry.ts'

describeKernel('minidockerd with a bridge and published ports', () => {
  const host = useStandInHost()
  let dir: string
  let containerd: Containerd
  let registry: Registry
  let daemon: Dockerd | undefined
  let probe: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-net-'))
    containerd = await startContainerd(join(dir, 'containerd'))
    registry = await imageRegistry()
    probe = `${registry.host}/probe`
  }, 180_000)

  afterAll(async () => {
    await daemon?.stop()
    await containerd?.stop()
    await registry?.stop()
    removeDaemonCgroups()
    if (dir) removeDir(dir)
  }, 120_000)

  let pulled = false
  /** The daemon in the stand-in (stopped after each test), once the image is in its store. */
  async function standInDaemon(): Promise<void> {
    if (!pulled) {
      const puller = await startMinidockerd(join(dir, 'daemon'), containerd.socket)
      try {
        const pull = await docker('28.2.2', puller.host, ['pull', probe], { timeout: 60_000 })
        expect(pull.exitCode, `docker pull: ${pull.stderr}`).toBe(0)
        pulled = true
      } finally {
        await puller.stop()
      }
    }
    daemon = await startMinidockerd(join(dir, 'daemon'), containerd.socket, { netns: host().pid })
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

  it('docker run -p serves from the container, ps shows the port as dockerd does, a port taken is a conflict, and the exit frees it', async () => {
    await standInDaemon()
    for (const cli of ['28.2.2', '20.10'] as const) {
      const name = `web-${cli.replace(/\./g, '')}`
      const started = await run(cli, ['run', '-d', '--name', name, '-p', '127.0.0.1:8080:7000', probe, '/probe', 'listen:7000'])
      const after = cli === '20.10' ? ', after the first container on that port has exited — does monitor undo its network (disconnect)?' : ''
      expect(started.exitCode, `${cli}: docker run -d -p 127.0.0.1:8080:7000 must start${after}: ${started.stderr}`).toBe(0)
      await listening(cli, name)

      const ps = await run(cli, ['ps', '--format', '{{.Names}} {{.Ports}}'])
      expect(ps.stdout, `${cli}: docker ps must show the published port as dockerd does — does GET /containers/json fill Ports from HostConfig.PortBindings?`).toBe(`${name} 127.0.0.1:8080->7000/tcp\n`)

      const taken = await run(cli, ['run', '--rm', '--name', `${name}-2`, '-p', '127.0.0.1:8080:7000', probe, '/probe', 'listen:7000'])
      expect(taken.exitCode, `${cli}: a second -p 127.0.0.1:8080 must fail as with dockerd: ${taken.stderr}`).toBe(125)
      expect(taken.stderr, `${cli}: dockerd's words for a port already published`).toMatch(
        new RegExp(`Error response from daemon: driver failed programming external connectivity on endpoint ${name}-2 \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:8080 failed: port is already allocated`))

      const reply = await host().run([PROBE_PATH, 'connect:127.0.0.1:8080'])
      expect(probeLines(String(reply.stdout)).find((l) => 'reply' in l)?.reply, `${cli}: 127.0.0.1:8080 in the daemon's namespace must reach the container's port 7000: ${reply.stdout}${reply.stderr}`).toBe('ping\n')
      const waited = await run(cli, ['wait', name])
      expect(waited.stdout, `${cli}: the probe exits 0 after its one connection`).toBe('0\n')
      expect((await run(cli, ['rm', name])).exitCode).toBe(0)
    }
    // every veth went with its container: the stand-in has lo and the bridge left
    const links = await host().run(['ip', '-o', 'link', 'show'])
    expect(String(links.stdout).split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]).sort(), 'links left in the daemon\'s namespace').toEqual(['lo', 'minidocker0'])
  }, 120_000)

  it('--network bridge gives the container an eth0 with Docker\'s MAC', async () => {
    await standInDaemon()
    const bridged = await run('28.2.2', ['run', '--rm', '--network', 'bridge', probe, '/probe', 'cat:/sys/class/net/eth0/address'])
    expect(bridged.exitCode, bridged.stderr).toBe(0)
    expect(bridged.stdout, 'eth0 with a MAC 02:42:... made from its address on the bridge').toMatch(/02:42:ac:1d:/)
  }, 60_000)
})
