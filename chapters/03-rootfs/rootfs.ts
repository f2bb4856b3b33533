/**
 * Chapter 03: a root filesystem of its own. In a new mount namespace the container gets a
 * private copy of the mount tree, its rootfs as `/` (pivot_root), a fresh /proc, a minimal
 * /dev, a read-only /sys and the bind mounts asked for with `-v`.
 *
 * Like chapter 02's work, all of it runs in the helper between fork and exec, in runc's order
 * (libcontainer/rootfs_linux.go: prepareRootfs, then pivotRoot).
 *
 * Check your work with `npx workbook check 3`.
 */
import { existsSync, statSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { DEFAULT_DEVICES, DEFAULT_MOUNTS, DEV_SYMLINKS, type Mount, type Spec } from '../../lib/oci.ts'
import { SyscallError, type Helper, type MountFlag } from '../../native/helper.ts'

/** The mounts every container gets (Docker's default spec), the usual value of spec.mounts. */
export { DEFAULT_MOUNTS }

/** Where the old root is parked during pivot_root, inside the new root. */
export const PUT_OLD = '.oldroot'

/** `mkdir -p` through the helper, so it happens in the container's mount namespace. */
export async function mkdirAll(helper: Helper, path: string): Promise<void> {
  let current = ''
  for (const part of path.split('/').filter(Boolean)) {
    current += `/${part}`
    await helper.mkdir(current).catch((error: unknown) => {
      if (!(error instanceof SyscallError && error.code === 'EEXIST')) throw error
    })
  }
}

// #region parseVolume
/**
 * `-v /host/path:/container/path[:ro|:rw]` as the bind mount it asks for. A container path
 * with a ".." component is refused, as Docker refuses it: the destination is resolved inside
 * the rootfs, and ".." only ever makes that harder to read.
 */
export function parseVolume(flag: string): Mount {
  // TODO(03): parse docker's -v syntax.
  //   1. Split at ":" into source, destination and an optional mode.
  //   2. Refuse with new ContainerError(message, 125): a missing part, more than three parts,
  //      a mode other than "ro" or "rw", or a path that is not absolute (isAbsolute).
  //   3. Return { destination, type: 'bind', source, options: ['rbind'] }, plus 'ro' for :ro.
  throw new NotImplementedError('03-rootfs', 'parseVolume')
}
// #endregion parseVolume

// #region mountOptions
const FLAG_OPTIONS: Record<string, MountFlag[]> = {
  ro: ['rdonly'], nosuid: ['nosuid'], nodev: ['nodev'], noexec: ['noexec'], bind: ['bind'],
  rbind: ['bind', 'rec'], relatime: ['relatime'], noatime: ['noatime'], strictatime: ['strictatime'],
  private: ['private'], rprivate: ['private', 'rec'], slave: ['slave'], rslave: ['slave', 'rec'],
}

/** fstab-style options ("ro", "nosuid", "mode=755") split into mount(2) flags and its data string. */
export function mountOptions(options: string[] = []): { flags: MountFlag[]; data: string } {
  // TODO(03): split options into flags and data.
  //   1. Skip "rw": it is what you get without MS_RDONLY.
  //   2. An option in FLAG_OPTIONS adds its flags (each flag once: a Set helps).
  //   3. Anything else ("mode=755", "size=65536k", "newinstance") belongs to the filesystem:
  //      join those with "," in their order, as the data argument of mount(2).
  throw new NotImplementedError('03-rootfs', 'mountOptions')
}
// #endregion mountOptions

// #region makeMountsPrivate
/**
 * Stop mount events from crossing between the container and the host. The namespace starts
 * as a copy of the host's tree with the host's propagation: where `/` is shared (systemd makes
 * it so), every mount below would appear on the host too.
 */
export async function makeMountsPrivate(helper: Helper): Promise<void> {
  // TODO(03): one mount call, with no source, no fstype: mount --make-rprivate /.
  //   1. await helper.mount(null, '/', null, ['rec', 'private']).
  throw new NotImplementedError('03-rootfs', 'makeMountsPrivate')
}
// #endregion makeMountsPrivate

// #region bindRootfs
/** Make the rootfs a mount point of its own, which pivot_root requires of new_root. */
export async function bindRootfs(helper: Helper, rootfs: string): Promise<void> {
  // TODO(03): bind the rootfs onto itself.
  //   1. await helper.mount(rootfs, rootfs, null, ['bind', 'rec']).
  //   2. If that throws a SyscallError with code "ENOENT", the rootfs is missing: throw
  //      new ContainerError(`rootfs "${rootfs}" does not exist ...`, 125). Rethrow the rest.
  throw new NotImplementedError('03-rootfs', 'bindRootfs')
}
// #endregion bindRootfs

// #region mountInRootfs
/**
 * Mount one entry of spec.mounts below the rootfs, creating its mount point first. The
 * destination belongs to the image, which may have made it (or a directory above it) a symlink
 * to "/etc" or "../../..": it is resolved inside the rootfs as if the rootfs were "/" (runc's
 * securejoin, lib/paths.ts), so neither the mount point nor the mount can land on the host.
 */
export async function mountInRootfs(helper: Helper, rootfs: string, mount: Mount): Promise<void> {
  // TODO(03): one mount from spec.mounts.
  //   1. target = join(rootfs, mount.destination); { flags, data } = mountOptions(mount.options).
  //   2. For a bind mount (flags has 'bind'): a missing source is a ContainerError (125). If the
  //      source is a file (statSync), mkdirAll the target's parent and create an empty file
  //      with helper.writeFile(target, '') unless it exists; otherwise mkdirAll(helper, target).
  //   3. helper.mount(source, target, fstype, flags, data || null); a bind mount takes no fstype.
  //   4. MS_BIND ignores MS_RDONLY: for a read-only bind, mount again with
  //      ['remount', 'bind', 'rdonly', ...the other flags].
  throw new NotImplementedError('03-rootfs', 'mountInRootfs')
}
// #endregion mountInRootfs

// #region createDevices
/** Fill the container's /dev (a fresh tmpfs) with the few devices a program expects. */
export async function createDevices(helper: Helper, rootfs: string): Promise<void> {
  // TODO(03): device nodes and symlinks in rootfs/dev.
  //   1. For each [name, major, minor] of DEFAULT_DEVICES (lib/oci.ts):
  //      helper.mknod(join(rootfs, 'dev', name), 'c', 0o666, major, minor).
  //   2. For each [target, link] of DEV_SYMLINKS (lib/oci.ts): helper.symlink(target, join(rootfs, link)).
  throw new NotImplementedError('03-rootfs', 'createDevices')
}
// #endregion createDevices

// #region pivotRoot
/**
 * Make `rootfs` the root of the mount namespace and detach the old root completely, so no
 * path leads back to the host's files (unlike chroot, which only changes where "/" starts).
 */
export async function pivotRoot(helper: Helper, rootfs: string): Promise<void> {
  // TODO(03): swap the roots, then cut the old one off.
  //   1. putOld = join(rootfs, PUT_OLD); mkdirAll(helper, putOld).
  //   2. await helper.pivotRoot(rootfs, putOld): rootfs becomes /, the old / moves to /.oldroot.
  //   3. helper.chdir('/'), then helper.umount2(`/${PUT_OLD}`, ['detach']): a lazy unmount,
  //      since the old root is still busy. Then helper.rmdir it.
  throw new NotImplementedError('03-rootfs', 'pivotRoot')
}
// #endregion pivotRoot

// #region chrootInto
/** The old way: change where "/" starts for this process only. Escapable (see the exercise). */
export async function chrootInto(helper: Helper, rootfs: string): Promise<void> {
  // TODO(03): the chroot-only container, for the escape exercise.
  //   1. await helper.chroot(rootfs), then helper.chdir('/').
  throw new NotImplementedError('03-rootfs', 'chrootInto')
}
// #endregion chrootInto

// #region setupRootfs
/** Build the container's filesystem view from spec.root and spec.mounts, runc's way. */
export async function setupRootfs(helper: Helper, spec: Spec): Promise<void> {
  // TODO(03): runc's order.
  //   1. No spec.root: return. No 'mount' in spec.linux.namespaces: throw a ContainerError (125),
  //      because every step below would change the host's own mount table.
  //   2. rootfs = resolve(spec.root.path); makeMountsPrivate; bindRootfs.
  //   3. mountInRootfs for each of spec.mounts, in order (/dev before /dev/pts).
  //   4. createDevices, only when spec.mounts has a tmpfs at /dev (never write into the rootfs).
  //   5. pivotRoot. If spec.root.readonly, remount / with ['remount', 'bind', 'rdonly'].
  throw new NotImplementedError('03-rootfs', 'setupRootfs')
}
// #endregion setupRootfs
