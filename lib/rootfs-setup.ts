/**
 * A container's root filesystem, runc's way (libcontainer/rootfs_linux.go: prepareRootfs, then
 * pivotRoot): the setup that chapter 03's functions serve. Given to chapter 03: it calls the
 * chapter's own secureJoin, makeMountsPrivate, makeMountPoint, mountChecked, remountFlags and
 * pivotRoot (yours, or the reference's), and minidocker, chapter 09's runtime and chapter 13
 * call it.
 *
 * All of it runs in the helper between fork and exec, in the container's mount namespace.
 */
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { makeMountPoint, makeMountsPrivate, mountChecked, pivotRoot, remountFlags } from '#ch/03-rootfs/rootfs.ts'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import { ContainerError } from './errors.ts'
import { DEFAULT_DEVICES, DEV_SYMLINKS, type Mount, type Spec } from './oci.ts'
import { mountOptions } from './volumes.ts'
import { SyscallError, type Helper, type MountFlag } from '../native/helper.ts'

/** The mount at `target` made read-only by the remounts remountFlags lists, and with `recursive` every mount below it. */
async function readOnly(helper: Helper, target: string, wanted: MountFlag[], recursive = false): Promise<void> {
  for (const remount of await remountFlags(helper, target, wanted, recursive)) await helper.mount(null, remount.target, null, remount.flags)
}

/**
 * Make the rootfs a mount point of its own, which pivot_root requires of new_root: a bind mount
 * of the directory onto itself, recursive so that what is mounted below it stays visible.
 * @throws ContainerError (125) whose message names the rootfs and says it "does not exist".
 */
export async function bindRootfs(helper: Helper, rootfs: string): Promise<void> {
  try {
    await helper.mount(rootfs, rootfs, null, ['bind', 'rec'])
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ENOENT')
      throw new ContainerError(`rootfs "${rootfs}" does not exist (${error.message})`, 125)
    throw error
  }
}

/**
 * Mount one entry of spec.mounts below the rootfs, creating its mount point first. An "ro"
 * bind mount is read-only inside the container only: its source stays writable on the host.
 * The destination belongs to the image, which may have made it (or a directory above it) a
 * symlink to "/etc" or "../../..": it is resolved inside the rootfs as if the rootfs were "/"
 * (secureJoin), so neither the mount point nor the mount can land on the host.
 * @throws ContainerError (125) naming a bind mount's source that does not exist.
 */
export async function mountInRootfs(helper: Helper, rootfs: string, mount: Mount): Promise<void> {
  const target = secureJoin(rootfs, mount.destination, true)
  const { flags, data, propagation } = mountOptions(mount.options)
  const isBind = flags.includes('bind')
  if (isBind && !(mount.source && existsSync(mount.source)))
    throw new ContainerError(`bind source path does not exist: ${mount.source}`, 125)
  // A file can only be bind-mounted onto a file, a directory onto a directory.
  await makeMountPoint(helper, rootfs, target, isBind && mount.source && statSync(mount.source).isFile() ? 'file' : 'directory')
  // MS_BIND ignores MS_RDONLY: a read-only bind mount is a bind mount, then a remount of it.
  const readonly = isBind && flags.includes('rdonly')
  const change = readonly || propagation.length ? async (made: string) => {
    if (readonly) await readOnly(helper, made, flags.filter((f) => f !== 'bind' && f !== 'rec'), flags.includes('rec'))
    if (propagation.length) await helper.mount(null, made, null, propagation)
  } : undefined
  await mountChecked(helper, rootfs, target, mount.source ?? null, isBind ? null : (mount.type ?? null), flags, data || null, change)
}

/**
 * Fill the container's /dev (a fresh tmpfs) with the few devices a program expects. With
 * `bind`, the host's node of the same name is used instead of a new one, as runc does where
 * it must (chapter 13's user namespace, where mknod(2) is refused).
 */
export async function createDevices(helper: Helper, rootfs: string, bind = false): Promise<void> {
  for (const [name, major, minor] of DEFAULT_DEVICES) {
    const path = join(rootfs, 'dev', name)
    if (!bind) {
      await helper.mknod(path, 'c', 0o666, major, minor)
      continue
    }
    await helper.writeFile(path, '')
    await helper.mount(`/dev/${name}`, path, null, ['bind'])
  }
  for (const [target, link] of DEV_SYMLINKS) await helper.symlink(target, join(rootfs, link))
}

/** The old way: change where "/" starts for this process only. Escapable (see the exercise). */
export async function chrootInto(helper: Helper, rootfs: string): Promise<void> {
  await helper.chroot(rootfs)
  await helper.chdir('/')
}

/**
 * Build the container's filesystem view from spec.root and spec.mounts, runc's way. Nothing of
 * it may reach the host: no mount propagates out, nothing is written into the image.
 * `beforePivot`, when given, runs once every mount and device node is made, just before
 * pivot_root: where a runtime runs its createContainer hooks (chapter 09).
 * @throws ContainerError (125) when spec.root is set but spec.linux.namespaces has no mount namespace.
 */
export async function setupRootfs(helper: Helper, spec: Spec, beforePivot?: () => Promise<void>): Promise<void> {
  if (!spec.root) return
  if (!spec.linux?.namespaces?.some((ns) => ns.type === 'mount'))
    throw new ContainerError('a root filesystem needs a mount namespace: add {"type": "mount"} to linux.namespaces', 125)
  const rootfs = resolve(spec.root.path)
  await makeMountsPrivate(helper, rootfs, spec.linux.rootfsPropagation)
  await bindRootfs(helper, rootfs)
  // In the spec's order, as runc does: putting a parent before its child is the spec's job.
  const mounts = spec.mounts ?? []
  for (const mount of mounts) await mountInRootfs(helper, rootfs, mount)
  // Device nodes go only into a /dev tmpfs of the container's, never into the rootfs itself.
  if (mounts.some((m) => m.destination === '/dev' && m.type === 'tmpfs')) await createDevices(helper, rootfs, spec.linux.namespaces.some((ns) => ns.type === 'user'))
  await beforePivot?.()
  await pivotRoot(helper, rootfs)
  if (spec.root.readonly) await readOnly(helper, '/', ['rdonly'])
}
