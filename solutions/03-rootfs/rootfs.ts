/**
 * Chapter 03: a root filesystem of its own. In a new mount namespace the container gets a
 * private copy of the mount tree, its rootfs as `/` (pivot_root), a fresh /proc, a minimal
 * /dev, a read-only /sys and the bind mounts asked for with `-v`.
 *
 * Like chapter 02's work, all of it runs in the helper between fork and exec, in runc's order
 * (libcontainer/rootfs_linux.go: prepareRootfs, then pivotRoot).
 */
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { ContainerError } from '../../lib/errors.ts'
import { mkdirAll } from '../../lib/helper-fs.ts'
import { DEFAULT_DEVICES, DEFAULT_MOUNTS, DEV_SYMLINKS, type Mount, type Spec } from '../../lib/oci.ts'
import { secureJoin } from './securejoin.ts'
import { SyscallError, type Helper, type MountFlag } from '../../native/helper.ts'

/** The mounts every container gets (Docker's default spec), the usual value of spec.mounts. */
export { DEFAULT_MOUNTS }

// Given (lib/helper-fs.ts): mkdirAll(helper, path), `mkdir -p` through the helper.
export { mkdirAll }

// #region parseVolume
/**
 * `-v /host/path:/container/path[:ro|:rw]` as the bind mount it asks for, or a ContainerError
 * (125) for a flag Docker refuses.
 */
export function parseVolume(flag: string): Mount {
  const [source, destination, mode, ...rest] = flag.split(':')
  if (!source || !destination || rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
    throw new ContainerError(`invalid volume "${flag}": expected /host/path:/container/path[:ro]`, 125)
  if (!isAbsolute(source)) throw new ContainerError(`invalid volume "${flag}": the host path must be absolute (named volumes are not supported)`, 125)
  if (!isAbsolute(destination)) throw new ContainerError(`invalid volume "${flag}": the container path must be absolute`, 125)
  if (destination.split('/').includes('..')) throw new ContainerError(`invalid volume "${flag}": the container path may not contain ".."`, 125)
  return { destination, type: 'bind', source, options: mode === 'ro' ? ['rbind', 'ro'] : ['rbind'] }
}
// #endregion parseVolume

// #region mountOptions
const FLAG_OPTIONS: Record<string, MountFlag[]> = {
  ro: ['rdonly'], nosuid: ['nosuid'], nodev: ['nodev'], noexec: ['noexec'], bind: ['bind'],
  rbind: ['bind', 'rec'], relatime: ['relatime'], noatime: ['noatime'], strictatime: ['strictatime'],
  nodiratime: ['nodiratime'],
}

/** The propagation options (mount_namespaces(7), "Shared subtrees"). */
const PROPAGATION_OPTIONS: Record<string, MountFlag[]> = {
  private: ['private'], rprivate: ['private', 'rec'], slave: ['slave'], rslave: ['slave', 'rec'],
  shared: ['shared'], rshared: ['shared', 'rec'], unbindable: ['unbindable'], runbindable: ['unbindable', 'rec'],
}

/**
 * fstab-style options ("ro", "nosuid", "mode=755", "rprivate") split into mount(2) flags, its
 * data string, and its propagation flags (runc's PropagationFlags).
 */
export function mountOptions(options: string[] = []): { flags: MountFlag[]; data: string; propagation: MountFlag[] } {
  const flags = new Set<MountFlag>()
  const propagation = new Set<MountFlag>()
  const data: string[] = []
  for (const option of options) {
    if (option === 'rw') continue // the default: no flag
    const known = FLAG_OPTIONS[option]
    const change = PROPAGATION_OPTIONS[option]
    if (known) known.forEach((f) => flags.add(f))
    else if (change) change.forEach((f) => propagation.add(f))
    else data.push(option)
  }
  return { flags: [...flags], data: data.join(','), propagation: [...propagation] }
}
// #endregion mountOptions

// #region makeMountsPrivate
/**
 * Stop mount events from crossing between the container and the host. The namespace starts
 * as a copy of the host's tree with the host's propagation: where `/` is shared (systemd makes
 * it so), every mount below would appear on the host too.
 */
export async function makeMountsPrivate(helper: Helper): Promise<void> {
  await helper.mount(null, '/', null, ['rec', 'private'])
}
// #endregion makeMountsPrivate

// #region bindRootfs
/**
 * Make the rootfs a mount point of its own, which pivot_root requires of new_root.
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
// #endregion bindRootfs

// #region remountFlags
/** Whether mount point `point` is `path` or a directory above it. */
const covers = (point: string, path: string) => point === '/' || path === point || path.startsWith(`${point}/`)

/** A mountinfo path field: spaces, tabs, newlines and backslashes come as octal escapes (\040). */
const unescapeMountinfo = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))

/**
 * The flags of the remount that turns the bind mount at `target` read-only without losing
 * anything else it has. A remount sets the mount's per-mount flags to exactly those it is
 * given: whatever the mount has now (its source's nosuid, nodev, noexec, its atime flags) must
 * be given again, or it is gone; in a user namespace the kernel refuses (EPERM) to drop one.
 * @param target the mount, as the path the remount's mount(2) will be given: a mount point
 *   (`/`), or the `/proc/self/fd/N` that mountChecked hands on, which the helper resolves in its
 *   own /proc
 * @param wanted the entry's own per-mount flags ('rdonly' among them), kept too
 * @returns every flag of the remount's mount(2) call, MS_REMOUNT and MS_BIND included
 * @throws ContainerError (125) naming a flag of the mount that the helper cannot pass on.
 */
export async function remountFlags(helper: Helper, target: string, wanted: MountFlag[]): Promise<MountFlag[]> {
  // The table of the container's mount namespace is the helper's (Node's own is the machine's);
  // the relay chapter 02 left at helper.pid made the namespace and shares it with its child.
  const table = await readFile(`/proc/${helper.pid}/mountinfo`, 'utf8')
  // The helper's /proc/self is the serving process's /proc/PID: its fd's magic link says where
  // the mount it holds sits now, written as the table writes mount points.
  const point = target.startsWith('/proc/self/') ? readlinkSync(`/proc/${helper.serving}/${target.slice('/proc/self/'.length)}`) : target
  // Mounts stack: of all the mounts whose mount point covers the path, the last one listed is on top.
  const fields = table.split('\n').filter(Boolean).map((line) => line.split(' '))
    .filter((f) => covers(unescapeMountinfo(f[4]!), point)).at(-1)! // "/" covers every path
  const current = fields[5]!.split(',').filter((word) => word !== 'rw').flatMap((word) => {
    const flags = FLAG_OPTIONS[word]
    if (!flags) throw new ContainerError(`the mount at ${point} has "${word}", which a read-only remount could not keep`, 125)
    return flags
  })
  return ['remount', 'bind', ...new Set([...current, ...wanted])]
}
// #endregion remountFlags

// #region mountChecked
/** The mount an fd of the helper's is on: its mount ID (proc(5), /proc/pid/fdinfo, mnt_id). */
const mountOf = (helper: Helper, fd: number) => /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${helper.serving}/fdinfo/${fd}`, 'utf8'))?.[1]

/**
 * mount(2) onto `target`, a path secureJoin resolved below `rootfs`, such that the mount lands
 * on the very file that is `target` when it is checked, never on whatever the name leads to a
 * moment later: the image's own processes, or another container sharing a volume, may swap a
 * directory on the way for a symlink to the host between the resolution and the mount
 * (CVE-2021-30465). They may go on swapping after the mount: `then`, when given, changes the
 * mount just made (a read-only remount, a propagation change) and nothing else, whatever
 * `target`, or any name, leads to by then.
 * @param target the mount point (its existing part free of symlinks), as the helper sees it
 * @param then what to do to the new mount, given a path by which the helper reaches that mount
 *   and nothing else (valid during the call only)
 * @throws ContainerError (125) naming `target` when it no longer leads there, or when the new
 *   mount can no longer be reached for certain; nothing is mounted or changed then, and no
 *   mount of this call is left behind (nor when `then` fails).
 */
export async function mountChecked(helper: Helper, rootfs: string, target: string, source: string | null, type: string | null, flags: MountFlag[], data: string | null = null, then?: (mount: string) => Promise<void>): Promise<void> {
  // Once open, the file cannot be swapped: the name is looked up once, here, and never again.
  const fd = await helper.open(target)
  try {
    // Where the open landed, as the helper's namespace names it (the kernel's own answer).
    const landed = readlinkSync(`/proc/${helper.serving}/fd/${fd}`)
    if (landed !== target)
      throw new ContainerError(`the mount point ${target} (inside ${rootfs}) changed after it was resolved: it now leads to ${landed}; refusing to mount there`, 125)
    // The magic link of the helper's own fd: the kernel mounts on the file opened, not a name.
    await helper.mount(source, `/proc/self/fd/${fd}`, type, flags, data)
    if (then) await onMountMade(helper, rootfs, target, fd, then)
  } finally {
    await helper.closeFd(fd)
  }
}

/**
 * Run `then` on the mount just made on the file the helper holds as `under`, or, when that
 * mount cannot be reached for certain or `then` fails, take it away again.
 */
async function onMountMade(helper: Helper, rootfs: string, target: string, under: number, then: (mount: string) => Promise<void>): Promise<void> {
  const refuse = (why: string) => new ContainerError(`the mount point ${target} (inside ${rootfs}) changed after the mount: ${why}; unmounting it, nothing was changed`, 125)
  try {
    // `under` still holds the directory (or file) *under* the new mount, and follows it
    // wherever a rename takes it: its magic link says where the mount sits now.
    const point = readlinkSync(`/proc/${helper.serving}/fd/${under}`)
    if (relative(rootfs, point).startsWith('..')) throw refuse(`it was moved to ${point}`)
    // Only a lookup crosses onto a mount: open the place again, then prove it is that mount.
    const top = await helper.open(point).catch((error: unknown) => {
      throw error instanceof SyscallError ? refuse(`${point} cannot be opened again (${error.code})`) : error
    })
    try {
      const reached = readlinkSync(`/proc/${helper.serving}/fd/${top}`)
      if (reached !== point) throw refuse(`${point} now leads to ${reached}`)
      // A plain directory put in its place would be on the mount under it, not on a new one.
      if (mountOf(helper, top) === mountOf(helper, under)) throw refuse(`${point} is no longer the mount just made`)
      await then(`/proc/self/fd/${top}`)
    } finally {
      await helper.closeFd(top)
    }
  } catch (error) {
    // umount2(2) looks its target up to the mount on top of it: through `under`, exactly the
    // mount made on it, wherever it is now and whatever the names say.
    await helper.umount2(`/proc/self/fd/${under}`, ['detach'])
    throw error
  }
}
// #endregion mountChecked

// #region makeMountPoint
/** What a mount needs to land on: a directory, or (for a bind mount of one file) a file. */
export type MountPointKind = 'directory' | 'file'

/**
 * Make whatever is missing of the mount point `target` (a path secureJoin resolved below
 * `rootfs`, its existing part free of symlinks then): the directories on the way and, for a
 * file, an empty file, unless something is there already, which is left as it is. The image's
 * processes may swap any directory on the way for a symlink to the host at any moment
 * (CVE-2024-45310), so nothing is ever made, or emptied, outside the rootfs.
 * @param target the mount point as the helper sees it: `rootfs` followed by the resolved path
 * @throws ContainerError (125) naming `target` when a component on the way is not a directory
 *   (a symlink that appeared after the resolution among them); nothing is made beyond it.
 */
export async function makeMountPoint(helper: Helper, rootfs: string, target: string, kind: MountPointKind): Promise<void> {
  const names = relative(rootfs, target).split('/').filter(Boolean)
  const last = kind === 'file' ? names.pop() : undefined
  // Every step is relative to an fd of the level above: a name swapped later cannot redirect
  // a walk that already holds the directory it named.
  let dir = await helper.openAt('cwd', rootfs, ['path', 'directory'])
  try {
    for (const name of names) {
      // mkdirat makes the name or fails EEXIST: it never follows a symlink at the last component.
      await helper.mkdirAt(dir, name).catch(existing)
      const next = await helper.openAt(dir, name, ['path', 'nofollow', 'directory']).catch(refuse(target, name))
      await helper.closeFd(dir)
      dir = next
    }
    // O_EXCL never empties nor follows what is there: an existing file (or a planted link) stays.
    if (last !== undefined) {
      const file = await helper.openAt(dir, last, ['wronly', 'creat', 'excl', 'nofollow']).catch(existing)
      if (file !== undefined) await helper.closeFd(file)
    }
  } finally {
    await helper.closeFd(dir)
  }
}

/** A mkdirat or O_EXCL create that found the name taken: what is there is checked by the next step (the open below, or mountChecked). */
function existing(error: unknown): void {
  if (!(error instanceof SyscallError && error.code === 'EEXIST')) throw error
}

/** The walk met a name that is not a directory (ENOTDIR: a symlink under O_NOFOLLOW included). */
const refuse = (target: string, name: string) => (error: unknown): never => {
  if (error instanceof SyscallError && error.code === 'ENOTDIR')
    throw new ContainerError(`the mount point ${target}: "${name}" on the way is no longer a directory (a symlink swapped in after it was resolved?); refusing to create anything there`, 125)
  throw error
}
// #endregion makeMountPoint

// #region mountInRootfs
/**
 * Mount one entry of spec.mounts below the rootfs, creating its mount point first. An "ro"
 * bind mount is read-only inside the container only: its source stays writable on the host.
 * The destination belongs to the image, which may have made it (or a directory above it) a
 * symlink to "/etc" or "../../..": it is resolved inside the rootfs as if the rootfs were "/"
 * (secureJoin, in securejoin.ts), so neither the mount point nor the mount can land on the host.
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
    if (readonly) await helper.mount(null, made, null, await remountFlags(helper, made, flags.filter((f) => f !== 'bind' && f !== 'rec')))
    if (propagation.length) await helper.mount(null, made, null, propagation)
  } : undefined
  await mountChecked(helper, rootfs, target, mount.source ?? null, isBind ? null : (mount.type ?? null), flags, data || null, change)
}
// #endregion mountInRootfs

// #region createDevices
/**
 * Fill the container's /dev (a fresh tmpfs) with the few devices a program expects. With
 * `bind`, the host's node of the same name is used instead of a new one, as runc does where
 * it must (chapter 13's user namespace).
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
// #endregion createDevices

// #region pivotRoot
/**
 * Make `rootfs` the root of the mount namespace and detach the old root completely, so no
 * path leads back to the host's files (unlike chroot, which only changes where "/" starts).
 * Afterwards the caller's working directory is the new /, and / holds only the rootfs's files.
 * Nothing is written into the rootfs, not even for a moment: it may be read-only, and other
 * containers may be using the same one at the same time.
 * @throws SyscallError from pivot_root itself, unchanged (e.g. new_root is not a mount point).
 */
export async function pivotRoot(helper: Helper, rootfs: string): Promise<void> {
  // runc's way: with new_root and put_old the same directory, the old root is stacked on top
  // of the new one (pivot_root(2), NOTES), so nothing is written into a rootfs that may be
  // read-only or shared by other containers at that very moment.
  // From inside new_root: afterwards the working directory is the new / without a chdir.
  await helper.chdir(rootfs)
  await helper.pivotRoot(rootfs, rootfs)
  // "." is the top of the stack there: the old root, busy with every host mount below it.
  await helper.umount2('.', ['detach'])
}
// #endregion pivotRoot

// #region chrootInto
/** The old way: change where "/" starts for this process only. Escapable (see the exercise). */
export async function chrootInto(helper: Helper, rootfs: string): Promise<void> {
  await helper.chroot(rootfs)
  await helper.chdir('/')
}
// #endregion chrootInto

// #region setupRootfs
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
  await makeMountsPrivate(helper)
  await bindRootfs(helper, rootfs)
  const mounts = spec.mounts ?? []
  for (const mount of mounts) await mountInRootfs(helper, rootfs, mount)
  // Device nodes go only into a /dev tmpfs of the container's, never into the rootfs itself.
  if (mounts.some((m) => m.destination === '/dev' && m.type === 'tmpfs')) await createDevices(helper, rootfs, spec.linux.namespaces.some((ns) => ns.type === 'user'))
  await beforePivot?.()
  await pivotRoot(helper, rootfs)
  if (spec.root.readonly) await helper.mount(null, '/', null, await remountFlags(helper, '/', ['rdonly']))
}
// #endregion setupRootfs
