/**
 * Chapter 03: a root filesystem of its own. In a new mount namespace the container gets a
 * private copy of the mount tree, its rootfs as `/` (pivot_root), a fresh /proc, a minimal
 * /dev, a read-only /sys and the bind mounts asked for with `-v`.
 *
 * Like chapter 02's work, all of it runs in the helper between fork and exec, in runc's order:
 * lib/rootfs-setup.ts (given) is that order, and calls the functions of this file.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { ContainerError } from '../../lib/errors.ts'
import { mountOptions } from '../../lib/volumes.ts'
import { SyscallError, type Helper, type MountFlag } from '../../native/helper.ts'

/** Whether mount point `point` is `path` or a directory above it. */
const covers = (point: string, path: string) => point === '/' || path === point || path.startsWith(`${point}/`)

/** A mountinfo path field: spaces, tabs, newlines and backslashes come as octal escapes (\040). */
const unescapeMountinfo = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))

/** The mount an fd of the helper's is on: its mount ID (proc(5), /proc/pid/fdinfo, mnt_id). */
const mountOf = (helper: Helper, fd: number) => /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${helper.serving}/fdinfo/${fd}`, 'utf8'))?.[1]

// #region makeMountsPrivate
/**
 * Stop mount events from crossing between the container and the host, except where the spec
 * asks for them. The namespace starts as a copy of the host's tree with the host's
 * propagation: where `/` is shared (systemd makes it so), every mount below would appear on
 * the host too. Without `propagation` nothing crosses, either way. With one (the spec's
 * `linux.rootfsPropagation`: dockerd writes "shared" there when a volume is `rshared`), the
 * tree gets that propagation, so that a volume can keep its link with the host's mounts; and
 * still no mount of the container's own setup (the rootfs's bind, /proc, /dev, the volumes
 * themselves) may appear on the host, and pivot_root must remain possible.
 * @param rootfs the directory that becomes the container's `/`, given with `propagation`
 * @param propagation a propagation type by mount(8)'s name, as `mountOptions` (lib/volumes.ts) reads it
 */
export async function makeMountsPrivate(helper: Helper, rootfs?: string, propagation?: string): Promise<void> {
  const wanted = mountOptions(propagation === undefined ? [] : [propagation]).propagation
  if (rootfs === undefined || wanted.length === 0) {
    await helper.mount(null, '/', null, ['rec', 'private'])
    return
  }
  await helper.mount(null, '/', null, wanted)
  // Whatever the spec asks, the mount the rootfs is on must not be shared: the rootfs's bind
  // and every mount of the setup below it would appear in that mount's peers, the host's among
  // them, and pivot_root(2) refuses a new_root whose parent mount is shared (EINVAL). runc:
  // rootfsParentMountPrivate. The volumes keep their link: each is a bind of its source's
  // mount, still in that mount's peer group, whatever the mount it is made under.
  const table = await readFile(`/proc/${helper.serving}/mountinfo`, 'utf8')
  const under = table.split('\n').filter(Boolean).map((line) => line.split(' '))
    .filter((f) => covers(unescapeMountinfo(f[4]!), rootfs)).at(-1)! // "/" covers every path
  if (under.slice(6, under.indexOf('-')).some((field) => field.startsWith('shared:')))
    await helper.mount(null, unescapeMountinfo(under[4]!), null, ['private'])
}
// #endregion makeMountsPrivate

// #region remountFlags
/** The per-mount words of mountinfo's options field (proc(5)) and the remount flag that keeps each. */
const PER_MOUNT: Record<string, MountFlag> = {
  ro: 'rdonly', nosuid: 'nosuid', nodev: 'nodev', noexec: 'noexec',
  relatime: 'relatime', noatime: 'noatime', nodiratime: 'nodiratime',
}

/** One mount(2) of a read-only change: the mount it reaches, as the path the call is given, and the call's flags. */
export interface Remount {
  target: string
  flags: MountFlag[]
}

/**
 * The remounts that turn the bind mount at `target` read-only and change nothing else about it:
 * afterwards the mount is read-only and otherwise exactly as it was (its source's nosuid, nodev,
 * noexec, its atime setting); in a user namespace the kernel refuses (EPERM) a remount that
 * would drop one of them. With `recursive` (an rbind), every mount the bind brought along below
 * it is read-only too, each otherwise exactly as it was; without, only the one mount changes.
 * @param target the mount, as the path the remount's mount(2) will be given: a mount point
 *   (`/`), or the path mountChecked hands to `then`, as the helper resolves it
 * @param wanted the entry's own per-mount flags ('rdonly' among them), kept too
 * @returns one mount(2) per mount to change, each call's target and every one of its flags
 *   (MS_REMOUNT and MS_BIND included), in the order to make them
 * @throws ContainerError (125) naming a flag of a mount that the helper cannot pass on.
 */
export async function remountFlags(helper: Helper, target: string, wanted: MountFlag[], recursive = false): Promise<Remount[]> {
  // The table of the container's mount namespace is the helper's (Node's own is the machine's);
  // the relay chapter 02 left at helper.pid made the namespace and shares it with its child.
  const table = await readFile(`/proc/${helper.pid}/mountinfo`, 'utf8')
  // The helper's /proc/self is the serving process's /proc/PID: its fd's magic link says where
  // the mount it holds sits now, written as the table writes mount points.
  const fd = /^\/proc\/self\/fd\/(\d+)$/.exec(target)?.[1]
  const point = fd !== undefined ? readlinkSync(`/proc/${helper.serving}/fd/${fd}`) : target
  const lines = table.split('\n').filter(Boolean).map((line) => line.split(' '))
  // An fd is on one mount, which the kernel names in its fdinfo: whatever was mounted at the
  // same place meanwhile (moved in on top of it) is another line at the same mount point.
  // A path names the mount on top of it: of the mounts whose mount point covers it, the last listed.
  const fields = fd !== undefined
    ? lines.find((f) => f[0] === mountOf(helper, Number(fd)))!
    : lines.filter((f) => covers(unescapeMountinfo(f[4]!), point)).at(-1)! // "/" covers every path
  const remounts = [{ target, flags: keeping(fields, point, wanted) }]
  if (!recursive) return remounts
  // An rbind copied the source's submounts too, each a mount with flags of its own, and a remount
  // changes one mount only (MS_REC means nothing to MS_REMOUNT): each is found by its parent's
  // mount ID, and reached by its place below the bind's root, through the path that reaches it.
  const top = unescapeMountinfo(fields[4]!)
  for (const below of submounts(lines, fields[0]!, top)) {
    const at = unescapeMountinfo(below[4]!)
    remounts.push({ target: join(target, relative(top, at)), flags: keeping(below, at, wanted) })
  }
  return remounts
}

/**
 * The mounts below mount `id` in table order (a parent before its children) that a path can
 * reach: of mounts stacked at one mount point the last is on top, and what is mounted on a
 * hidden one is hidden with it.
 */
function submounts(lines: string[][], id: string, point: string): string[][] {
  const ids = new Set([id])
  // A child at the mount's own mount point is not below it but on top of it (mounted, or moved,
  // there after it): no part of the bind, and a remount through the bind's path would reach it.
  const below = lines.filter((f) => ids.has(f[1]!) && !(f[1] === id && unescapeMountinfo(f[4]!) === point) && ids.add(f[0]!))
  const hidden = new Set<string>()
  return below.filter((f, i) => {
    if (hidden.has(f[1]!) || below.slice(i + 1).some((g) => g[4] === f[4])) return !hidden.add(f[0]!)
    return true
  })
}

/** The flags of the remount of the mount on mountinfo line `fields`: `wanted`, and every per-mount flag it has now. */
function keeping(fields: string[], point: string, wanted: MountFlag[]): MountFlag[] {
  const words = fields[5]!.split(',').filter((word) => word !== 'rw')
  const current = words.map((word) => {
    const flag = PER_MOUNT[word]
    if (!flag) throw new ContainerError(`the mount at ${point} has "${word}", which a read-only remount could not keep`, 125)
    return flag
  })
  // A remount that names any atime flag (nodiratime too) gets relatime unless it names another:
  // strictatime shows as no word at all, so it must be said again as the absence of the others.
  if (!words.includes('relatime') && !words.includes('noatime')) current.push('strictatime')
  return ['remount', 'bind', ...new Set([...current, ...wanted])]
}
// #endregion remountFlags

// #region mountChecked

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
  // O_PATH opens without reading: a FIFO planted there would block a read-only open for good.
  const fd = await helper.openAt('cwd', target, ['path', 'nofollow'])
  try {
    // Where the open landed, as the helper's namespace names it (the kernel's own answer).
    const landed = readlinkSync(`/proc/${helper.serving}/fd/${fd}`)
    if (landed !== target)
      throw new ContainerError(`the mount point ${target} (inside ${rootfs}) changed after it was resolved: it now leads to ${landed}; refusing to mount there`, 125)
    // A lookup crosses onto whatever is mounted at a name: a mount point already the root of a
    // mount (one moved in there after the check) is not the file that was checked.
    // (The root of a mount is named by its mount point, and only it is.)
    const mounts = (await readFile(`/proc/${helper.serving}/mountinfo`, 'utf8')).split('\n').map((line) => line.split(' '))
    const on = mounts.find((f) => f[0] === mountOf(helper, fd))
    if (on && unescapeMountinfo(on[4]!) === landed)
      throw new ContainerError(`the mount point ${target} (inside ${rootfs}) is the root of a mount that was not there when it was resolved; refusing to mount there`, 125)
    // Under O_NOFOLLOW a symlink planted at the last name is the file held: what a mount may
    // cover is a directory or a regular file, nothing else (a link, a FIFO, a device).
    const held = statSync(`/proc/${helper.serving}/fd/${fd}`)
    if (!held.isDirectory() && !held.isFile())
      throw new ContainerError(`the mount point ${target} (inside ${rootfs}) is no longer a directory or a file; refusing to mount there`, 125)
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
    const top = await helper.openAt('cwd', point, ['path', 'nofollow']).catch((error: unknown) => {
      throw error instanceof SyscallError ? refuse(`${point} cannot be opened again (${error.code})`) : error
    })
    try {
      const reached = readlinkSync(`/proc/${helper.serving}/fd/${top}`)
      if (reached !== point) throw refuse(`${point} now leads to ${reached}`)
      // A plain directory put in its place would be on the mount under it, not on a new one; a
      // mount moved in on top of it would be a new one, but mounted on the volume, not on `under`.
      const table = await readFile(`/proc/${helper.serving}/mountinfo`, 'utf8')
      const parent = table.split('\n').find((line) => line.split(' ')[0] === mountOf(helper, top))?.split(' ')[1]
      if (mountOf(helper, top) === mountOf(helper, under) || parent !== mountOf(helper, under)) throw refuse(`${point} is no longer the mount just made`)
      await then(`/proc/self/fd/${top}`)
    } finally {
      await helper.closeFd(top)
    }
  } catch (error) {
    // umount2(2) looks its target up to the mount on top of it: through `under`, exactly the
    // mount made on it, wherever it is now and whatever the names say; unless another mount was
    // put on top of that one since, which it would take away instead. Then the new mount stays,
    // hidden under it, and nothing of anyone else's is touched.
    const table = (await readFile(`/proc/${helper.serving}/mountinfo`, 'utf8')).split('\n').map((line) => line.split(' '))
    const made = table.find((f) => f[1] === mountOf(helper, under) && unescapeMountinfo(f[4]!) === readlinkSync(`/proc/${helper.serving}/fd/${under}`))
    if (!made || !table.some((f) => f[1] === made[0] && f[4] === made[4])) await helper.umount2(`/proc/self/fd/${under}`, ['detach'])
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
 * @param rootfs the rootfs as the caller wrote it (absolute; not necessarily normalized)
 * @param target the mount point as the helper sees it: `rootfs` joined with the resolved path
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
      const made = await helper.mkdirAt(dir, name).then(() => true, (error: unknown) => existing(error) ?? false)
      const next = await helper.openAt(dir, name, ['path', 'nofollow', 'directory']).catch(refuse(target, name))
      // An open crosses onto whatever is mounted at the name: a directory made a moment ago can
      // be no mount point of the setup's, so a mount there came from elsewhere (moved in, or
      // propagated from the host) and the walk would go on in its files.
      if (made && mountOf(helper, next) !== mountOf(helper, dir)) {
        await helper.closeFd(next)
        throw new ContainerError(`the mount point ${target}: "${name}", made a moment ago, is now the root of another mount; refusing to create anything in it`, 125)
      }
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

// #region pivotRoot
/**
 * Make `rootfs` the root of the mount namespace and detach the old root completely, so no
 * path leads back to the host's files (unlike chroot, which only changes where "/" starts),
 * without touching the host's mounts or the new root's own, whatever their propagation.
 * Afterwards the caller's working directory is the new /, and / holds only the rootfs's files.
 * Nothing is written into the rootfs, not even for a moment: it may be read-only, and other
 * containers may be using the same one at the same time.
 * @throws SyscallError from pivot_root itself, unchanged (e.g. new_root is not a mount point).
 */
export async function pivotRoot(helper: Helper, rootfs: string): Promise<void> {
  // runc's way: with new_root and put_old the same directory, the old root is stacked on top
  // of the new one (pivot_root(2), NOTES), so nothing is written into a rootfs that may be
  // read-only or shared by other containers at that very moment. The old root is held: once
  // it is stacked there, no name leads to it.
  const oldRoot = await helper.openAt('cwd', '/', ['path', 'directory'])
  try {
    // From inside new_root: afterwards the working directory is the new / without a chdir.
    await helper.chdir(rootfs)
    await helper.pivotRoot(rootfs, rootfs)
    // The old root's mounts may still be peers of the host's (a namespace whose / was left
    // shared, as rootfsPropagation "shared" leaves it): an unmount propagates to peers, and the
    // detach would take the host's /proc, /dev, ... with it. As slaves they only receive
    // (runc: rslave, not rprivate, so the host's unmounts still reach these copies while they
    // last). Only the old root's tree: the new one's volumes keep the propagation they asked for.
    await helper.fchdir(oldRoot)
    await helper.mount(null, '.', null, ['rec', 'slave'])
    await helper.umount2('.', ['detach'])
  } finally {
    await helper.closeFd(oldRoot)
  }
  await helper.chdir('/')
}
// #endregion pivotRoot

