import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import {
  chrootInto, DEFAULT_MOUNTS, mountOptions, parseVolume, pivotRoot, setupRootfs,
} from '#ch/03-rootfs/rootfs.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { BuiltinImage } from '../../minidocker/builtin.ts'
import type { Mount, Spec } from '../../lib/oci.ts'
import { SyscallError } from '../../native/helper.ts'
import { probeSpec, runCaptured } from '../support/container.ts'
import { tempRootfs } from '../support/rootfs.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace, type MountNamespace } from '../support/mountns.ts'
import { probeLines, probeValue } from '../support/probe.ts'

/** A spec that runs /bin/probe `steps` in `rootfs`, with the default mounts plus `extra`. */
function rootfsSpec(rootfs: string, steps: string[], extra: Mount[] = []): Spec {
  const spec = probeSpec(steps, ['pid', 'ipc', 'uts', 'mount'], '/bin/probe')
  spec.root = { path: rootfs }
  spec.mounts = [...DEFAULT_MOUNTS, ...extra]
  return spec
}

/**
 * Where a test's container runs: a stand-in for the host, a mount namespace the test made
 * (its / shared, as systemd makes it) with two tmpfs "disks", also shared: one holds the
 * rootfs, the other the volumes. The learner's code never mounts, pivots or remounts in the
 * machine's own namespace, and a remount that forgets MS_BIND makes only a test's tmpfs
 * read-only.
 */
interface Stage {
  host: MountNamespace
  rootfs: string
  /** the rootfs's files, listed before the run */
  files: string[]
  /**
   * A new directory `name` on the stand-in's disk holding `files`, for a volume. The same
   * names exist (empty) at the same path in the machine's namespace, where the test runner and
   * the learner's checks of a volume's source (does it exist, is it a file) look.
   */
  dir(name: string, files?: Record<string, string>): string
}

async function stage(image: BuiltinImage = 'probe'): Promise<Stage> {
  const host = await mountNamespace({ shared: true })
  const disk = await host.tmpfs()
  const rootfs = join(disk, 'rootfs')
  tempRootfs(image, host.inside(rootfs))
  const volumes = await host.tmpfs() // apart from the rootfs's, so each remount shows on its own
  const dir = (name: string, files: Record<string, string> = {}) => {
    const path = join(volumes, name)
    for (const [view, content] of [[host.inside(path), (f: string) => files[f]!], [path, () => '']] as const) {
      mkdirSync(view)
      for (const file of Object.keys(files)) writeFileSync(join(view, file), content(file))
    }
    return path
  }
  return { host, rootfs, files: lsOf(host.inside(rootfs)), dir }
}

/**
 * Run `spec` the way minidocker does, namespaces (02) then the root filesystem (03), in the
 * stand-in host. The mounts that appeared in the stand-in meanwhile go to `leaked`, also when
 * the setup fails.
 */
function runInRootfs(host: MountNamespace, spec: Spec, leaked: string[] = []) {
  return runCaptured(spec, async (h) => {
    await host.enter(h)
    const before = await host.mountinfo()
    try {
      await enterNamespaces(h, spec)
      await setupRootfs(h, spec)
    } finally {
      leaked.push(...newLines(before, await host.mountinfo()))
    }
  })
}

const newLines = (before: string, after: string) => after.split('\n').filter((l) => l && !before.split('\n').includes(l))

/** mountinfo lines by mount point: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - TYPE SOURCE SUPER". */
function mountsByPoint(mountinfo: string): Map<string, { options: string[]; type: string }> {
  const table = new Map<string, { options: string[]; type: string }>()
  for (const line of mountinfo.split('\n').filter(Boolean)) {
    const fields = line.split(' ')
    table.set(fields[4]!, { options: fields[5]!.split(','), type: fields[fields.indexOf('-') + 1]! })
  }
  return table
}

/** The error `write` fails with, as an errno name (undefined when it succeeds). */
function writeError(path: string): string | undefined {
  try {
    writeFileSync(path, 'x')
    rmSync(path)
    return undefined
  } catch (error) {
    return (error as NodeJS.ErrnoException).code
  }
}

const lsOf = (dir: string) => readdirSync(dir).sort()

describe('parseVolume', () => {
  it('reads -v /host:/container as a recursive bind mount', () => {
    expect(parseVolume('/srv/data:/data')).toEqual({ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind'] })
  })

  it('adds "ro" for :ro and nothing for :rw', () => {
    expect(parseVolume('/a:/b:ro').options, ':ro must add the "ro" option').toEqual(['rbind', 'ro'])
    expect(parseVolume('/a:/b:rw').options).toEqual(['rbind'])
  })

  it('refuses relative paths, unknown modes and missing parts with a ContainerError', async () => {
    for (const bad of ['data:/data', '/data:data', '/a:/b:rx', '/a', '/a:/b:ro:x', ':/b'])
      expect(await caught(() => parseVolume(bad)), `-v ${bad} must be refused: Docker takes only absolute paths on both sides (a relative source would be a named volume), "ro" or "rw", and no more than three parts`).toBeInstanceOf(ContainerError)
  })
})

describe('mountOptions', () => {
  it('turns flag options into mount flags and passes the rest as data', () => {
    const { flags, data } = mountOptions(['nosuid', 'ro', 'mode=755', 'size=65536k', 'nodev'])
    expect([...flags].sort()).toEqual(['nodev', 'nosuid', 'rdonly'])
    expect(data, 'options that are not flags go to the filesystem, comma-separated, in order').toBe('mode=755,size=65536k')
  })

  it('makes rbind a recursive bind and ignores rw', () => {
    expect([...mountOptions(['rbind', 'rw']).flags].sort()).toEqual(['bind', 'rec'])
    expect(mountOptions([]), 'no options: no flags, no data').toEqual({ flags: [], data: '', propagation: [] })
  })

  it('keeps the propagation options apart, for a second call once the mount exists', () => {
    const { flags, data, propagation } = mountOptions(['bind', 'rshared', 'nosuid'])
    expect([...flags].sort(), 'rshared is not part of the bind: with MS_SHARED, mount(2) only changes the propagation of what is already there and mounts nothing').toEqual(['bind', 'nosuid'])
    expect([...propagation].sort(), 'rshared is MS_SHARED|MS_REC, applied afterwards (runc: PropagationFlags)').toEqual(['rec', 'shared'])
    expect(data).toBe('')
    expect(mountOptions(['private', 'mode=755']).propagation, '"private" is a propagation option, not data nor a flag of the mount').toEqual(['private'])
  })
})

describeKernel('a container in its own root filesystem', () => {
  it('sees only the rootfs\'s files at /, and no mount of the host', async () => {
    const { host, rootfs, files } = await stage()
    const spec = rootfsSpec(rootfs, ['mounts', 'ls:/'])
    const { code, stdout, stderr } = await runInRootfs(host, spec)
    expect(code, stderr).toBe(0)
    const own = new Set(['/', ...spec.mounts!.map((m) => m.destination)])
    const foreign = [...mountsByPoint(probeValue(stdout, 'mounts')).keys()].filter((point) => !own.has(point))
    expect(foreign, `the container still has the old root's mounts (${foreign.slice(0, 3).join(', ')}...): the host's / is reachable inside, because the old root is still attached after pivot_root (pivot_root(2), put_old; umount2(2) for a mount still in use)`).toEqual([])
    expect(probeValue(stdout, 'ls'), 'the container\'s / must list exactly the image\'s files (no leftover put_old directory)').toEqual(files)
  })

  it('mounts a tmpfs whose options carry a propagation option, then gives it that propagation', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['mounts'], [{ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['shared', 'size=1m'] }])
    let run: Awaited<ReturnType<typeof runInRootfs>> | undefined
    const error = await caught(async () => (run = await runInRootfs(host, spec)))
    const why = 'given MS_SHARED, mount(2) changes the propagation of what is mounted at the target and mounts nothing: a second call, once the mount exists'
    expect(error?.message, why).toBeUndefined()
    const { code, stdout, stderr } = run!
    expect(code, `${stderr}: ${why}`).toBe(0)
    const line = (probeValue(stdout, 'mounts') as string).split('\n').find((l: string) => l.split(' ')[4] === '/scratch')
    expect(line, 'there must be a tmpfs at /scratch').toMatch(/ - tmpfs /)
    expect(line!.split(' - ')[0], 'the "shared" option must make /scratch a shared mount (mountinfo: shared:N)').toMatch(/ shared:\d+/)
  })

  it('finds the command in the image after pivot_root: sh is the busybox image\'s', async () => {
    const { host, rootfs } = await stage('busybox')
    const spec = rootfsSpec(rootfs, [])
    spec.process.args = ['sh', '-c', 'test -x /bin/busybox && exec probe pid']
    const { code, stdout, stderr } = await runInRootfs(host, spec)
    expect(code, `sh in the busybox image failed: ${stderr}`).toBe(0)
    expect(probeValue(stdout, 'pid'), 'sh exec\'d the image\'s /bin/probe as PID 1').toBe(1)
  })

  it('mounts a /proc that lists only the container\'s processes', async () => {
    const { host, rootfs } = await stage()
    const { stdout } = await runInRootfs(host, rootfsSpec(rootfs, ['ls:/proc']))
    const pids = probeValue<string[]>(stdout, 'ls').filter((name) => /^\d+$/.test(name))
    expect(pids, `/proc lists ${pids.length} processes, not only the container's: a proc filesystem shows the PID namespace of the process that mounts it (pid_namespaces(7), "/proc and PID namespaces")`).toEqual(['1'])
  })

  it('gives a minimal /dev on a tmpfs, with devpts, shm and the usual devices, and writes nothing into the image', async () => {
    const { host, rootfs } = await stage()
    const imageDev = () => lsOf(host.inside(join(rootfs, 'dev')))
    const before = imageDev()
    const devices: Record<string, [number, number]> = { null: [1, 3], zero: [1, 5], full: [1, 7], random: [1, 8], urandom: [1, 9], tty: [5, 0] }
    const steps = [...Object.keys(devices).map((d) => `stat:/dev/${d}`), 'write:/dev/null:x', 'ls:/dev', 'mounts']
    const { code, stdout, stderr } = await runInRootfs(host, rootfsSpec(rootfs, steps))
    expect(imageDev(), 'these were written into the image\'s own /dev (and are hidden inside): they were made before the /dev tmpfs covered it (the chapter\'s "The whole setup, in runc\'s order")').toEqual(before)
    expect(code, stderr).toBe(0)
    const stats = probeLines(stdout).filter((l) => 'rdev' in l || 'errno' in l).slice(0, 6) as { mode?: number; rdev?: [number, number]; errno?: string }[]
    Object.entries(devices).forEach(([name, rdev], i) => {
      expect(stats[i]?.errno, `/dev/${name} is missing in the container`).toBeUndefined()
      expect(stats[i]!.rdev, `/dev/${name} must be char device ${rdev.join(':')}`).toEqual(rdev)
      expect(stats[i]!.mode! & 0o777, `/dev/${name} must be mode 0666 so any user can use it`).toBe(0o666)
      expect(stats[i]!.mode! & 0o170000, `/dev/${name} must be a character device`).toBe(0o020000)
    })
    expect(probeValue<string[]>(stdout, 'ls')).toEqual(expect.arrayContaining(['pts', 'shm', 'ptmx', 'fd', 'stdin', 'stdout', 'stderr']))
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    expect(mounts.get('/dev')?.type, '/dev must be a tmpfs of the container\'s own').toBe('tmpfs')
    expect(mounts.get('/dev/pts')?.type).toBe('devpts')
    expect(mounts.get('/dev/shm')?.type).toBe('tmpfs')
  })

  it('with a user namespace in linux.namespaces, binds the host\'s device nodes instead of making them', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['stat:/dev/null', 'stat:/dev/tty', 'write:/dev/null:x', 'mounts'])
    // The user namespace itself is chapter 13's: here only the spec says so, which is what setupRootfs reads.
    const { code, stdout, stderr } = await runCaptured(spec, async (h) => {
      await host.enter(h)
      await enterNamespaces(h, spec)
      await setupRootfs(h, { ...spec, linux: { ...spec.linux, namespaces: [...spec.linux!.namespaces!, { type: 'user' }] } })
    })
    expect(code, stderr).toBe(0)
    const [devNull, tty, write] = probeLines(stdout)
    expect(devNull, '/dev/null must be the host\'s node, 1:3').toMatchObject({ rdev: [1, 3] })
    expect(tty, '/dev/tty must be the host\'s node, 5:0').toMatchObject({ rdev: [5, 0] })
    expect(write).toEqual({ wrote: '/dev/null' })
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    for (const name of ['null', 'zero', 'full', 'random', 'urandom', 'tty'])
      expect(mounts.has(`/dev/${name}`), `/dev/${name} must be a bind mount of the host's node: in a user namespace mknod(2) is refused (EPERM), so runc binds them (the chapter's /dev section)`).toBe(true)
  })

  it('mounts /sys read-only and /proc as proc', async () => {
    const { host, rootfs } = await stage()
    const { stdout } = await runInRootfs(host, rootfsSpec(rootfs, ['mounts', 'write:/sys/kernel/uevent_helper:x']))
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    expect(mounts.get('/proc')?.type).toBe('proc')
    expect(mounts.get('/sys')?.type).toBe('sysfs')
    expect(mounts.get('/sys')?.options, '/sys must be mounted with "ro"').toContain('ro')
    expect(probeValue(stdout, 'errno'), 'writing below /sys must fail with EROFS').toBe('EROFS')
  })

  it('leaves the host\'s mount table byte for byte as it was', async () => {
    const machine = readFileSync('/proc/self/mountinfo', 'utf8')
    const { host, rootfs, dir } = await stage()
    const before = await host.mountinfo()
    await runInRootfs(host, rootfsSpec(rootfs, ['ls:/'], [parseVolume(`${dir('volume')}:/data`)]))
    expect(newLines(before, await host.mountinfo()), 'these mounts appeared outside the container: its mounts propagated out').toEqual([])
    expect(await host.mountinfo()).toBe(before)
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(machine)
  })

  it('keeps its mounts from propagating, also below a shared submount of the host', async () => {
    // The stand-in's / and the disk the rootfs sits on are both mounts of their own, shared.
    const { host, rootfs, dir } = await stage()
    const leaked: string[] = []
    const error = await caught(() => runInRootfs(host, rootfsSpec(rootfs, ['ls:/'], [parseVolume(`${dir('volume')}:/data`)]), leaked))
    expect(leaked, 'these container mounts propagated to the host through the shared mount the rootfs sits on: a propagation change applies to one mount unless made recursively, and must come before the first mount (mount_namespaces(7), "Shared subtrees")').toEqual([])
    expect(error).toBeUndefined()
  })

  it('bind-mounts -v volumes, read-write and read-only', async () => {
    const { host, rootfs, dir } = await stage()
    const volume = dir('volume', { 'in.txt': 'from the host\n' })
    const spec = rootfsSpec(rootfs, ['cat:/rw/in.txt', 'write:/rw/out.txt:written', 'write:/ro/nope.txt:x'],
      [parseVolume(`${volume}:/rw`), parseVolume(`${volume}:/ro:ro`)])
    const { stdout } = await runInRootfs(host, spec)
    expect(writeError(host.inside(join(volume, 'outside.txt'))), 'the :ro volume\'s directory became read-only outside the container too: a remount without MS_BIND changes the filesystem itself, not one mount of it (mount(2), "Remounting an existing mount")').toBeUndefined()
    expect(probeValue(stdout, 'cat'), 'a file in the volume must be readable inside').toBe('from the host\n')
    expect(readFileSync(host.inside(join(volume, 'out.txt')), 'utf8'), 'a write into a rw volume must reach the host directory').toBe('written')
    const roWrite = probeLines(stdout).find((l) => l.wrote === '/ro/nope.txt') ? 'it succeeded' : probeValue(stdout, 'errno')
    expect(roWrite, 'a :ro volume must refuse writes with EROFS, but the write went through: MS_BIND ignores MS_RDONLY (mount(2), "Creating a bind mount")').toBe('EROFS')
    expect(lsOf(host.inside(volume)), 'the write to the :ro volume reached the host').toEqual(['in.txt', 'out.txt'])
  })

  it('bind-mounts a single file', async () => {
    const { host, rootfs, dir } = await stage()
    const file = join(dir('config', { 'app.conf': 'one file\n' }), 'app.conf')
    const spec = rootfsSpec(rootfs, ['cat:/etc/app.conf'], [parseVolume(`${file}:/etc/app.conf:ro`)])
    const error = await caught(async () => {
      const { stdout } = await runInRootfs(host, spec)
      expect(probeValue(stdout, 'cat')).toBe('one file\n')
    })
    expect(error?.message, 'a file can only be bind-mounted onto a file, a directory onto a directory (mount(2), ENOTDIR): which kind of mount point did you make?').toBeUndefined()
  })

  it('bind-mounts a single file over one the image has, and leaves the image\'s file as it was', async () => {
    const { host, rootfs, dir } = await stage()
    const imageFile = host.inside(join(rootfs, 'etc/app.conf'))
    mkdirSync(dirname(imageFile), { recursive: true })
    writeFileSync(imageFile, 'from the image\n')
    const file = join(dir('config', { 'app.conf': 'from the volume\n' }), 'app.conf')
    const { code, stdout, stderr } = await runInRootfs(host, rootfsSpec(rootfs, ['cat:/etc/app.conf'], [parseVolume(`${file}:/etc/app.conf`)]))
    expect(readFileSync(imageFile, 'utf8'), 'the image\'s own /etc/app.conf was emptied while its mount point was made: a file that exists is a mount point already (runc: createIfNotExists); and only the helper sees the rootfs as the container will, Node\'s fs may not').toBe('from the image\n')
    expect(code, stderr).toBe(0)
    expect(probeValue(stdout, 'cat'), 'inside, the volume\'s file must hide the image\'s').toBe('from the volume\n')
  })

  it('mounts spec.mounts in the order the spec lists them, as runc does: a parent listed after its child hides it', async () => {
    const { host, rootfs, dir } = await stage()
    const inner = dir('inner', { 'inner.txt': 'inner\n' })
    const outer = dir('outer', { 'outer.txt': 'outer\n' })
    const spec = rootfsSpec(rootfs, ['ls:/data'], [parseVolume(`${inner}:/data/inner`), parseVolume(`${outer}:/data`)])
    const { code, stdout, stderr } = await runInRootfs(host, spec)
    expect(code, stderr).toBe(0)
    expect(lsOf(host.inside(outer)), 'a mount point was made inside the /data volume, on the host: /data/inner was mounted after /data, but the spec lists it first').toEqual(['outer.txt'])
    expect(probeValue(stdout, 'ls'), 'the spec lists /data/inner before /data, so /data, mounted last, must hide it: a runtime mounts spec.mounts in the order given (runc: prepareRootfs); putting parents first is the job of whoever writes config.json (Docker sorts them)').toEqual(['outer.txt'])
  })

  it('can make the whole rootfs read-only (root.readonly)', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['write:/tmp/x:1'])
    spec.root!.readonly = true
    const { stdout } = await runInRootfs(host, spec)
    expect(writeError(host.inside(join(rootfs, 'tmp/outside'))), 'the filesystem under the rootfs became read-only outside the container too: a remount without MS_BIND changes the filesystem itself, not the container\'s mount of it (mount(2), "Remounting an existing mount")').toBeUndefined()
    expect(probeValue(stdout, 'errno'), 'with root.readonly, a write below / must fail with EROFS inside the container').toBe('EROFS')
  })

  it('reports a missing rootfs by name', async () => {
    const { host, dir } = await stage()
    const missing = join(dir('parent'), 'no-such-rootfs')
    const error = await caught(() => runInRootfs(host, rootfsSpec(missing, ['ls:/'])))
    expect(error, 'a missing rootfs must be a ContainerError').toBeInstanceOf(ContainerError)
    expect(error.message, 'the message must name the rootfs and say it does not exist').toContain(missing)
    expect(error.message).toMatch(/does not exist/)
  })

  it('refuses a rootfs without a mount namespace, before touching any mount', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['ls:/'])
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((ns) => ns.type !== 'mount')
    const before = await host.mountinfo()
    const error = await caught(() => runInRootfs(host, spec))
    expect(error, 'without a mount namespace of its own, every mount (and pivot_root) would change the host\'s: refuse with a ContainerError').toBeInstanceOf(ContainerError)
    expect(await host.mountinfo(), 'the host\'s mount table changed before the refusal').toBe(before)
  })

  it('leaves the caller in the new root, with the old root detached and its directory gone', async () => {
    const ns = await mountNamespace()
    const rootfs = join(await ns.tmpfs(), 'rootfs')
    tempRootfs('probe', ns.inside(rootfs))
    const files = lsOf(ns.inside(rootfs))
    await ns.helper.mount(rootfs, rootfs, null, ['bind'])
    await pivotRoot(ns.helper, rootfs)
    const [cwd, root] = ['cwd', 'root'].map((link) => statSync(`/proc/${ns.helper.pid}/${link}`))
    expect([cwd!.dev, cwd!.ino], 'the working directory still points into the old root: pivot_root(2) may or may not change the caller\'s working directory').toEqual([root!.dev, root!.ino])
    const points = [...mountsByPoint(await ns.mountinfo()).keys()]
    expect(points, 'the old root is still attached below the new one, and every host mount with it (pivot_root(2), put_old; umount2(2) for a mount still in use)').toEqual(['/'])
    expect(lsOf(ns.inside('/')), 'the new / must hold exactly the image\'s files: a put_old directory is left over').toEqual(files)
  })

  it('writes nothing into the rootfs: pivots into one that is read-only', async () => {
    const ns = await mountNamespace()
    const rootfs = join(await ns.tmpfs(), 'rootfs')
    tempRootfs('probe', ns.inside(rootfs))
    const files = lsOf(ns.inside(rootfs))
    await ns.helper.mount(rootfs, rootfs, null, ['bind'])
    await ns.helper.mount(null, rootfs, null, ['remount', 'bind', 'rdonly'])
    const error = await caught(() => pivotRoot(ns.helper, rootfs))
    expect(error?.message, 'pivotRoot wrote into the rootfs, which may be read-only or shared by many containers at once (twenty that share one collide on a put_old directory): pivot_root(2), NOTES, lets new_root and put_old be the same directory').toBeUndefined()
    expect([...mountsByPoint(await ns.mountinfo()).keys()], 'the old root must be detached').toEqual(['/'])
    expect(lsOf(ns.inside('/'))).toEqual(files)
  })

  it('lets pivot_root\'s own error through when new_root is not a mount point', async () => {
    const ns = await mountNamespace()
    const dir = join(await ns.tmpfs(), 'rootfs')
    mkdirSync(ns.inside(join(dir, 'bin')), { recursive: true })
    const error = await caught(() => pivotRoot(ns.helper, dir))
    expect(error, 'the SyscallError from pivot_root names the call and the errno: do not hide it').toBeInstanceOf(SyscallError)
    expect(error.syscall).toBe('pivot_root')
    // EBUSY when new_root sits on the current root mount itself, EINVAL when on another mount
    expect(['EBUSY', 'EINVAL'], 'pivot_root refuses a new_root that is not a mount point').toContain(error.code)
    expect(error.message, 'the message must be pivot_root\'s own, naming the call and its arguments').toMatch(/^pivot_root\(/)
  })
})

describeKernel('chroot versus pivot_root', () => {
  it('a chroot-only container can be escaped (the exercise)', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['chroot-escape'])
    const { stdout } = await runCaptured(spec, async (h) => {
      await host.enter(h)
      await enterNamespaces(h, spec)
      await chrootInto(h, rootfs)
    })
    expect(probeValue(stdout, 'root'), 'after chroot, a second chroot and enough "..", the probe must see the host\'s /').toEqual(lsOf('/'))
    // The exercise's "watch it work": vitest shows this line (npx vitest run test/03-rootfs -t escaped).
    console.log(`chrooted into ${rootfs}, the probe escaped and listed the host's /: ${probeValue<string[]>(stdout, 'root').join(' ')}`)
  })

  it('after pivot_root and detaching the old root, the same escape stays inside', async () => {
    const { host, rootfs, files } = await stage()
    const { stdout } = await runInRootfs(host, rootfsSpec(rootfs, ['chroot-escape']))
    const seen = probeValue<string[]>(stdout, 'root').filter((name) => name !== '.probe-escape') // the escape's own directory
    expect(seen, 'the escape reached files outside the image: the old root is still attached somewhere in the container\'s mount namespace (the chapter\'s "Why chroot is not enough")').toEqual(files)
  })
})
