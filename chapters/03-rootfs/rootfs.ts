/**
 * Chapter 03: a root filesystem of its own. In a new mount namespace the container gets a
 * private copy of the mount tree, its rootfs as `/` (pivot_root), a fresh /proc, a minimal
 * /dev, a read-only /sys and the bind mounts asked for with `-v`.
 *
 * Like chapter 02's work, all of it runs in the helper between fork and exec, in runc's order:
 * lib/rootfs-setup.ts (given) is that order, and calls the functions of this file.
 *
 * Check your work with `npx workbook check 3`.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Helper, MountFlag } from '../../native/helper.ts'

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
  // TODO(03): cut propagation between this namespace and the host, before anything is mounted.
  //   1. A new mount namespace copies the host's mounts *with their propagation*. Read
  //      mount_namespaces(7), "Shared subtrees", and the chapter's "A mount namespace, made
  //      private": which propagation type stops events both ways, and how do you change it
  //      with mount(2) (which arguments does a propagation change ignore)?
  //   2. Constraint: / is not the only mount. Every mount below it (the disk your rootfs sits
  //      on may be one) must change too, or mounts made there still reach the host.
  //   3. With a `propagation` (`-v DIR:/vol:rshared`, for which dockerd writes "shared"), the
  //      tests mount on the host's side of such a volume after the setup, and on the
  //      container's side, and look for each mount on the other side; and for any other mount
  //      of the container on the host. What does the volume's bind mount inherit from the
  //      mount it copies? Which conditions does pivot_root(2) set on propagation (ERRORS), and
  //      which mount decides whether a mount made below the rootfs reaches the host? (The
  //      rootfs need not be a plain directory: it may be a mount of the host's itself.)
  //   runc: prepareRoot() in libcontainer/rootfs_linux.go.
  throw new NotImplementedError('03-rootfs', 'makeMountsPrivate')
}
// #endregion makeMountsPrivate

// #region remountFlags
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
  // TODO(03): a read-only bind mount is two calls, and the second one forgets. Find out what
  //   the mount has now, so the remount can say it again.
  //   1. Which flags does a remount keep of the ones it is not given (mount(2), "Remounting an
  //      existing mount", and what it says of MS_NODIRATIME and the atime flags)? Try it: a
  //      volume from a nosuid,nodev,noexec tmpfs, made read-only with rdonly alone, then
  //      /proc/self/mountinfo in the container. Node's fs.statfs gives no flags.
  //   2. Where can you read a mount's flags, and whose table must it be? Node runs in another
  //      mount namespace than the helper (in the tests, the helper's is a stand-in host).
  //   3. Many lines cover a path: "/", the disk, the rootfs, mounts stacked on one mount point.
  //      Which one is the mount the path is on (proc(5), "/proc/pid/mountinfo")? `target` may
  //      be a magic link of the helper's own /proc: which mount does it name, seen from Node,
  //      and is that still the line at its path once something is mounted on top of it (the
  //      tests move a mount in there between requests)? And which words of a line are per-mount
  //      flags, and which helper flag keeps each?
  //   4. The atime flags are not independent words. What does the kernel give a remount that
  //      names some of them and not others, and can every atime setting a source may have be
  //      read off its line as written? The tests compare the volume's line with its source's.
  //   5. Never drop a flag silently: one you cannot pass on is a ContainerError that names it.
  //   6. `-v SRC:/data:ro` is an rbind: whatever is mounted below SRC on the host comes along.
  //      What is each of those in the container after your remount? The tests mount below a
  //      :ro volume's source and write there from inside. What does one remount reach, and
  //      how do you find, and reach, what it did not?
  //   runc: the case "bind" of mountToRootfs and statfsToMountFlags in
  //   libcontainer/rootfs_linux.go (1.2+), moby's UnprivilegedMountFlags; chapter: "Read-only,
  //   and nothing less".
  throw new NotImplementedError('03-rootfs', 'remountFlags')
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
  // TODO(03): close the window between "secureJoin said where" and "mount(2) went there", and
  //   the one between "the mount is made" and "the mount is changed".
  //   1. Any name is looked up again by every call that is given it, and the tests change the
  //      destination before each of the helper's requests in turn: a directory on the way
  //      becomes a symlink to a stand-in host folder, or a plain directory of the same name, or
  //      a symlink into the host's own mount appears at the last name, or a mount of the host's
  //      is moved onto it (mount --move), after any request. So what can be checked
  //      once and then used without a second lookup? (open(2); proc(5), "/proc/pid/fd/"; the
  //      helper's docs in native/helper.ts.)
  //   2. Once the mount is made, what does each thing you hold reach: the name (what may it
  //      lead to by now?), and what you checked before the mount (the mount, or what lies
  //      under it?). Try a remount through each. How do you find the mount you made, and how do
  //      you know that what you reached is that mount, and not one stacked on it or under it
  //      (proc(5), "/proc/pid/fdinfo/", "/proc/pid/mountinfo")?
  //   3. Constraints: no mount, remount or propagation change outside `rootfs`, nor on any
  //      mount but the one just made, whichever request the swap comes before; a target that
  //      no longer leads where secureJoin said, or a new mount you cannot reach for certain, is
  //      a ContainerError (125) that names it, and then nothing of this call stays mounted (what
  //      can still reach that mount? umount2(2)); no fd is left open, on success or failure.
  //   4. Whatever sits at the mount point when you reach it is the image's choice: the tests
  //      plant a FIFO, and a symlink, at a single-file volume's mount point. Neither may stall
  //      the run, and neither may end up under the mount: what does each of your calls do with
  //      such a file (open(2), fifo(7), mount(2))?
  //   runc: utils.WithProcfd (1.0.0-rc95, 1.1) and reopenAfterMount (1.3) in libcontainer;
  //   the chapter's "Between the check and the mount".
  throw new NotImplementedError('03-rootfs', 'mountChecked')
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
  // TODO(03): make the mount point inside the rootfs, even while its names are being swapped.
  //   1. mkdirAll (lib/helper-fs.ts) is `mkdir -p` by full path: what does each mkdir do with a symlink it
  //      meets on the way (path_resolution(7))? The tests swap each directory of `target`, the
  //      ones still to be made too, for a symlink to a stand-in host folder before each of the
  //      helper's requests in turn; that folder must stay empty: no directory, no file.
  //   2. A name is looked up again by every call given it. What can the walk keep of the level
  //      it has reached, so that a later swap of a name cannot redirect it, and what must it
  //      never do when it goes on to the next level (openat(2), mkdirat(2), native/helper.ts)?
  //      What does the kernel answer when that level is no longer a directory? And what else
  //      can a name lead onto, that no open stops at? The tests also move a mount of the host's
  //      onto a directory of the walk; that mount must stay empty.
  //   3. A file that is there already (the image's /etc/hosts) must come out unchanged, and a
  //      file that is not must be made right where the walk is, whatever was planted at its
  //      name a moment before: what does each way of creating a file do to what is there?
  //   4. Constraints: a level that is not a directory is a ContainerError (125) naming `target`,
  //      any other error goes through; a name another process made meanwhile is no error; no fd
  //      is left open, on success or failure.
  //   runc 1.1.14: securejoin.MkdirAllHandle (filepath-securejoin, mkdir_linux.go) replacing
  //   MkdirAll in createIfNotExists; the chapter's "Making the mount point".
  throw new NotImplementedError('03-rootfs', 'makeMountPoint')
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
  // TODO(03): make the rootfs the root of this mount namespace, and leave no way back.
  //   1. Read pivot_root(2): what are new_root and put_old, what must hold for each before
  //      the call, and where is the old root afterwards?
  //   2. Constraints, all tested: afterwards the caller's working directory is the new /;
  //      no mount of the old root is left in the namespace, although this very process was
  //      using it a moment ago (umount2(2)); nothing is written into the rootfs, not even a
  //      directory for put_old: it may be read-only, or in use by twenty containers at once.
  //      Where else could put_old be?
  //   3. Constraint, tested: the old root's mounts may still be peers of the host's (a spec's
  //      rootfsPropagation leaves / shared), and nothing you do to the old root may change the
  //      host's mount table, nor the propagation of the new root's own mounts (an rshared
  //      volume). What does an unmount do in a mount's peers (mount_namespaces(7))?
  //   4. Let pivot_root's own SyscallError through unchanged.
  //   runc: pivotRoot() in libcontainer/rootfs_linux.go; chapter: "Why chroot is not enough".
  throw new NotImplementedError('03-rootfs', 'pivotRoot')
}
// #endregion pivotRoot
