/**
 * minidockerd --userns-remap on the real containerd and runc, beside the real dockerd 20.10
 * with the same flag, which runs each container with runc and with minirunc (--add-runtime): root in the container is uid 0 inside and the first id of the user's
 * subuid range on the host, what it writes in a bind mount belongs to that id, and the image's
 * files are root's inside because they are the range's on disk. minidockerd reads passwd,
 * group, subuid and subgid from a folder of the test's (MINIDOCKERD_TEST_ETC); dockerd, which
 * reads /etc, runs in a mount namespace of its own where the test's files are bound over
 * /etc's. The machine's /etc is never touched.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { storePaths } from '../../lib/image.ts'
import { ETC_ENV } from '../../minidocker/remap.ts'
import { describeKernel } from '../support/kernel.ts'
import { docker, imageRegistry, startContainerd, startMinidockerd, startRealDockerd, stopDaemonPair, throwIfUnwritten, type DaemonPair, type Dockerd } from '../support/daemon.ts'
import { runtimeWrapper } from '../support/runtime.ts'

/**
 * The users and their ranges. --userns-remap names user remap (uid 1500) with group remapgrp (gid
 * 1700). User remap has lines under its uid and under its name in subuid, under its name alone in
 * subgid, beside the group's lines under its name and its gid and other users' lines; which of
 * them count, and in which order, is the daemon's to work out, and dockerd's answer is the one to
 * match: nothing below assumes it.
 */
const ETC = {
  passwd: 'root:x:0:0:root:/root:/bin/sh\nremap:x:1500:1500::/nonexistent:/usr/sbin/nologin\nnorange:x:1600:1600::/nonexistent:/usr/sbin/nologin\nremapper:x:150:150::/nonexistent:/usr/sbin/nologin\n',
  group: 'root:x:0:\nremap:x:1500:\nnorange:x:1600:\nremapper:x:150:\nremapgrp:x:1700:\n',
  subuid: 'remap:600000:65536\nremapper:100000:65536\n1500:500000:65536\n15000:200000:65536\n1500:300000:65536\n',
  subgid: '15:750000:65536\nremapgrp:1000000:65536\nremap:400000:65536\n150:700000:65536\n1700:1100000:65536\nremap:800000:65536\n1600:900000:65536\n',
}
/** What --userns-remap names in the tests that run a container. */
const REMAP = 'remap:remapgrp'
const ROOT = new URL('../..', import.meta.url).pathname

let dir: string
let etc: string
let pair: Partial<DaemonPair> = {}
let ours: Dockerd
let real: Dockerd
let busybox: string
let unwritten: unknown

/** Each test's first line: the daemon started, or the chapter function that stopped it. */
function started(): void {
  if (unwritten) throw unwritten
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-remap-'))
  chmodSync(dir, 0o711) // the container's root, an unprivileged uid on the host, must get through to the bundles below
  etc = join(dir, 'etc')
  mkdirSync(etc)
  for (const [name, text] of Object.entries(ETC)) writeFileSync(join(etc, name), text)
  pair.registry = await imageRegistry()
  pair.containerd = await startContainerd(join(dir, 'containerd'))
  try {
    ours = pair.ours = await startMinidockerd(join(dir, 'ours'), pair.containerd, { args: ['--userns-remap', REMAP], env: { [ETC_ENV]: etc } })
  } catch (error) {
    // a starter's remapMappings stops the daemon at start: each test says so (a failed hook would only skip them)
    try {
      throwIfUnwritten((error as Error).message)
    } catch (notWritten) {
      unwritten = notWritten
      return
    }
    throw error
  }
  // dockerd reads the machine's /etc: in a mount namespace of its own (private, so nothing
  // propagates back), the test's files are bound over those four, for it and its children only
  const binds = Object.keys(ETC).map((name) => `mount --bind ${join(etc, name)} /etc/${name}`).join(' && ')
  real = pair.real = await startRealDockerd(join(dir, 'real'), pair.registry.host, {
    args: ['--userns-remap', REMAP, '--add-runtime', `minidocker=${runtimeWrapper(dir)}`], prefix: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${binds} && exec "$@"`, 'sh'],
  })
  busybox = `${pair.registry.host}/busybox`
  for (const d of [ours, real]) await docker('28.2.2', d.host, ['pull', '-q', busybox])
}, 120_000)

afterAll(() => stopDaemonPair(pair, dir), 120_000)

/** A map file's lines with their fields one space apart. */
const fields = (map: string) => map.split('\n').map((line) => line.trim().split(/\s+/).join(' ')).join('\n')

/** Each daemon by name, for messages. */
const daemons = () => [['minidockerd', ours], ['dockerd', real]] as const

/** What runs each container: the two daemons, and dockerd with chapter 09's runtime in place of runc. */
const runners = () => [['minidockerd', ours, []], ['dockerd', real, []], ['minirunc under dockerd', real, ['--runtime', 'minidocker']]] as const

describeKernel('minidockerd --userns-remap', () => {
  it('docker run -v through --userns-remap remap:remapgrp: id, the maps, an image file, a file written, beside dockerd', async () => {
    started()
    const seen: Record<string, { id: string; uidMap: string; gidMap: string; ls: string; made: number[] }> = {}
    for (const [name, d, runtime] of runners()) {
      const shared = join(dir, `shared-${name.replaceAll(' ', '-')}`)
      mkdirSync(shared)
      chmodSync(shared, 0o777) // anyone may write here: the owner of what lands here is the container's root as the host sees it
      const r = await docker('28.2.2', d.host, ['run', ...runtime, '--rm', '--network', 'none', '-v', `${shared}:/shared`, busybox,
        'sh', '-c', 'id; echo =; cat /proc/self/uid_map; echo =; cat /proc/self/gid_map; echo =; ls -ln /bin/busybox; echo x > /shared/made'], { timeout: 30_000 })
      expect(r.exitCode, `docker run through ${name} --userns-remap failed: ${r.stderr}`).toBe(0)
      const made = statSync(join(shared, 'made'))
      const [id = '', uidMap = '', gidMap = '', ls = ''] = r.stdout.split('=\n').map((part) => part.trim())
      // `id`'s supplementary groups are chapter 06's resolveUser's (dockerd gives root groups=0), not the remap's
      seen[name] = { id: id.replace(/ groups=\S*/, ''), uidMap: fields(uidMap), gidMap: fields(gidMap), ls, made: [made.uid, made.gid] }
    }
    const ours = seen.minidockerd!
    const theirs = seen.dockerd!
    const files = `/etc/subuid:\n${ETC.subuid}/etc/subgid:\n${ETC.subgid}`
    const lines = `--userns-remap ${REMAP} names user remap (uid 1500) and group remapgrp (gid 1700): which of the lines that may name either count, in which file, and in which order, and where inside the container does each range start? Decide it from dockerd 20.10's source, then run dockerd 20.10 on files like these (the chapter's "--userns-remap in your daemon")`
    expect(ours.id, 'the container\'s process must be root inside its user namespace').toMatch(/^uid=0(\(root\))? gid=0/)
    // dockerd's own maps are not printed: they are the answer. Run it yourself, as the chapter says.
    expect(ours.uidMap === theirs.uidMap, `the container's uid_map under minidockerd reads\n${ours.uidMap}\nand dockerd 20.10's does not, from\n${files}— ${lines}`).toBe(true)
    expect(ours.gidMap === theirs.gidMap, `the container's gid_map under minidockerd reads\n${ours.gidMap}\nand dockerd 20.10's does not, from\n${files}— ${lines}`).toBe(true)
    expect(ours.ls, 'the image\'s files must be root\'s (0 0) inside: the layers are shifted to the range on disk').toMatch(/^\S+\s+\d+\s+0\s+0\s/)
    const rootPair = (map: string) => Number(/^0 (\d+) /.exec(map)?.[1])
    expect(theirs.made[0] === rootPair(theirs.uidMap) && theirs.made[1] === rootPair(theirs.gidMap), 'under dockerd, the file made in a bind mount belongs to the host ids of the container\'s root').toBe(true)
    expect(JSON.stringify(ours) === JSON.stringify(theirs), `id, the maps, the image's file and the bind mount's file (host owner ${ours.made.join(':')}) under minidockerd must be as under dockerd --userns-remap ${REMAP}, and are not: ${JSON.stringify(ours)}`).toBe(true)
    expect(JSON.stringify(seen['minirunc under dockerd']) === JSON.stringify(theirs), `dockerd --userns-remap with minirunc as its runtime must give what it gives with runc: ${JSON.stringify(seen['minirunc under dockerd'])}`).toBe(true)
  }, 60_000)

  it('docker run -d through --userns-remap remap:remapgrp: the process\'s ids seen from the host, beside dockerd', async () => {
    started()
    const seen: Record<string, string[]> = {}
    for (const [name, d, runtime] of runners()) {
      const run = await docker('28.2.2', d.host, ['run', ...runtime, '-d', '--network', 'none', busybox, 'sleep', '60'], { timeout: 30_000 })
      expect(run.exitCode, `${name}: ${run.stderr}`).toBe(0)
      const id = run.stdout.trim()
      try {
        const pid = (await docker('28.2.2', d.host, ['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim()
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        const ids = (key: string) => new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? ''
        const ps = await execa('ps', ['-o', 'uid=', '-p', pid])
        seen[name] = [ids('Uid'), ids('Gid'), ps.stdout.trim()]
      } finally {
        await docker('28.2.2', d.host, ['rm', '-f', id])
      }
    }
    expect(Number(seen.dockerd![0]), 'under dockerd, the container\'s root is an unprivileged uid on the host').toBeGreaterThan(0)
    for (const [name] of runners())
      expect(JSON.stringify(seen[name]) === JSON.stringify(seen.dockerd), `${name}: Uid and Gid of /proc/PID/status, and ps -o uid, of the container's process seen from the host are ${JSON.stringify(seen[name])}, not what they are under dockerd with runc`).toBe(true)
  }, 60_000)

  it('the data root after a pull through --userns-remap remap:remapgrp, beside dockerd', () => {
    started()
    const stores: Record<string, unknown> = {}
    for (const [name, d] of daemons()) {
      const entries = readdirSync(d.root)
      expect(entries.length, `${name}: the data root must hold only the remapped store: ${entries.join(', ')}`).toBe(1)
      const store = join(d.root, entries[0]!)
      const [uid, gid] = entries[0]!.split('.').map(Number)
      const graph = storePaths(store).graph
      const copies = readdirSync(graph).map((layer) => join(graph, layer, 'diff', 'bin', 'busybox')).filter((path) => existsSync(path))
      expect(copies.length, `${name}: busybox's layer in ${graph}`).toBe(1)
      const stat = statSync(copies[0]!)
      expect([stat.uid, stat.gid], `${name}: the layer's files are owned on disk by the host ids of the container's root, which name the store (${entries[0]})`).toEqual([uid, gid])
      expect([statSync(store).mode & 0o777, statSync(store).gid], `${name}: the store is 0710, of the range's group`).toEqual([0o710, gid])
      stores[name] = entries
    }
    expect(JSON.stringify(stores.minidockerd) === JSON.stringify(stores.dockerd), `the store's name, UID.GID, the host ids of the container's root, is ${JSON.stringify(stores.minidockerd)} under minidockerd and not that under dockerd`).toBe(true)
  })

  it('--userns-remap default, norange, nobody-here, remap:nogroup and a:b:c', async () => {
    started()
    const cases = [
      ['default', /dockremap.*does not exist.*does not create users/],
      ['norange', /no subuid ranges found for user "norange"/],
      ['nobody-here', /no user "nobody-here"/],
      ['remap:nogroup', /no group "nogroup"/],
      ['a:b:c', /invalid user\/group specification.*"a:b:c"/],
    ] as const
    for (const [name, reason] of cases) {
      const data = join(dir, 'refused')
      const r = await execa(process.execPath, [join(ROOT, 'bin/minidockerd.cjs'), '-H', `unix://${join(dir, 'refused.sock')}`, '--data-root', data, '--exec-root', join(dir, 'refused-exec'),
        '--containerd', pair.containerd!.socket, '--namespace', 'minidocker-test', '--bridge', 'none', '--userns-remap', name], { env: { [ETC_ENV]: etc }, reject: false, timeout: 30_000 })
      expect(r.exitCode, `minidockerd --userns-remap ${name} must not start: ${r.stderr}`).toBe(1)
      expect(r.stderr, `the error names what --userns-remap ${name} lacks`).toMatch(reason)
      expect(existsSync(data) || existsSync(join(dir, 'refused.sock')), 'a refused NAME leaves no data root and no socket').toBe(false)
    }
  }, 60_000)
})
