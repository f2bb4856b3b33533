/**
 * minidockerd --userns-remap, on the real containerd and runc: root in the container is uid 0
 * inside and the first id of the user's subuid range on the host, what it writes in a bind
 * mount belongs to that id, and the image's files are root's inside because they are the
 * range's on disk. The daemon reads passwd, group, subuid and subgid from a folder of the
 * test's (MINIDOCKERD_TEST_ETC), never the machine's /etc.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { storePaths } from '../../lib/image.ts'
import { ETC_ENV } from '../../minidocker/remap.ts'
import { describeKernel } from '../support/kernel.ts'
import { docker, imageRegistry, startContainerd, startMinidockerd, stopDaemonPair, throwIfUnwritten, type DaemonPair, type Dockerd } from '../support/daemon.ts'

/** The user's ranges: uids by its uid, gids by its name, from different starts so that each file shows. */
const UID = 300000
const GID = 400000
const ETC = {
  passwd: 'root:x:0:0:root:/root:/bin/sh\nremap:x:1500:1500::/nonexistent:/usr/sbin/nologin\nnorange:x:1600:1600::/nonexistent:/usr/sbin/nologin\n',
  group: 'root:x:0:\nremap:x:1500:\nnorange:x:1600:\n',
  subuid: `1500:${UID}:65536\n`,
  subgid: `remap:${GID}:65536\n`,
}
const ROOT = new URL('../..', import.meta.url).pathname

let dir: string
let etc: string
let pair: Partial<DaemonPair> = {}
let ours: Dockerd
let busybox: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-remap-'))
  chmodSync(dir, 0o711) // the container's root, uid UID on the host, must get through to the bundles below
  etc = join(dir, 'etc')
  mkdirSync(etc)
  for (const [name, text] of Object.entries(ETC)) writeFileSync(join(etc, name), text)
  pair.registry = await imageRegistry()
  pair.containerd = await startContainerd(join(dir, 'containerd'))
  try {
    ours = pair.ours = await startMinidockerd(join(dir, 'ours'), pair.containerd.socket, { args: ['--userns-remap', 'remap'], env: { [ETC_ENV]: etc } })
  } catch (error) {
    throwIfUnwritten((error as Error).message)
    throw error
  }
  busybox = `${pair.registry.host}/busybox`
  await docker('28.2.2', ours.host, ['pull', '-q', busybox])
}, 120_000)

afterAll(() => stopDaemonPair(pair, dir), 120_000)

const remappedRoot = () => join(dir, 'ours', 'data', `${UID}.${GID}`)

describeKernel('minidockerd --userns-remap', () => {
  it('root in the container is uid 0 inside, the image\'s files are root\'s, and what it writes in a bind mount is the range\'s on the host', async () => {
    const shared = join(dir, 'shared')
    mkdirSync(shared)
    chmodSync(shared, 0o777) // anyone may write here: the owner of what lands here is the container's root as the host sees it
    const r = await docker('28.2.2', ours.host, ['run', '--rm', '--network', 'none', '-v', `${shared}:/shared`, busybox,
      'sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /bin/busybox; echo x > /shared/made'], { timeout: 30_000 })
    expect(r.exitCode, `docker run through minidockerd --userns-remap failed: ${r.stderr}`).toBe(0)
    const [id, uidMap, gidMap, ls] = r.stdout.split('\n')
    expect(id, 'the container\'s process must be root inside its user namespace').toMatch(/^uid=0(\(root\))? gid=0/)
    expect(uidMap?.trim().split(/\s+/), 'uid_map: container 0 onwards is the user\'s subuid range (0 300000 65536)').toEqual(['0', String(UID), '65536'])
    expect(gidMap?.trim().split(/\s+/), 'gid_map: the user\'s subgid range (0 400000 65536), from subgid, not subuid').toEqual(['0', String(GID), '65536'])
    expect(ls, 'the image\'s files must be root\'s (0 0) inside: the layers are shifted to the range on disk').toMatch(/^\S+\s+\d+\s+0\s+0\s/)
    const made = statSync(join(shared, 'made'))
    expect([made.uid, made.gid], 'a file the container\'s root made in a bind mount belongs on the host to the first ids of the ranges').toEqual([UID, GID])
  }, 60_000)

  it('the container\'s process runs on the host as the range\'s first uid and gid', async () => {
    const run = await docker('28.2.2', ours.host, ['run', '-d', '--network', 'none', busybox, 'sleep', '60'], { timeout: 30_000 })
    expect(run.exitCode, run.stderr).toBe(0)
    const id = run.stdout.trim()
    try {
      const pid = (await docker('28.2.2', ours.host, ['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim()
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const ids = (key: string) => new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1]
      expect([ids('Uid'), ids('Gid')], `/proc/${pid}/status of the container's process, seen from the host`).toEqual([String(UID), String(GID)])
      const ps = await execa('ps', ['-o', 'uid=', '-p', pid])
      expect(ps.stdout.trim(), 'ps -o uid on the host').toBe(String(UID))
    } finally {
      await docker('28.2.2', ours.host, ['rm', '-f', id])
    }
  }, 60_000)

  it('keeps its store in DATA_ROOT/UID.GID, with the image\'s files owned by the range on disk', () => {
    const data = join(dir, 'ours', 'data')
    expect(readdirSync(data), 'the data root holds only the remapped store, named after the first host uid and gid').toEqual([`${UID}.${GID}`])
    const graph = storePaths(remappedRoot()).graph
    const copies = readdirSync(graph).map((layer) => join(graph, layer, 'diff', 'bin', 'busybox')).filter((path) => existsSync(path))
    expect(copies.length, `busybox's layer in ${graph}`).toBe(1)
    const stat = statSync(copies[0]!)
    expect([stat.uid, stat.gid], 'the layer\'s files are owned by the range on disk (root inside)').toEqual([UID, GID])
    expect(statSync(remappedRoot()).mode & 0o777, 'the store is 0710, of the range\'s group, as dockerd makes it').toBe(0o710)
    expect(statSync(remappedRoot()).gid).toBe(GID)
  })

  it('refuses, before it makes anything, a NAME it cannot remap to', async () => {
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
