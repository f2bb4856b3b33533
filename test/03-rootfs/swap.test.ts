/**
 * A mount point swapped for a symlink between the check and the mount (CVE-2021-30465): a
 * directory on the way to the destination becomes a symlink to a stand-in host folder before
 * each of the helper's requests in turn. The mount must land inside the rootfs, or be refused;
 * never outside. Everything happens in a mount namespace and on a tmpfs the test made.
 */
import { mkdirSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { mountInRootfs, parseVolume } from '#ch/03-rootfs/rootfs.ts'
import { ContainerError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { swappedBeforeRequest } from '../support/interpose.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace } from '../support/mountns.ts'

/** The mount points of a mountinfo at or below `dir`. */
const pointsBelow = (mountinfo: string, dir: string) =>
  mountinfo.split('\n').filter(Boolean).map((line) => line.split(' ')[4]!).filter((p) => p === dir || p.startsWith(`${dir}/`))

describeKernel('a mount point swapped for a symlink between the check and the mount', () => {
  it('-v SRC:/vol/data:ro, with /vol swapped for a symlink to the host before each request', async () => {
    const ns = await mountNamespace()
    const disk = await ns.tmpfs() // rootfs and stand-in host folders: nothing of the machine's
    const source = await ns.tmpfs() // exists (empty) in Node's view too, where the source is checked
    writeFileSync(ns.inside(join(source, 'in.txt')), 'volume\n')
    const entry = parseVolume(`${source}:/vol/data:ro`)
    const fds = () => readdirSync(`/proc/${ns.helper.serving}/fd`).length
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
