/**
 * A mount point swapped for a symlink between the check and the mount (CVE-2021-30465), or
 * while it is being made (CVE-2024-45310): a directory on the way to the destination becomes a
 * symlink to a stand-in host folder before each of the helper's requests in turn. The mount
 * point must be made, and the mount land, inside the rootfs, or be refused; never outside.
 * The swaps go on after the mount: a :ro volume's remount must reach the mount just made, or
 * be refused with that mount taken back, whatever the name leads to by then (a plain
 * directory of the same name, a symlink into the host's own mount).
 * Everything happens in a mount namespace and on a tmpfs the test made.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect, it } from 'vitest'
import { makeMountPoint, mountInRootfs, parseVolume, type MountPointKind } from '#ch/03-rootfs/rootfs.ts'
import type { Helper } from '../../native/helper.ts'
import { ContainerError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { swappedBeforeRequest } from '../support/interpose.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace } from '../support/mountns.ts'

/** The lines of a mountinfo whose mount point is at or below `dir`. */
const linesBelow = (mountinfo: string, dir: string) =>
  mountinfo.split('\n').filter(Boolean).filter((line) => {
    const point = line.split(' ')[4]!
    return point === dir || point.startsWith(`${dir}/`)
  })

/** How many fds the process serving `helper`'s requests holds. */
const fdCount = (helper: Helper) => readdirSync(`/proc/${helper.serving}/fd`).length

/**
 * What is done to the rootfs's /vol/data, the mount point of `-v SRC:/vol/data:ro`, right before
 * one of the helper's requests: the directory is renamed aside, inside the rootfs, and its name
 * then leads somewhere else. A swap that takes `times` is done again before every later request.
 */
const SWAPS: Record<string, (rootfs: string, host: string, times: number) => void> = {
  '/vol swapped for a symlink to the host': (rootfs, host) => {
    renameSync(join(rootfs, 'vol'), join(rootfs, 'vol.real'))
    symlinkSync(host, join(rootfs, 'vol'))
  },
  '/vol swapped for a plain directory of the same name': (rootfs) => {
    renameSync(join(rootfs, 'vol'), join(rootfs, 'vol.real'))
    mkdirSync(join(rootfs, 'vol', 'data'), { recursive: true })
  },
  '/vol/data swapped for a plain directory of the same name': (rootfs) => {
    renameSync(join(rootfs, 'vol', 'data'), join(rootfs, 'vol', 'data.real'))
    mkdirSync(join(rootfs, 'vol', 'data'))
  },
  '/vol/data swapped for a symlink into the host': (rootfs, host) => {
    renameSync(join(rootfs, 'vol', 'data'), join(rootfs, 'vol', 'data.real'))
    symlinkSync(join(host, 'data'), join(rootfs, 'vol', 'data'))
  },
  '/vol kept moving (a plain /vol/data in its place)': (rootfs, _host, times) => {
    renameSync(join(rootfs, times ? `vol.moved${times - 1}` : 'vol'), join(rootfs, `vol.moved${times}`))
    if (!times) mkdirSync(join(rootfs, 'vol', 'data'), { recursive: true })
  },
}

describeKernel('a mount point swapped between the check and the mount, and between the mount and its remount', () => {
  for (const [swapName, swap] of Object.entries(SWAPS)) {
    it(`-v SRC:/vol/data:ro, with ${swapName} before each request`, async () => {
      const ns = await mountNamespace()
      const disk = await ns.tmpfs() // the rootfs and the stand-in host's folder: nothing of the machine's
      // The host's folder holds a mount of its own, whose line is compared before and after.
      const host = join(disk, 'host')
      mkdirSync(ns.inside(join(host, 'data')), { recursive: true })
      await ns.mount('-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', join(host, 'data'))
      writeFileSync(ns.inside(join(host, 'data', 'keep')), 'host\n')
      // The source's mount has flags the rootfs's disk and the host's mount have not.
      const source = await ns.tmpfs() // exists (empty) in Node's view too, where the source is checked
      await ns.mount('-o', 'remount,nosuid,nodev,noexec', source)
      writeFileSync(ns.inside(join(source, 'in.txt')), 'volume\n')
      const sourceFlags = linesBelow(await ns.mountinfo(), source).at(-1)!.split(' ')[5]!.split(',').filter((o) => o !== 'rw')
      const entry = parseVolume(`${source}:/vol/data:ro`)
      const [onHost, left, otherwise]: string[][] = [[], [], []]
      for (let at = 0, swapped = true; swapped && at < 60; at++) {
        const rootfs = join(disk, `rootfs${at}`)
        const target = join(rootfs, 'vol', 'data')
        mkdirSync(ns.inside(target), { recursive: true })
        const { swapping, state } = swappedBeforeRequest(ns.helper, at, async (times) => swap(ns.inside(rootfs), host, times), swap.length === 3)
        const [open, before] = [fdCount(ns.helper), linesBelow(await ns.mountinfo(), host)]
        const error = await caught(() => mountInRootfs(swapping, rootfs, entry))
        swapped = state.before !== ''
        const story = swapped ? `with ${swapName} right before ${state.before}` : 'with no swap'
        const info = await ns.mountinfo()
        // Every run first, then the findings: what reached the host is the one to see first.
        // A line not there before is a mount that landed, or (by its mount ID) one that changed.
        const ids = before.map((line) => line.split(' ')[0])
        const fresh = linesBelow(info, host).filter((line) => !before.includes(line)).map((line) => line.split(' '))
        const [landed, changed] = [fresh.filter((f) => !ids.includes(f[0])), fresh.filter((f) => ids.includes(f[0]))]
        if (landed.length) onHost.push(`${story}, a mount landed in the host's folder (${landed.map((f) => f[4]).join(', ')}): which lookup of the name came after the swap, and what did the kernel mount on? (the chapter's "Between the check and the mount")`)
        for (const f of changed) onHost.push(`${story}, the host's own mount at ${f[4]} changed (now ${f[5]}): which mount did a call of yours reach, and through what? (the chapter's "Between the check and the mount")`)
        if (readdirSync(ns.inside(join(host, 'data'))).join() !== 'keep') onHost.push(`${story}, the host's folder no longer shows its own files`)
        if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd closed, on success and on refusal?`)
        const inRootfs = linesBelow(info, rootfs).map((line) => line.split(' '))
        if (!swapped && error !== undefined) {
          otherwise.push(`with no swap at all, mountInRootfs failed: ${error.message}`)
        } else if (error !== undefined) {
          if (inRootfs.length) left.push(`${story}, mountInRootfs refused ("${error.message}") but left ${inRootfs.map((f) => `${f[4]} (${f[5]})`).join(', ')} mounted in the rootfs: what must a refusal take back, and through what can it reach that mount now?`)
          if (!(error instanceof ContainerError)) otherwise.push(`${story}, mountInRootfs failed with "${error.message}": a mount point that no longer leads where it was checked, or to the mount just made, is refused with a ContainerError (125). Which mount did that call address?`)
          else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
        } else if (inRootfs.length !== 1) {
          otherwise.push(`${story}, mountInRootfs succeeded with ${inRootfs.length} mounts below the rootfs (${inRootfs.map((f) => f[4]).join(', ')}), where the volume makes one`)
        } else {
          const [point, options] = [inRootfs[0]![4]!, inRootfs[0]![5]!.split(',')]
          const lost = ['ro', ...sourceFlags].filter((o) => !options.includes(o))
          if (!options.includes('ro')) otherwise.push(`${story}, the volume mounted at ${point} is writable (${options.join(',')}): which mount did the remount reach?`)
          else if (lost.length) otherwise.push(`${story}, the volume mounted at ${point} lost ${lost.join(',')} of its source's mount flags (source: ${sourceFlags.join(',')}, the volume: ${options.join(',')}): whose flags did the remount say again, and how did you find that mount? (the chapter's "Read-only, and nothing less")`)
        }
      }
      expect(onHost, onHost[0]).toEqual([])
      expect(left, left[0]).toEqual([])
      expect(otherwise, otherwise[0]).toEqual([])
    })
  }
})

/** The paths below `dir` (never following a symlink) named `name` (or `name`.real, moved by a swap) and of `kind`. */
function made(dir: string, name: string, kind: MountPointKind): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    const stat = lstatSync(path)
    const here = (entry === name || entry === `${name}.real`) && (kind === 'file' ? stat.isFile() : stat.isDirectory()) ? [path] : []
    return stat.isDirectory() ? [...here, ...made(path, name, kind)] : here
  })
}

describeKernel('a mount point made while the directories on its way are swapped for symlinks', () => {
  for (const kind of ['directory', 'file'] as const) {
    it(`makeMountPoint of a ${kind} at /vol/a/b (a and b missing), each level swapped before each request`, async () => {
      const ns = await mountNamespace()
      const disk = await ns.tmpfs()
      const levels = ['vol', 'vol/a', 'vol/a/b']
      const [escaped, otherwise]: string[][] = [[], []]
      let runs = 0
      for (const level of levels) {
        for (let at = 0, reached = true; reached && at < 40; at++, runs++) {
          const [rootfs, host] = [join(disk, `rootfs${runs}`), join(disk, `host${runs}`)]
          for (const dir of [join(rootfs, 'vol'), host]) mkdirSync(ns.inside(dir), { recursive: true })
          const target = join(rootfs, 'vol', 'a', 'b')
          let swapped = false
          const swap = async () => {
            const path = ns.inside(join(rootfs, level))
            if (!existsSync(ns.inside(join(rootfs, dirname(level))))) return // its parent is not made yet
            if (existsSync(path)) renameSync(path, `${path}.real`)
            // The file's own name leads to a file the host does not have yet: made by name, it would be.
            symlinkSync(level === 'vol/a/b' && kind === 'file' ? join(host, 'b') : host, path)
            swapped = true
          }
          const { swapping, state } = swappedBeforeRequest(ns.helper, at, swap)
          const open = fdCount(ns.helper)
          const error = await caught(() => makeMountPoint(swapping, rootfs, target, kind))
          reached = state.before !== ''
          const story = swapped ? `with /${level} swapped for a symlink to ${host} right before ${state.before}` : 'with no swap'
          // Every run first, then the findings: an escape to the host is the one to see first.
          const inHost = readdirSync(ns.inside(host))
          if (inHost.length) escaped.push(`${story}, ${inHost.join(', ')} appeared in it`)
          if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd of the walk closed, on success and on refusal?`)
          if (error !== undefined) {
            if (!(error instanceof ContainerError)) otherwise.push(`${story}, makeMountPoint failed with "${error.message}": is a level that is no longer a directory refused with a ContainerError (125)?`)
            else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
            else if (!swapped) otherwise.push(`with no swap at all, makeMountPoint refused: ${error.message}`)
          } else if (!lstatSync(ns.inside(target), { throwIfNoEntry: false })?.isSymbolicLink() && made(ns.inside(rootfs), 'b', kind).length !== 1) {
            // (A link planted at the file's own name is "something there already": left for mountChecked.)
            otherwise.push(`${story}, makeMountPoint succeeded: is there a ${kind} b inside the rootfs (where the walk went)?`)
          }
        }
      }
      expect(escaped, `makeMountPoint made something in the host's folder ${escaped[0]}: which step looked the name up again after the swap, and did it follow the symlink? (the chapter's "Making the mount point")`).toEqual([])
      expect(otherwise, otherwise[0]).toEqual([])
    })
  }

  it('makeMountPoint of a file the image has already, and of a directory that exists', async () => {
    const ns = await mountNamespace()
    const rootfs = await ns.tmpfs()
    mkdirSync(ns.inside(join(rootfs, 'etc', 'app.d')), { recursive: true })
    writeFileSync(ns.inside(join(rootfs, 'etc', 'app.conf')), 'the image\'s\n')
    const open = fdCount(ns.helper)
    await makeMountPoint(ns.helper, rootfs, join(rootfs, 'etc', 'app.conf'), 'file')
    await makeMountPoint(ns.helper, rootfs, join(rootfs, 'etc', 'app.d'), 'directory')
    expect(readFileSync(ns.inside(join(rootfs, 'etc', 'app.conf')), 'utf8'), 'the image\'s /etc/app.conf after makeMountPoint: what does your creation of the file do to one that is there?').toBe('the image\'s\n')
    expect(fdCount(ns.helper), 'the helper holds more fds than before: is every fd of the walk closed?').toBe(open)
  })
})
