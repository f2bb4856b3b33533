import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import { pivotRoot } from '#ch/03-rootfs/rootfs.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { BuiltinImage } from '../../minidocker/builtin.ts'
import { DEFAULT_MOUNTS, type Mount, type Spec } from '../../lib/oci.ts'
import { setupRootfs } from '../../lib/rootfs-setup.ts'
import { parseVolume } from '../../lib/volumes.ts'
import { SyscallError } from '../../native/helper.ts'
import { probeSpec, runCaptured } from '../support/container.ts'
import { tempRootfs } from '../support/rootfs.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountIn, mountNamespace, type MountNamespace } from '../support/mountns.ts'
import { startHelper } from '../support/helper.ts'
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
 * machine's own namespace, and a remount that reaches past the container's own mount into
 * the filesystem under it makes only a test's tmpfs read-only.
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
    const paths = ownPaths(spec)
    const before = linesAt(await host.mountinfo(), paths)
    try {
      await enterNamespaces(h, spec)
      await setupRootfs(h, spec)
    } finally {
      leaked.push(...newLines(before, linesAt(await host.mountinfo(), paths)))
    }
  })
}

/** The folders a run of `spec` in a stage may touch: its rootfs's disk and its volumes' disk. */
const ownPaths = (spec: Spec) => [spec.root!.path, ...(spec.mounts ?? []).filter((m) => m.type === 'bind').map((m) => m.source!)].map((p) => dirname(p))

/**
 * The lines of a mountinfo whose mount point is at or below one of `paths`. Other runs on the
 * machine mount and unmount meanwhile, and the stand-in's shared mounts carry those events in.
 */
const linesAt = (text: string, paths: string[]) => text.split('\n').filter((line) => {
  const point = line.split(' ')[4] ?? ''
  return paths.some((path) => point === path || point.startsWith(`${path}/`))
})

const newLines = (before: string[], after: string[]) => after.filter((l) => !before.includes(l))

/**
 * The mount points of a stand-in host whose mountinfo line went or changed between `before` and
 * `after`, among those the machine still has and those below the test's own `disks`: other tests
 * run beside this one, and once one of them unmounts and removes a folder of its own, the copy
 * this namespace took of its mount shows as "//deleted".
 */
function vanished(before: string[], after: string[], disks: string[]): string[] {
  const machine = new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' ')[4]))
  return newLines(after, before)
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!)
    .filter((point) => machine.has(point) || disks.some((disk) => point === disk || point.startsWith(`${disk}/`)))
}

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

describeKernel('a container in its own root filesystem', () => {
  it('sees only the rootfs\'s files at /, and no mount of the host', async () => {
    const { host, rootfs, files } = await stage()
    const spec = rootfsSpec(rootfs, ['mounts', 'ls:/'])
    const { code, stdout, stderr } = await runInRootfs(host, spec)
    expect(code, stderr).toBe(0)
    const own = new Set(['/', ...spec.mounts!.map((m) => m.destination)])
    const foreign = [...mountsByPoint(probeValue(stdout, 'mounts')).keys()].filter((point) => !own.has(point))
    expect(foreign, `the container's mount table holds mounts of the host (${foreign.slice(0, 3).join(', ')}...): where is the old root after pivot_root(2), and what still holds it? (the chapter's "Why chroot is not enough")`).toEqual([])
    expect(probeValue(stdout, 'ls'), 'ls / in the container, against the image\'s files').toEqual(files)
  })

  it('a tmpfs at /scratch with the options shared and size=1m', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['mounts'], [{ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['shared', 'size=1m'] }])
    let run: Awaited<ReturnType<typeof runInRootfs>> | undefined
    const error = await caught(async () => (run = await runInRootfs(host, spec)))
    const why = 'a tmpfs whose options include "shared": what does mount(2) do with a propagation flag? (mount(2), "Changing the propagation type of an existing mount")'
    expect(error?.message, why).toBeUndefined()
    const { code, stdout, stderr } = run!
    expect(code, `${stderr}: ${why}`).toBe(0)
    const line = (probeValue(stdout, 'mounts') as string).split('\n').find((l: string) => l.split(' ')[4] === '/scratch')
    expect(line, 'the mountinfo line of /scratch').toMatch(/ - tmpfs /)
    expect(line!.split(' - ')[0], 'the optional fields of /scratch\'s mountinfo line (proc(5), "/proc/pid/mountinfo")').toMatch(/ shared:\d+/)
  })

  it('sh -c in the busybox image', async () => {
    const { host, rootfs } = await stage('busybox')
    const spec = rootfsSpec(rootfs, [])
    spec.process.args = ['sh', '-c', 'test -x /bin/busybox && exec probe pid']
    const { code, stdout, stderr } = await runInRootfs(host, spec)
    expect(code, `sh in the busybox image failed: ${stderr}`).toBe(0)
    expect(probeValue(stdout, 'pid'), 'sh exec\'d the image\'s /bin/probe as PID 1').toBe(1)
  })

  it('ls /proc inside the container', async () => {
    const { host, rootfs } = await stage()
    const { stdout } = await runInRootfs(host, rootfsSpec(rootfs, ['ls:/proc']))
    const pids = probeValue<string[]>(stdout, 'ls').filter((name) => /^\d+$/.test(name))
    expect(pids, `/proc lists ${pids.length} processes, the container has one: whose PID namespace does a proc filesystem show? (pid_namespaces(7), "/proc and PID namespaces")`).toEqual(['1'])
  })

  it('/dev inside the container, and the image\'s own /dev afterwards', async () => {
    const { host, rootfs } = await stage()
    const imageDev = () => lsOf(host.inside(join(rootfs, 'dev')))
    const before = imageDev()
    const devices: Record<string, [number, number]> = { null: [1, 3], zero: [1, 5], full: [1, 7], random: [1, 8], urandom: [1, 9], tty: [5, 0] }
    const steps = [...Object.keys(devices).map((d) => `stat:/dev/${d}`), 'write:/dev/null:x', 'ls:/dev', 'mounts']
    const { code, stdout, stderr } = await runInRootfs(host, rootfsSpec(rootfs, steps))
    expect(imageDev(), 'these appeared in the image\'s own /dev, hidden inside the container: what covers the image\'s /dev, and when? (the chapter\'s "The whole setup, in runc\'s order")').toEqual(before)
    expect(code, stderr).toBe(0)
    const stats = probeLines(stdout).filter((l) => 'rdev' in l || 'errno' in l).slice(0, 6) as { mode?: number; rdev?: [number, number]; errno?: string }[]
    Object.entries(devices).forEach(([name, rdev], i) => {
      expect(stats[i]?.errno, `/dev/${name} is missing in the container`).toBeUndefined()
      expect(stats[i]!.rdev, `/dev/${name} in the container is another device: which numbers does the runtime spec give it? (runtime-spec config-linux.md, "Default Devices")`).toEqual(rdev)
      expect(stats[i]!.mode! & 0o777, `/dev/${name}: its permission bits`).toBe(0o666)
      expect(stats[i]!.mode! & 0o170000, `/dev/${name}: its file type`).toBe(0o020000)
    })
    expect(probeValue<string[]>(stdout, 'ls'), 'ls /dev in the container, against what programs expect to find there: which links and mount points besides the nodes? (runtime-spec config-linux.md, "Dev symbolic links"; the chapter\'s "/proc, /sys and a minimal /dev")').toEqual(expect.arrayContaining(['pts', 'shm', 'ptmx', 'fd', 'stdin', 'stdout', 'stderr']))
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    expect(mounts.get('/dev')?.type, 'the filesystem at /dev').toBe('tmpfs')
    expect(mounts.get('/dev/pts')?.type, 'the filesystem at /dev/pts').toBe('devpts')
    expect(mounts.get('/dev/shm')?.type, 'the filesystem at /dev/shm').toBe('tmpfs')
  })

  it('a spec with a user namespace in linux.namespaces: /dev\'s device nodes', async () => {
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
    expect(devNull, 'stat /dev/null').toMatchObject({ rdev: [1, 3] })
    expect(tty, 'stat /dev/tty').toMatchObject({ rdev: [5, 0] })
    expect(write, 'a write to /dev/null').toEqual({ wrote: '/dev/null' })
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    for (const name of ['null', 'zero', 'full', 'random', 'urandom', 'tty'])
      expect(mounts.has(`/dev/${name}`), `with a user namespace in the spec, /dev/${name} was made on the container's own /dev tmpfs: what would mknod(2) answer in a user namespace, and could a process there open a node on a tmpfs mounted in it? (mknod(2), ERRORS; mount_namespaces(7); runc's createDevices)`).toBe(true)
  })

  it('/proc and /sys, and a write below /sys', async () => {
    const { host, rootfs } = await stage()
    const { stdout } = await runInRootfs(host, rootfsSpec(rootfs, ['mounts', 'write:/sys/kernel/uevent_helper:x']))
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    expect(mounts.get('/proc')?.type, 'the filesystem at /proc').toBe('proc')
    expect(mounts.get('/sys')?.type, 'the filesystem at /sys').toBe('sysfs')
    expect(mounts.get('/sys')?.options, 'the mount options of /sys (lib/oci.ts, DEFAULT_MOUNTS)').toContain('ro')
    expect(probeValue(stdout, 'errno'), 'the errno of a write below /sys').toBe('EROFS')
  })

  it('the host\'s mount table before and after a run with a volume', async () => {
    const machine = readFileSync('/proc/self/mountinfo', 'utf8')
    const { host, rootfs, dir } = await stage()
    const volume = dir('volume')
    const spec = rootfsSpec(rootfs, ['ls:/'], [parseVolume(`${volume}:/data`)])
    // Other runs on the machine mount and unmount meanwhile: only the lines at this test's paths count.
    const ours = (text: string) => linesAt(text, ownPaths(spec))
    const before = ours(await host.mountinfo())
    await runInRootfs(host, spec)
    expect(newLines(before, ours(await host.mountinfo())), 'these mounts appeared outside the container: how do mount events cross from one namespace to another? (mount_namespaces(7), "Shared subtrees")').toEqual([])
    expect(ours(await host.mountinfo()), 'the stand-in host\'s mountinfo at the rootfs\'s and the volume\'s paths, before and after').toEqual(before)
    expect(ours(readFileSync('/proc/self/mountinfo', 'utf8')), 'the machine\'s mountinfo at the rootfs\'s and the volume\'s paths, before and after').toEqual(ours(machine))
  })

  it('a rootfs on a shared submount of the host, with a volume', async () => {
    // The stand-in's / and the disk the rootfs sits on are both mounts of their own, shared.
    const { host, rootfs, dir } = await stage()
    const leaked: string[] = []
    const error = await caught(() => runInRootfs(host, rootfsSpec(rootfs, ['ls:/'], [parseVolume(`${dir('volume')}:/data`)]), leaked))
    expect(leaked, 'these container mounts appeared on the host, through the shared mount the rootfs sits on: which mounts did your propagation change reach, and when was it made? (mount_namespaces(7), "Shared subtrees")').toEqual([])
    expect(error).toBeUndefined()
  })

  it('rootfsPropagation "shared" and -v DIR:/vol:rshared, as dockerd writes them: mounts cross at the volume, both ways, and nowhere else', async () => {
    const { host, rootfs, dir } = await stage()
    const volume = dir('volume')
    mkdirSync(host.inside(join(volume, 'later')))
    const spec = rootfsSpec(rootfs, ['mounts'], [{ destination: '/vol', type: 'bind', source: volume, options: ['rbind', 'rshared'] }])
    spec.linux!.rootfsPropagation = 'shared'
    const paths = ownPaths(spec)
    const before = await host.mountinfo()
    const [leaked, gone]: string[][] = [[], []]
    let run: Awaited<ReturnType<typeof runCaptured>> | undefined
    const error = await caught(async () => (run = await runCaptured(spec, async (h) => {
      await host.enter(h)
      try {
        await enterNamespaces(h, spec)
        await setupRootfs(h, spec)
        // Once the container is set up, the host mounts into the volume's folder, and the
        // container (its helper, before the exec) mounts into its /vol.
        await host.mount('-t', 'tmpfs', 'later', join(volume, 'later'))
        await h.mkdir('/vol/inner')
        await h.mount('inner', '/vol/inner', 'tmpfs')
      } finally {
        const after = await host.mountinfo()
        leaked.push(...newLines(linesAt(before, paths), linesAt(after, paths)).map((line) => line.split(' ')[4]!))
        gone.push(...vanished(before.split('\n'), after.split('\n'), [dirname(rootfs), dirname(volume)]))
      }
    })))
    const asked = 'the spec asks for rootfsPropagation "shared" and the volume for rshared, as dockerd writes them for -v DIR:/vol:rshared'
    expect(gone, `these mounts of the host vanished during the run (${asked}): which call reached the host's own mounts, and through which peer group? (mount_namespaces(7), "Shared subtrees")`).toEqual([])
    expect(error?.message, `${asked}; the setup failed: which of pivot_root(2)'s conditions on propagation did the namespace meet then, and which mount did the propagation you applied reach?`).toBeUndefined()
    expect(leaked.filter((point) => !point.startsWith(`${volume}/`)), `these container mounts appeared on the host (${asked}): which mounts had to stay shared for the volume, and which mount's peers received the container's own? (mount_namespaces(7), "Shared subtrees"; runc's prepareRoot)`).toEqual([])
    expect(leaked.sort(), `the host's mounts in the volume's folder after the container mounted a tmpfs at /vol/inner (${asked}): what did the container's namespace keep of the host's peer groups, and did anything change the volume's propagation after it was mounted? (mount_namespaces(7), "Shared subtrees")`).toEqual([join(volume, 'inner'), join(volume, 'later')])
    const inside = mountsByPoint(probeValue(run!.stdout, 'mounts'))
    expect(inside.has('/vol/later'), `the host mounted a tmpfs in the volume's folder after the setup, and the container does not see it at /vol/later (${asked}): what did the container's namespace keep of the host's peer groups?`).toBe(true)
  })

  it('rootfsPropagation "shared", with the rootfs a shared mount of its own on the host, as an overlay\'s merged directory is', async () => {
    const host = await mountNamespace({ shared: true })
    const disk = await host.tmpfs()
    const rootfs = join(disk, 'merged')
    mkdirSync(host.inside(rootfs))
    await host.mount('-t', 'tmpfs', '-o', 'mode=755', 'merged', rootfs)
    await host.mount('--make-shared', rootfs)
    tempRootfs('probe', host.inside(rootfs))
    const files = lsOf(host.inside(rootfs))
    const spec = rootfsSpec(rootfs, ['ls:/'])
    spec.linux!.rootfsPropagation = 'shared'
    const leaked: string[] = []
    let run: Awaited<ReturnType<typeof runInRootfs>> | undefined
    const error = await caught(async () => (run = await runInRootfs(host, spec, leaked)))
    const asked = 'the spec asks for rootfsPropagation "shared", and the rootfs directory is itself a shared mount on the host'
    expect(leaked.map((line) => line.split(' ')[4]), `these container mounts appeared on the host (${asked}): which mount received them, and what did your propagation change find for the rootfs? (mount_namespaces(7), "Shared subtrees"; proc(5), "/proc/pid/mountinfo")`).toEqual([])
    expect(error?.message, `${asked}; the setup failed: which of pivot_root(2)'s conditions on propagation did the namespace meet then, and which mount is the rootfs on?`).toBeUndefined()
    expect(run!.code, run!.stderr).toBe(0)
    expect(probeValue(run!.stdout, 'ls'), 'ls / in the container, against the image\'s files').toEqual(files)
  })

  it('volumes -v DIR:/rw and -v DIR:/ro:ro', async () => {
    const { host, rootfs, dir } = await stage()
    const volume = dir('volume', { 'in.txt': 'from the host\n' })
    const spec = rootfsSpec(rootfs, ['cat:/rw/in.txt', 'write:/rw/out.txt:written', 'write:/ro/nope.txt:x'],
      [parseVolume(`${volume}:/rw`), parseVolume(`${volume}:/ro:ro`)])
    const { stdout } = await runInRootfs(host, spec)
    expect(writeError(host.inside(join(volume, 'outside.txt'))), 'the :ro volume\'s directory became read-only outside the container too: what did the remount change, this one mount or the filesystem under it? (mount(2), "Remounting an existing mount")').toBeUndefined()
    expect(probeValue(stdout, 'cat'), 'cat /rw/in.txt in the container').toBe('from the host\n')
    expect(readFileSync(host.inside(join(volume, 'out.txt')), 'utf8'), 'out.txt on the host, after the container wrote /rw/out.txt').toBe('written')
    const roWrite = probeLines(stdout).find((l) => l.wrote === '/ro/nope.txt') ? 'it succeeded' : probeValue(stdout, 'errno')
    expect(roWrite, 'a write into the :ro volume went through: which flags does mount(2) honour when it makes a bind mount? (mount(2), "Creating a bind mount")').toBe('EROFS')
    expect(lsOf(host.inside(volume)), 'the volume\'s files on the host after the run').toEqual(['in.txt', 'out.txt'])
  })

  it('a single-file volume, -v FILE:/etc/app.conf:ro', async () => {
    const { host, rootfs, dir } = await stage()
    const file = join(dir('config', { 'app.conf': 'one file\n' }), 'app.conf')
    const spec = rootfsSpec(rootfs, ['cat:/etc/app.conf'], [parseVolume(`${file}:/etc/app.conf:ro`)])
    const error = await caught(async () => {
      const { stdout } = await runInRootfs(host, spec)
      expect(probeValue(stdout, 'cat'), 'cat /etc/app.conf in the container').toBe('one file\n')
    })
    expect(error?.message, 'a single-file volume failed: what kind of mount point did you make for it, and what can a file be bound onto? (mount(2), ERRORS)').toBeUndefined()
  })

  it('a single-file volume over the image\'s own /etc/app.conf', async () => {
    const { host, rootfs, dir } = await stage()
    const imageFile = host.inside(join(rootfs, 'etc/app.conf'))
    mkdirSync(dirname(imageFile), { recursive: true })
    writeFileSync(imageFile, 'from the image\n')
    const file = join(dir('config', { 'app.conf': 'from the volume\n' }), 'app.conf')
    const { code, stdout, stderr } = await runInRootfs(host, rootfsSpec(rootfs, ['cat:/etc/app.conf'], [parseVolume(`${file}:/etc/app.conf`)]))
    expect(readFileSync(imageFile, 'utf8'), 'the image\'s own /etc/app.conf was emptied while its mount point was made: which call changed it, and which view of the rootfs did the check before it see? (runc: createIfNotExists; native/helper.ts; the chapter\'s "Check your work" on the stand-in host)').toBe('from the image\n')
    expect(code, stderr).toBe(0)
    expect(probeValue(stdout, 'cat'), 'cat /etc/app.conf in the container').toBe('from the volume\n')
  })

  it('a spec that lists -v INNER:/data/inner before -v OUTER:/data', async () => {
    const { host, rootfs, dir } = await stage()
    const inner = dir('inner', { 'inner.txt': 'inner\n' })
    const outer = dir('outer', { 'outer.txt': 'outer\n' })
    const spec = rootfsSpec(rootfs, ['ls:/data'], [parseVolume(`${inner}:/data/inner`), parseVolume(`${outer}:/data`)])
    const { code, stdout, stderr } = await runInRootfs(host, spec)
    expect(code, stderr).toBe(0)
    expect(lsOf(host.inside(outer)), 'a mount point appeared inside the /data volume, on the host: in which order were the two mounted, and in which order does the spec list them?').toEqual(['outer.txt'])
    expect(probeValue(stdout, 'ls'), 'ls /data in the container: in which order does a runtime take spec.mounts, and whose job is it to put parents first? (runc: prepareRootfs)').toEqual(['outer.txt'])
  })

  it('root.readonly: true', async () => {
    const { host, rootfs } = await stage()
    const spec = rootfsSpec(rootfs, ['write:/tmp/x:1'])
    spec.root!.readonly = true
    const { stdout } = await runInRootfs(host, spec)
    expect(writeError(host.inside(join(rootfs, 'tmp/outside'))), 'the filesystem under the rootfs became read-only outside the container too: what did the remount change, the container\'s mount or the filesystem under it? (mount(2), "Remounting an existing mount")').toBeUndefined()
    expect(probeValue(stdout, 'errno'), 'the errno of a write below / in the container, with root.readonly').toBe('EROFS')
  })

  it('a rootfs that does not exist', async () => {
    const { host, dir } = await stage()
    const missing = join(dir('parent'), 'no-such-rootfs')
    const error = await caught(() => runInRootfs(host, rootfsSpec(missing, ['ls:/'])))
    expect(error, 'a missing rootfs must be a ContainerError').toBeInstanceOf(ContainerError)
    expect(error.message, 'the message must name the rootfs and say it does not exist').toContain(missing)
    expect(error.message, 'the message must say the rootfs "does not exist"').toMatch(/does not exist/)
  })

  it('pivotRoot into a bind-mounted rootfs', async () => {
    const ns = await mountNamespace()
    const rootfs = join(await ns.tmpfs(), 'rootfs')
    tempRootfs('probe', ns.inside(rootfs))
    const files = lsOf(ns.inside(rootfs))
    await ns.mount('--bind', rootfs, rootfs)
    await pivotRoot(ns.helper, rootfs)
    const [cwd, root] = ['cwd', 'root'].map((link) => statSync(`/proc/${ns.helper.pid}/${link}`))
    expect([cwd!.dev, cwd!.ino], 'the caller\'s working directory after pivotRoot is not the new /: what does pivot_root(2) say of the working directory?').toEqual([root!.dev, root!.ino])
    const points = [...mountsByPoint(await ns.mountinfo()).keys()]
    expect(points, 'the mount points after pivotRoot: where is the old root, and what does it still hold? (pivot_root(2), put_old)').toEqual(['/'])
    expect(lsOf(ns.inside('/')), 'ls / after pivotRoot, against the image\'s files').toEqual(files)
  })

  it('pivotRoot into a read-only rootfs', async () => {
    const ns = await mountNamespace()
    const rootfs = join(await ns.tmpfs(), 'rootfs')
    tempRootfs('probe', ns.inside(rootfs))
    const files = lsOf(ns.inside(rootfs))
    await ns.mount('--bind', '-o', 'ro', rootfs, rootfs)
    expect(writeError(ns.inside(join(rootfs, 'tmp/x'))), 'test set-up: the rootfs must be read-only here').toBe('EROFS')
    const error = await caught(() => pivotRoot(ns.helper, rootfs))
    expect(error?.message, `pivotRoot failed on a read-only rootfs (${error?.message}): what did it write into the rootfs, and what do pivot_root(2)'s conditions on put_old ask for, exactly?`).toBeUndefined()
    expect([...mountsByPoint(await ns.mountinfo()).keys()], 'the mount points after pivotRoot').toEqual(['/'])
    expect(lsOf(ns.inside('/')), 'ls / after pivotRoot, against the image\'s files').toEqual(files)
  })

  it('pivotRoot in a namespace whose / is still shared with the host', async () => {
    const host = await mountNamespace({ shared: true })
    const disk = await host.tmpfs()
    const rootfs = join(disk, 'rootfs')
    tempRootfs('probe', host.inside(rootfs))
    const files = lsOf(host.inside(rootfs))
    const before = (await host.mountinfo()).split('\n')
    // The container's namespace, a copy of the host's: / and the mounts below it are peers of
    // the host's. Only the disk and the rootfs on it are made private, as pivot_root requires.
    const helper = startHelper()
    await host.enter(helper)
    await helper.unshare(['mount'])
    for (const args of [['--make-private', disk], ['--bind', rootfs, rootfs]]) await mountIn(helper.pid, args)
    const error = await caught(() => pivotRoot(helper, rootfs))
    expect(error?.message, 'pivotRoot failed in a namespace whose / is shared (its new_root and the mount under it are private)').toBeUndefined()
    const after = (await host.mountinfo()).split('\n')
    const gone = vanished(before, after, [disk])
    expect(gone, `these mounts vanished from the host when pivotRoot was done with the old root: which of your calls reached the host, and how? (mount_namespaces(7), "Shared subtrees"; runc's pivotRoot)`).toEqual([])
    expect([...mountsByPoint(readFileSync(`/proc/${helper.pid}/mountinfo`, 'utf8')).keys()], 'the mount points after pivotRoot').toEqual(['/'])
    expect(lsOf(`/proc/${helper.pid}/root`), 'ls / after pivotRoot, against the image\'s files').toEqual(files)
  })

  it('pivotRoot into a directory that is not a mount point', async () => {
    const ns = await mountNamespace()
    const dir = join(await ns.tmpfs(), 'rootfs')
    mkdirSync(ns.inside(join(dir, 'bin')), { recursive: true })
    const error = await caught(() => pivotRoot(ns.helper, dir))
    expect(error, 'pivot_root\'s own SyscallError did not come through (see pivotRoot\'s @throws)').toBeInstanceOf(SyscallError)
    expect(error.syscall, 'the call the SyscallError names').toBe('pivot_root')
    // EBUSY when new_root sits on the current root mount itself, EINVAL when on another mount
    expect(['EBUSY', 'EINVAL'], 'the errno of pivot_root(2) for this new_root').toContain(error.code)
    expect(error.message, 'the message must be pivot_root\'s own, naming the call and its arguments').toMatch(/^pivot_root\(/)
  })
})

/**
 * A volume's source for the :ro tests: a directory `sub` on the tmpfs mounts `layers` (their
 * mount options), made in the stand-in in that order at `name`, each on top of the one before.
 */
async function sourceOn(s: Stage, name: string, ...layers: string[]): Promise<{ point: string; source: string }> {
  const point = s.dir(name)
  for (const options of layers) await s.host.mount('-t', 'tmpfs', '-o', `${options},mode=755`, 'tmpfs', point)
  for (const view of [s.host.inside(point), point]) mkdirSync(join(view, 'sub'))
  return { point, source: join(point, 'sub') }
}

describeKernel('read-only volumes and their source\'s mount flags', () => {
  it('-v :ro from a nosuid,nodev,noexec mount, from a nodiratime one, from two mounts stacked, and from a strictatime,nodiratime one', async () => {
    const s = await stage()
    const volumes = {
      '/locked': await sourceOn(s, 'locked', 'nosuid,nodev,noexec'),
      '/atime': await sourceOn(s, 'atime', 'nodiratime'),
      '/stacked': await sourceOn(s, 'stacked', 'rw', 'nosuid,noexec,noatime'),
      '/strict': await sourceOn(s, 'strict', 'strictatime,nodiratime'),
    }
    const why: Record<keyof typeof volumes, string> = {
      '/locked': 'a remount sets a mount\'s per-mount flags to exactly those it is given: where did yours come from, and whose mount table did you read? (mount(2), "Remounting an existing mount"; the chapter\'s "Read-only, and nothing less")',
      '/atime': 'which of the source\'s mountinfo words did your remount carry, and what does the kernel do with the atime flags when a remount names one of them? (mount(2), MS_NODIRATIME and "Remounting an existing mount")',
      '/stacked': 'two mounts are stacked at the source\'s mount point: which line of mountinfo is the mount a path is on? (proc(5), "/proc/pid/mountinfo"; the chapter\'s "Read-only, and nothing less")',
      '/strict': 'the kernel updates this source\'s access times on every read, and the volume\'s line shows it would not: which atime setting did your remount ask for, and how does mountinfo write the one the source has? (mount(2), MS_STRICTATIME and "Remounting an existing mount"; proc(5))',
    }
    // What the kernel shows for each source: the last mountinfo line at its mount point (the top of the stack).
    const table = await s.host.mountinfo()
    const sourceOptions = Object.fromEntries(Object.entries(volumes).map(([dest, { point }]) => [dest, mountsByPoint(table).get(point)!.options]))
    const spec = rootfsSpec(s.rootfs, ['mounts'], Object.entries(volumes).map(([dest, { source }]) => parseVolume(`${source}:${dest}:ro`)))
    let run: Awaited<ReturnType<typeof runInRootfs>> | undefined
    const error = await caught(async () => (run = await runInRootfs(s.host, spec)))
    expect(error?.message, 'the setup of these :ro volumes failed: which line of the helper\'s mountinfo did you take for each volume, and which mounts did you take to be below it? (proc(5), "/proc/pid/mountinfo"; the chapter\'s "Read-only, and nothing less")').toBeUndefined()
    const { code, stdout, stderr } = run!
    expect(code, stderr).toBe(0)
    const inside = mountsByPoint(probeValue(stdout, 'mounts'))
    for (const dest of Object.keys(volumes) as (keyof typeof volumes)[]) {
      const got = inside.get(dest)?.options ?? []
      expect(got, `the :ro volume at ${dest} is not read-only in the container (${got.join(',')}): which flags does mount(2) honour when it makes a bind mount? (mount(2), "Creating a bind mount")`).toContain('ro')
      const wanted = ['ro', ...sourceOptions[dest]!.filter((o) => o !== 'rw')]
      const lost = wanted.filter((o) => !got.includes(o))
      expect(lost, `the :ro volume at ${dest} lost ${lost.join(',')} of its source's mount flags (source: ${sourceOptions[dest]!.join(',')}, in the container: ${got.join(',')}): ${why[dest]}`).toEqual([])
      expect(got.filter((o) => !wanted.includes(o)), `the :ro volume at ${dest} has flags its source has not (source: ${sourceOptions[dest]!.join(',')}, in the container: ${got.join(',')}): ${why[dest]}`).toEqual([])
    }
    expect(mountsByPoint(await s.host.mountinfo()).get(volumes['/locked'].point)?.options, 'the source\'s own mount on the host, after the run: what did the remount change, the container\'s mount or the one it came from?').toEqual(sourceOptions['/locked'])
  })
})

describeKernel('a read-only volume with mounts below its source', () => {
  it('-v :ro from a folder that has a nosuid,noexec tmpfs mounted in it, and a nodev,noatime one in that', async () => {
    const s = await stage()
    const { source } = await sourceOn(s, 'tree', 'nosuid,nodev,noexec')
    // Below the source, in the stand-in only: what an admin (or a volume plugin) mounted there.
    const below: Record<string, string> = { inner: 'nosuid,noexec', 'inner/deeper': 'nodev,noatime' }
    for (const [path, options] of Object.entries(below)) {
      mkdirSync(s.host.inside(join(source, path)))
      await s.host.mount('-t', 'tmpfs', '-o', `${options},mode=755`, 'tmpfs', join(source, path))
    }
    const table = mountsByPoint(await s.host.mountinfo())
    const sourceOptions = Object.fromEntries(['', ...Object.keys(below)].map((path) => [path, table.get(path ? join(source, path) : dirname(source))!.options]))
    const spec = rootfsSpec(s.rootfs, ['mounts', 'write:/data/inner/deeper/new.txt:x'], [parseVolume(`${source}:/data:ro`)])
    const { stdout } = await runInRootfs(s.host, spec)
    const inside = mountsByPoint(probeValue(stdout, 'mounts'))
    for (const path of ['', ...Object.keys(below)]) {
      const dest = path ? `/data/${path}` : '/data'
      const got = inside.get(dest)?.options
      expect(got, `the container has no mount at ${dest}, where its source has one below the :ro volume's: what does an rbind copy? (mount(2), "Creating a bind mount")`).toBeDefined()
      const own = sourceOptions[path]!.filter((o) => o !== 'rw')
      expect(got, `the :ro volume's mount at ${dest} is writable in the container (${got!.join(',')}), where the host mounted it below the volume's source: what did the read-only change reach, and what did it not? (mount(2), "Remounting an existing mount"; proc(5), "/proc/pid/mountinfo")`).toContain('ro')
      const [lost, added] = [own.filter((o) => !got!.includes(o)), got!.filter((o) => o !== 'ro' && !own.includes(o))]
      expect([...lost, ...added], `the :ro volume's mount at ${dest} shows ${got!.join(',')} where the mount it copies shows ${sourceOptions[path]!.join(',')} (and ro): whose line did its remount read? (proc(5), "/proc/pid/mountinfo")`).toEqual([])
    }
    expect(probeValue(stdout, 'errno'), 'the errno of a write into /data/inner/deeper, below the :ro volume').toBe('EROFS')
    const after = mountsByPoint(await s.host.mountinfo())
    for (const path of Object.keys(below))
      expect(after.get(join(source, path))?.options, `the host's own mount at ${join(source, path)} after the run: which mount did a remount of yours change?`).toEqual(sourceOptions[path])
  })
})

describeKernel('a read-only volume whose names need escaping', () => {
  it('-v :ro from a nosuid,nodev,noexec mount at a folder with a space, to a destination with a space and a backslash', async () => {
    const s = await stage()
    const dest = '/my vol\\x'
    const { point, source } = await sourceOn(s, 'a source', 'nosuid,nodev,noexec')
    // mountinfo writes a space, tab, newline and backslash in a path as an octal escape (proc(5))
    const escaped = (path: string) => path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)
    const sourceOptions = mountsByPoint(await s.host.mountinfo()).get(escaped(point))!.options
    const spec = rootfsSpec(s.rootfs, ['mounts'], [{ destination: dest, type: 'bind', source, options: ['rbind', 'ro'] }])
    const why = 'which line of the helper\'s mountinfo did you take for this mount, and how does that table write a mount point? (proc(5), "/proc/pid/mountinfo")'
    let run: Awaited<ReturnType<typeof runInRootfs>> | undefined
    const error = await caught(async () => (run = await runInRootfs(s.host, spec)))
    expect(error?.message, `the setup of a :ro volume at ${JSON.stringify(dest)} failed: ${why}`).toBeUndefined()
    const { code, stdout, stderr } = run!
    expect(code, `the container with a :ro volume at ${JSON.stringify(dest)} failed (${stderr.trim()}): ${why}`).toBe(0)
    const got = mountsByPoint(probeValue(stdout, 'mounts')).get(escaped(dest))?.options ?? []
    const wanted = ['ro', ...sourceOptions.filter((o) => o !== 'rw')]
    const [lost, added] = [wanted.filter((o) => !got.includes(o)), got.filter((o) => !wanted.includes(o))]
    expect([...lost, ...added], `the :ro volume at ${JSON.stringify(dest)} shows ${got.join(',')} where its source shows ${sourceOptions.join(',')} (and ro): ${why}`).toEqual([])
  })
})

describeKernel('chroot versus pivot_root', () => {
  it('the same escape, after setupRootfs', async () => {
    const { host, rootfs, files } = await stage()
    const { stdout } = await runInRootfs(host, rootfsSpec(rootfs, ['chroot-escape']))
    const seen = probeValue<string[]>(stdout, 'root').filter((name) => name !== '.probe-escape') // the escape's own directory
    expect(seen, 'the escape reached files outside the image: what of the host is still in the container\'s mount namespace? (the chapter\'s "Why chroot is not enough")').toEqual(files)
  })
})
