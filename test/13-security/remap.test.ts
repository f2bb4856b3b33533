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
let real: Dockerd
let busybox: string
let unwritten: unknown

/** Each test's first line: the daemon started, or the chapter function that stopped it. */
function started(): void {
  if (unwritten) throw unwritten
}

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
    args: ['--userns-remap', 'remap', '--add-runtime', `minidocker=${runtimeWrapper(dir)}`], prefix: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${binds} && exec "$@"`, 'sh'],
  })
  busybox = `${pair.registry.host}/busybox`
  for (const d of [ours, real]) await docker('28.2.2', d.host, ['pull', '-q', busybox])
}, 120_000)

afterAll(() => stopDaemonPair(pair, dir), 120_000)

/** Each daemon by name, for messages. */
const daemons = () => [['minidockerd', ours], ['dockerd', real]] as const

/** What runs each container: the two daemons, and dockerd with chapter 09's runtime in place of runc. */
const runners = () => [['minidockerd', ours, []], ['dockerd', real, []], ['minirunc under dockerd', real, ['--runtime', 'minidocker']]] as const

describeKernel('minidockerd --userns-remap', () => {
  it('docker run -v through --userns-remap remap: id, the maps, an image file, a file written, beside dockerd', async () => {
    started()
    const seen: Record<string, { stdout: string; made: number[] }> = {}
    for (const [name, d, runtime] of runners()) {
      const shared = join(dir, `shared-${name.replaceAll(' ', '-')}`)
      mkdirSync(shared)
      chmodSync(shared, 0o777) // anyone may write here: the owner of what lands here is the container's root as the host sees it
      const r = await docker('28.2.2', d.host, ['run', ...runtime, '--rm', '--network', 'none', '-v', `${shared}:/shared`, busybox,
        'sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /bin/busybox; echo x > /shared/made'], { timeout: 30_000 })
      expect(r.exitCode, `docker run through ${name} --userns-remap failed: ${r.stderr}`).toBe(0)
      const made = statSync(join(shared, 'made'))
      // `id`'s supplementary groups are chapter 06's resolveUser's (dockerd gives root groups=0), not the remap's
      seen[name] = { stdout: r.stdout.replace(/ groups=\S*/, ''), made: [made.uid, made.gid] }
    }
    const [id, uidMap, gidMap, ls] = seen.minidockerd!.stdout.split('\n')
    expect(id, 'the container\'s process must be root inside its user namespace').toMatch(/^uid=0(\(root\))? gid=0/)
    expect(uidMap?.trim().split(/\s+/), 'uid_map: container 0 onwards is the user\'s subuid range (0 300000 65536)').toEqual(['0', String(UID), '65536'])
    expect(gidMap?.trim().split(/\s+/), 'gid_map: expected the user\'s subgid range (0 400000 65536)').toEqual(['0', String(GID), '65536'])
    expect(ls, 'the image\'s files must be root\'s (0 0) inside: the layers are shifted to the range on disk').toMatch(/^\S+\s+\d+\s+0\s+0\s/)
    expect(seen.minidockerd!.made, 'a file the container\'s root made in a bind mount belongs on the host to the first ids of the ranges').toEqual([UID, GID])
    expect(seen.minidockerd, 'id, the maps, the image\'s file and the bind mount\'s file as through dockerd --userns-remap (left: minidockerd)').toEqual(seen.dockerd)
    expect(seen['minirunc under dockerd'], 'dockerd --userns-remap with minirunc as its runtime: the same as with runc (left: minirunc)').toEqual(seen.dockerd)
  }, 60_000)

  it('docker run -d through --userns-remap remap: the process\'s ids seen from the host, beside dockerd', async () => {
    started()
    for (const [name, d, runtime] of runners()) {
      const run = await docker('28.2.2', d.host, ['run', ...runtime, '-d', '--network', 'none', busybox, 'sleep', '60'], { timeout: 30_000 })
      expect(run.exitCode, `${name}: ${run.stderr}`).toBe(0)
      const id = run.stdout.trim()
      try {
        const pid = (await docker('28.2.2', d.host, ['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim()
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        const ids = (key: string) => new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1]
        expect([ids('Uid'), ids('Gid')], `${name}: /proc/${pid}/status of the container's process, seen from the host`).toEqual([String(UID), String(GID)])
        const ps = await execa('ps', ['-o', 'uid=', '-p', pid])
        expect(ps.stdout.trim(), `${name}: ps -o uid on the host`).toBe(String(UID))
      } finally {
        await docker('28.2.2', d.host, ['rm', '-f', id])
      }
    }
  }, 60_000)

  it('the data root after a pull through --userns-remap remap, beside dockerd', () => {
    started()
    for (const [name, d] of daemons()) {
      expect(readdirSync(d.root), `${name}: the data root holds only the remapped store, named after the first host uid and gid`).toEqual([`${UID}.${GID}`])
      const store = join(d.root, `${UID}.${GID}`)
      const graph = storePaths(store).graph
      const copies = readdirSync(graph).map((layer) => join(graph, layer, 'diff', 'bin', 'busybox')).filter((path) => existsSync(path))
      expect(copies.length, `${name}: busybox's layer in ${graph}`).toBe(1)
      const stat = statSync(copies[0]!)
      expect([stat.uid, stat.gid], `${name}: the layer's files are owned by the range on disk (root inside)`).toEqual([UID, GID])
      expect([statSync(store).mode & 0o777, statSync(store).gid], `${name}: the store is 0710, of the range's group`).toEqual([0o710, GID])
    }
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
