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
import { mkdirAll } from '../../lib/helper-fs.ts'
import { DEFAULT_DEVICES, DEFAULT_MOUNTS, DEV_SYMLINKS, type Mount, type Spec } from '../../lib/oci.ts'
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
  // TODO(03): read docker's -v flag: a host path, a container path and an optional mode.
  //   1. What does Docker accept here, and what does it refuse? Its parser is
  //      volume/mounts/linux_parser.go in moby; the chapter's "The mounts of the spec" says
  //      which refusals this one needs. Refuse with a ContainerError (exit code 125) whose
  //      message quotes the flag and says what is wrong.
  //   2. The result is the same kind of entry as the last one of the chapter's config.json:
  //      a recursive bind mount, and a read-only one for :ro.
  throw new NotImplementedError('03-rootfs', 'parseVolume')
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
  // TODO(03): one list of fstab-style options is two things for mount(2).
  //   1. Which options are flags the kernel applies to any mount (FLAG_OPTIONS maps them), and
  //      which are a string only one filesystem's driver reads? See mount(2), "data", and the
  //      chapter's "The mounts of the spec".
  //   2. Constraints: each flag once; the data keeps the options' order; "rw" is not a flag
  //      but the absence of one.
  //   3. The propagation options (PROPAGATION_OPTIONS) are a third thing: what does mount(2)
  //      do with MS_PRIVATE or MS_SHARED beside a filesystem type ("Changing the propagation
  //      type of an existing mount")? So when can they be applied, and by which call?
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
  // TODO(03): cut propagation between this namespace and the host, before anything is mounted.
  //   1. A new mount namespace copies the host's mounts *with their propagation*. Read
  //      mount_namespaces(7), "Shared subtrees", and the chapter's "A mount namespace, made
  //      private": which propagation type stops events both ways, and how do you change it
  //      with mount(2) (which arguments does a propagation change ignore)?
  //   2. Constraint: / is not the only mount. Every mount below it (the disk your rootfs sits
  //      on may be one) must change too, or mounts made there still reach the host.
  //   runc: prepareRoot() in libcontainer/rootfs_linux.go.
  throw new NotImplementedError('03-rootfs', 'makeMountsPrivate')
}
// #endregion makeMountsPrivate

// #region bindRootfs
/**
 * Make the rootfs a mount point of its own, which pivot_root requires of new_root.
 * @throws ContainerError (125) whose message names the rootfs and says it "does not exist".
 */
export async function bindRootfs(helper: Helper, rootfs: string): Promise<void> {
  // TODO(03): pivot_root(2) wants new_root to be a mount point; an unpacked image is a plain
  //   directory. Make it a mount point without copying anything (chapter: "pivot_root wants
  //   a mount point"; runc: prepareRoot() in libcontainer/rootfs_linux.go).
  //   1. Keep what is already mounted below the rootfs visible in it.
  //   2. A rootfs that does not exist fails right here: turn that syscall error into a
  //      ContainerError (125) whose message names the rootfs and says "does not exist".
  //      Any other error goes through unchanged.
  throw new NotImplementedError('03-rootfs', 'bindRootfs')
}
// #endregion bindRootfs

// #region remountFlags
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
  //      be a magic link of the helper's own /proc: which mount does it name, seen from Node?
  //      And which words of a line are per-mount flags, and which helper flag keeps each?
  //   4. Never drop a flag silently: one you cannot pass on is a ContainerError that names it.
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
  //      a symlink into the host's own mount appears at the last name. So what can be checked
  //      once and then used without a second lookup? (open(2); proc(5), "/proc/pid/fd/"; the
  //      helper's docs in native/helper.ts.)
  //   2. Once the mount is made, what does each thing you hold reach: the name (what may it
  //      lead to by now?), and what you checked before the mount (the mount, or what lies
  //      under it?). Try a remount through each. How do you find the mount you made, and how do
  //      you know that what you reached is that mount (proc(5), "/proc/pid/fdinfo/")?
  //   3. Constraints: no mount, remount or propagation change outside `rootfs`, nor on any
  //      mount but the one just made, whichever request the swap comes before; a target that
  //      no longer leads where secureJoin said, or a new mount you cannot reach for certain, is
  //      a ContainerError (125) that names it, and then nothing of this call stays mounted (what
  //      can still reach that mount? umount2(2)); no fd is left open, on success or failure.
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
 * @param target the mount point as the helper sees it: `rootfs` followed by the resolved path
 * @throws ContainerError (125) naming `target` when a component on the way is not a directory
 *   (a symlink that appeared after the resolution among them); nothing is made beyond it.
 */
export async function makeMountPoint(helper: Helper, rootfs: string, target: string, kind: MountPointKind): Promise<void> {
  // TODO(03): make the mount point inside the rootfs, even while its names are being swapped.
  //   1. mkdirAll (given) is `mkdir -p` by full path: what does each mkdir do with a symlink it
  //      meets on the way (path_resolution(7))? The tests swap each directory of `target`, the
  //      ones still to be made too, for a symlink to a stand-in host folder before each of the
  //      helper's requests in turn; that folder must stay empty: no directory, no file.
  //   2. A name is looked up again by every call given it. What can the walk keep of the level
  //      it has reached, so that a later swap of a name cannot redirect it, and what must it
  //      never do when it goes on to the next level (openat(2), mkdirat(2); the helper's openAt
  //      and mkdirAt)? What does the kernel answer when that level is no longer a directory?
  //   3. A file that is there already (the image's /etc/hosts) must come out unchanged, and a
  //      file that is not must be made right where the walk is: which open(2) flags create
  //      without emptying and without following?
  //   4. Constraints: a level that is not a directory is a ContainerError (125) naming `target`,
  //      any other error goes through; a name another process made meanwhile is no error; no fd
  //      is left open, on success or failure.
  //   runc 1.1.14: securejoin.MkdirAllHandle (filepath-securejoin, mkdir_linux.go) replacing
  //   MkdirAll in createIfNotExists; the chapter's "Making the mount point".
  throw new NotImplementedError('03-rootfs', 'makeMountPoint')
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
  // TODO(03): one entry of spec.mounts, mounted at its destination inside the rootfs.
  //   1. Where is "inside the rootfs"? The image chose the destination and may have made it, or
  //      a directory above it, a symlink to /etc or ../../..: a path glued onto the rootfs would
  //      then name the host. secureJoin (securejoin.ts, yours) says where the path leads; if the
  //      destination itself is a symlink, is the mount meant for the link or for where it leads
  //      (what does mount(2) do with a symlink as target)? Create nothing before that.
  //   2. The mount point must exist first, inside the rootfs: makeMountPoint (yours) makes it.
  //      What kind of mount point does a bind mount of a single file need? Which view of the
  //      rootfs does Node's fs have, and which does the helper have (native/helper.ts, and the
  //      tests' stand-in host under "Check your work")? The source is the host's: Node sees it.
  //   3. Bind mounts differ from the others: what do they mount, and do they take a
  //      filesystem type? A bind source that does not exist is a ContainerError (125).
  //   4. A read-only bind: mount(2) says which flags MS_BIND honours. How do you make a bind
  //      mount read-only, and how do you make sure only this mount turns read-only, not the
  //      filesystem it comes from (a whole host disk)? remountFlags (yours) says with which flags.
  //   5. mountOptions' propagation flags ("rprivate", "shared"), once the mount exists.
  //   6. Every mount(2) of the entry goes through mountChecked (yours), the ones after the
  //      mount too: the path secureJoin gave is only a name, and names change under you.
  //   runc: mountToRootfs() and its case for bind mounts in libcontainer/rootfs_linux.go;
  //   chapter: "The mounts of the spec".
  throw new NotImplementedError('03-rootfs', 'mountInRootfs')
}
// #endregion mountInRootfs

// #region createDevices
/**
 * Fill the container's /dev (a fresh tmpfs) with the few devices a program expects. With
 * `bind`, the host's node of the same name is used instead of a new one, as runc does where
 * it must (chapter 13's user namespace).
 */
export async function createDevices(helper: Helper, rootfs: string, bind = false): Promise<void> {
  // TODO(03): the device nodes and /dev symlinks a program expects, in the container's /dev.
  //   1. Which devices, with which type, numbers and mode? DEFAULT_DEVICES and DEV_SYMLINKS
  //      in lib/oci.ts list them (the runtime spec's "Default Devices", "Dev symbolic links").
  //   2. What makes a device node, and what does it need to be told (mknod(2), native/helper.ts)?
  //   3. Constraint: rootfs/dev must already be the container's own tmpfs when this runs,
  //      never the image's directory.
  //   4. bind: before pivot_root, which /dev/NAME does the helper see? What can a bind mount
  //      land on (mount(2), MS_BIND), and what must exist there first?
  //   runc: createDevices() and setupDevSymlinks() in libcontainer/rootfs_linux.go.
  throw new NotImplementedError('03-rootfs', 'createDevices')
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
  // TODO(03): make the rootfs the root of this mount namespace, and leave no way back.
  //   1. Read pivot_root(2): what are new_root and put_old, what must hold for each before
  //      the call, and where is the old root afterwards?
  //   2. Constraints, all tested: afterwards the caller's working directory is the new /;
  //      no mount of the old root is left in the namespace, although this very process was
  //      using it a moment ago (umount2(2)); nothing is written into the rootfs, not even a
  //      directory for put_old: it may be read-only, or in use by twenty containers at once
  //      (pivot_root(2), NOTES: where may put_old be?).
  //   3. Let pivot_root's own SyscallError through unchanged.
  //   runc: pivotRoot() in libcontainer/rootfs_linux.go; chapter: "Why chroot is not enough".
  throw new NotImplementedError('03-rootfs', 'pivotRoot')
}
// #endregion pivotRoot

// #region chrootInto
/** The old way: change where "/" starts for this process only. Escapable (see the exercise). */
export async function chrootInto(helper: Helper, rootfs: string): Promise<void> {
  // TODO(03): the old way, for the escape exercise: make the rootfs this process's "/" only.
  //   1. chroot(2) changes the root, not the working directory: where must the process be
  //      afterwards so that "/" and "." agree? Chapter: "Why chroot is not enough".
  throw new NotImplementedError('03-rootfs', 'chrootInto')
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
  // TODO(03): the whole setup, runc's way: prepareRootfs() in libcontainer/rootfs_linux.go, and
  //   the chapter's "The whole setup". The order is yours to find; here is what it must never
  //   do, and the tests try each:
  //   1. mount anything for a spec with a root but no mount namespace (refuse with a
  //      ContainerError, 125), or let a single mount reach the host;
  //   2. stumble on a spec that lists a mount before the mount it sits on;
  //   3. make a device node the container will not see, or one inside the image, or one the
  //      kernel refuses because linux.namespaces has a user namespace (mknod(2), ERRORS);
  //   4. leave / writable when spec.root.readonly asks otherwise, make the host's filesystem
  //      read-only, or drop a flag the mount had (remountFlags);
  //   5. call beforePivot before the container's mounts and devices are all there, or after the
  //      process has moved into them.
  throw new NotImplementedError('03-rootfs', 'setupRootfs')
}
// #endregion setupRootfs
