/**
 * A mount point swapped for a symlink between the check and the mount (CVE-2021-30465), or
 * while it is being made (CVE-2024-45310): a directory on the way to the destination becomes a
 * symlink to a stand-in host folder before each of the helper's requests in turn. The mount
 * point must be made, and the mount land, inside the rootfs, or be refused; never outside.
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

/** The mount points of a mountinfo at or below `dir`. */
const pointsBelow = (mountinfo: string, dir: string) =>
  mountinfo.split('\n').filter(Boolean).map((line) => line.split(' ')[4]!).filter((p) => p === dir || p.startsWith(`${dir}/`))

/** How many fds the process serving `helper`'s requests holds. */
const fdCount = (helper: Helper) => readdirSync(`/proc/${helper.serving}/fd`).length

describeKernel('a mount point swapped for a symlink between the check and the mount', () => {
  it('-v SRC:/vol/data:ro, with /vol swapped for a symlink to the host before each request', async () => {
    const ns = await mountNamespace()
    const disk = await ns.tmpfs() // rootfs and stand-in host folders: nothing of the machine's
    const source = await ns.tmpfs() // exists (empty) in Node's view too, where the source is checked
    writeFileSync(ns.inside(join(source, 'in.txt')), 'volume\n')
    const entry = parseVolume(`${source}:/vol/data:ro`)
    const fds = () => fdCount(ns.helper)
    for (let at = 0, swapped = true; swapped && at < 60; at++) {
      const [rootfs, host] = [join(disk, `rootfs${at}`), join(disk, `host${at}`)]
      for (const dir of [join(rootfs, 'vol', 'data'), join(host, 'data')]) mkdirSync(ns.inside(dir), { recursive: true })
      writeFileSync(ns.inside(join(host, 'data', 'keep')), 'host\n')
      const swap = async () => {
        renameSync(ns.inside(join(rootfs, 'vol')), ns.inside(join(rootfs, 'vol.real')))
        symlinkSync(host, ns.inside(join(rootfs, 'vol')))
      }
      const { swapping, state } = swappedBeforeRequest(ns.helper, at, swap)
      const open = fds()
      const error = await caught(() => mountInRootfs(swapping, rootfs, entry))
      swapped = state.before !== ''
      const story = swapped ? `with /vol swapped for a symlink to ${host} right before ${state.before}` : 'with no swap'
      const info = await ns.mountinfo()
      expect(pointsBelow(info, host), `${story}, a mount landed in the host's folder: which lookup of the name came after the swap, and what did the kernel mount on? (the chapter's "Between the check and the mount")`).toEqual([])
      expect(readdirSync(ns.inside(join(host, 'data'))), `${story}, the host's folder no longer shows its own files`).toEqual(['keep'])
      expect(fds(), `${story}, the helper holds more fds than before: is every fd closed, on success and on refusal?`).toBe(open)
      if (!swapped) {
        expect(error, 'with no swap at all, mountInRootfs failed').toBeUndefined()
        const line = info.split('\n').find((l) => l.split(' ')[4] === join(rootfs, 'vol', 'data'))
        expect(line?.split(' ')[5].split(','), 'the mount at /vol/data with no swap: is it there, and read-only?').toContain('ro')
      } else if (error !== undefined) {
        expect(error, `${story}, mountInRootfs failed with "${error.message}": a refusal is a ContainerError (125); did a mount go by name to where the symlink leads?`).toBeInstanceOf(ContainerError)
        expect(error.message, `${story}, the refusal must name the mount point`).toContain(join(rootfs, 'vol', 'data'))
      } else {
        expect(pointsBelow(info, rootfs), `${story}, mountInRootfs succeeded but nothing is mounted inside the rootfs`).not.toEqual([])
      }
    }
  })
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
