import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import {
  chrootInto, DEFAULT_MOUNTS, mountOptions, parseVolume, pivotRoot, setupRootfs,
} from '#ch/03-rootfs/rootfs.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Mount, Spec } from '../../lib/oci.ts'
import { SyscallError } from '../../native/helper.ts'
import { probeSpec, runCaptured } from '../support/container.ts'
import { tempRootfs } from '../support/rootfs.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace } from '../support/mountns.ts'
import { probeLines, probeValue } from '../support/probe.ts'

/** A spec that runs /bin/probe `steps` in `rootfs`, with the default mounts plus `extra`. */
function rootfsSpec(rootfs: string, steps: string[], extra: Mount[] = []): Spec {
  const spec = probeSpec(steps, ['pid', 'ipc', 'uts', 'mount'], '/bin/probe')
  spec.root = { path: rootfs }
  spec.mounts = [...DEFAULT_MOUNTS, ...extra]
  return spec
}

/** Run `spec` the way minidocker does: namespaces (02), then the root filesystem (03). */
function runInRootfs(spec: Spec) {
  return runCaptured(spec, async (h) => {
    await enterNamespaces(h, spec)
    await setupRootfs(h, spec)
  })
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
      expect(await caught(() => parseVolume(bad)), `-v ${bad} must be refused`).toBeInstanceOf(ContainerError)
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
    expect(mountOptions([]), 'no options: no flags, no data').toEqual({ flags: [], data: '' })
  })
})

describeKernel('a container in its own root filesystem', () => {
  it('sees only the rootfs\'s files at /', async () => {
    const rootfs = tempRootfs()
    const { code, stdout, stderr } = await runInRootfs(rootfsSpec(rootfs, ['ls:/']))
    expect(code, stderr).toBe(0)
    expect(probeValue(stdout, 'ls'), 'the container\'s / must list exactly the rootfs directory (and no leftover put_old directory)').toEqual(lsOf(rootfs))
  })

  it('finds the command in the image after pivot_root: sh is the busybox image\'s', async () => {
    const spec = rootfsSpec(tempRootfs('busybox'), [])
    spec.process.args = ['sh', '-c', 'test -x /bin/busybox && exec probe pid']
    const { code, stdout, stderr } = await runInRootfs(spec)
    expect(code, `sh in the busybox image failed: ${stderr}`).toBe(0)
    expect(probeValue(stdout, 'pid'), 'sh exec\'d the image\'s /bin/probe as PID 1').toBe(1)
  })

  it('mounts a /proc that lists only the container\'s processes', async () => {
    const { stdout } = await runInRootfs(rootfsSpec(tempRootfs(), ['ls:/proc']))
    const pids = probeValue<string[]>(stdout, 'ls').filter((name) => /^\d+$/.test(name))
    expect(pids, `/proc lists ${pids.length} processes: mount a new proc after fork, inside the PID namespace`).toEqual(['1'])
  })

  it('gives a minimal /dev on a tmpfs, with devpts, shm and the usual devices', async () => {
    const devices: Record<string, [number, number]> = { null: [1, 3], zero: [1, 5], full: [1, 7], random: [1, 8], urandom: [1, 9], tty: [5, 0] }
    const steps = [...Object.keys(devices).map((d) => `stat:/dev/${d}`), 'write:/dev/null:x', 'ls:/dev', 'mounts']
    const { code, stdout, stderr } = await runInRootfs(rootfsSpec(tempRootfs(), steps))
    expect(code, stderr).toBe(0)
    const stats = probeLines(stdout).filter((l) => 'rdev' in l) as { mode: number; rdev: [number, number] }[]
    Object.entries(devices).forEach(([name, rdev], i) => {
      expect(stats[i]!.rdev, `/dev/${name} must be char device ${rdev.join(':')}`).toEqual(rdev)
      expect(stats[i]!.mode & 0o777, `/dev/${name} must be mode 0666 so any user can use it`).toBe(0o666)
      expect(stats[i]!.mode & 0o170000, `/dev/${name} must be a character device`).toBe(0o020000)
    })
    expect(probeValue<string[]>(stdout, 'ls')).toEqual(expect.arrayContaining(['pts', 'shm', 'ptmx', 'fd', 'stdin', 'stdout', 'stderr']))
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    expect(mounts.get('/dev')?.type, '/dev must be a tmpfs of the container\'s own').toBe('tmpfs')
    expect(mounts.get('/dev/pts')?.type).toBe('devpts')
    expect(mounts.get('/dev/shm')?.type).toBe('tmpfs')
  })

  it('mounts /sys read-only and /proc as proc', async () => {
    const { stdout } = await runInRootfs(rootfsSpec(tempRootfs(), ['mounts', 'write:/sys/kernel/uevent_helper:x']))
    const mounts = mountsByPoint(probeValue(stdout, 'mounts'))
    expect(mounts.get('/proc')?.type).toBe('proc')
    expect(mounts.get('/sys')?.type).toBe('sysfs')
    expect(mounts.get('/sys')?.options, '/sys must be mounted with "ro"').toContain('ro')
    expect(probeValue(stdout, 'errno'), 'writing below /sys must fail with EROFS').toBe('EROFS')
  })

  it('leaves the host\'s mount table byte for byte as it was', async () => {
    const before = readFileSync('/proc/self/mountinfo', 'utf8')
    const volume = tempDir()
    await runInRootfs(rootfsSpec(tempRootfs(), ['ls:/'], [parseVolume(`${volume}:/data`)]))
    const after = readFileSync('/proc/self/mountinfo', 'utf8')
    const added = after.split('\n').filter((l) => !before.includes(l))
    expect(added, 'these mounts appeared on the host: the container\'s mounts propagated out').toEqual([])
    expect(after).toBe(before)
  })

  it('keeps its mounts from propagating even where / is shared, as systemd makes it', async () => {
    const rootfs = tempRootfs()
    const spec = rootfsSpec(rootfs, ['ls:/'], [parseVolume(`${tempDir()}:/data`)])
    let leaked: string[] = []
    await runCaptured(spec, async (h) => {
      // A stand-in host: a mount namespace whose / is shared, like a systemd machine's.
      await h.unshare(['mount'])
      await h.mount(null, '/', null, ['rec', 'shared'])
      await h.fork() // the relay left behind (h.pid) stays in the stand-in host namespace
      const table = () => readFileSync(`/proc/${h.pid}/mountinfo`, 'utf8')
      const before = table()
      await enterNamespaces(h, spec)
      await setupRootfs(h, spec)
      leaked = table().split('\n').filter((l) => !before.includes(l))
    })
    expect(leaked, 'with a shared /, these container mounts reached the host: make / recursively private (MS_REC|MS_PRIVATE) before mounting anything').toEqual([])
  })

  it('bind-mounts -v volumes, read-write and read-only', async () => {
    const host = tempDir()
    writeFileSync(join(host, 'in.txt'), 'from the host\n')
    const spec = rootfsSpec(tempRootfs(), ['cat:/rw/in.txt', 'write:/rw/out.txt:written', 'write:/ro/nope.txt:x'],
      [parseVolume(`${host}:/rw`), parseVolume(`${host}:/ro:ro`)])
    const { stdout } = await runInRootfs(spec)
    expect(probeValue(stdout, 'cat'), 'a file in the volume must be readable inside').toBe('from the host\n')
    expect(readFileSync(join(host, 'out.txt'), 'utf8'), 'a write into a rw volume must reach the host directory').toBe('written')
    expect(probeValue(stdout, 'errno'), 'a :ro volume must refuse writes with EROFS: bind, then remount with MS_RDONLY').toBe('EROFS')
    expect(lsOf(host), 'the write to the :ro volume reached the host').toEqual(['in.txt', 'out.txt'])
  })

  it('bind-mounts a single file', async () => {
    const file = join(tempDir(), 'config')
    writeFileSync(file, 'one file\n')
    const { stdout } = await runInRootfs(rootfsSpec(tempRootfs(), ['cat:/etc/app.conf'], [parseVolume(`${file}:/etc/app.conf:ro`)]))
    expect(probeValue(stdout, 'cat')).toBe('one file\n')
  })

  it('can make the whole rootfs read-only (root.readonly)', async () => {
    const spec = rootfsSpec(tempRootfs(), ['write:/tmp/x:1'])
    spec.root!.readonly = true
    const { stdout } = await runInRootfs(spec)
    expect(probeValue(stdout, 'errno'), 'with root.readonly, / must be remounted read-only after pivot_root').toBe('EROFS')
  })

  it('reports a missing rootfs by name', async () => {
    const missing = join(tempDir(), 'no-such-rootfs')
    const error = await caught(() => runInRootfs(rootfsSpec(missing, ['ls:/'])))
    expect(error, 'a missing rootfs must be a ContainerError').toBeInstanceOf(ContainerError)
    expect(error.message, 'the message must name the rootfs and say it does not exist').toContain(missing)
    expect(error.message).toMatch(/does not exist/)
  })

  it('refuses a rootfs without a mount namespace, before touching any mount', async () => {
    const spec = rootfsSpec(tempRootfs(), ['ls:/'])
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((ns) => ns.type !== 'mount')
    const before = readFileSync('/proc/self/mountinfo', 'utf8')
    const error = await caught(() => runInRootfs(spec))
    expect(error, 'pivot_root in the host\'s mount namespace would move the host\'s root: refuse with a ContainerError').toBeInstanceOf(ContainerError)
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before)
  })

  it('lets pivot_root\'s own error through when new_root is not a mount point', async () => {
    const ns = await mountNamespace()
    const dir = tempDir()
    mkdirSync(join(dir, 'bin'))
    const error = await caught(() => pivotRoot(ns.helper, dir))
    expect(error, 'the SyscallError from pivot_root names the call and the errno: do not hide it').toBeInstanceOf(SyscallError)
    expect(error.syscall).toBe('pivot_root')
    // EBUSY when new_root sits on the current root mount itself, EINVAL when on another mount
    expect(['EBUSY', 'EINVAL'], 'pivot_root refuses a new_root that is not a mount point').toContain(error.code)
    expect(error.message).toMatch(new RegExp(`^pivot_root\\("${dir}", "${dir}/[^"]+"\\) failed: E(BUSY|INVAL)`))
  })
})

describeKernel('chroot versus pivot_root', () => {
  it('a chroot-only container can be escaped (the exercise)', async () => {
    const rootfs = tempRootfs()
    const spec = rootfsSpec(rootfs, ['chroot-escape'])
    const { stdout } = await runCaptured(spec, async (h) => {
      await enterNamespaces(h, spec)
      await chrootInto(h, rootfs)
    })
    expect(probeValue(stdout, 'root'), 'after chroot, a second chroot and enough "..", the probe must see the host\'s /').toEqual(lsOf('/'))
  })

  it('after pivot_root and detaching the old root, the same escape stays inside', async () => {
    const rootfs = tempRootfs()
    const { stdout } = await runInRootfs(rootfsSpec(rootfs, ['chroot-escape']))
    expect(probeValue(stdout, 'root'), 'the escape reached files outside the rootfs: pivot_root, then umount2(put_old, MNT_DETACH)').toEqual(lsOf(rootfs))
  })
})
