/**
 * Chapter 13: user namespaces. Root in the container is root of a user namespace of its own,
 * whose ids are a range of unprivileged ids on the host (linux.uidMappings and gidMappings):
 * what it creates on a host filesystem belongs to that range, and the host's files it was
 * not given stay out of its reach, capabilities or not.
 *
 * Check your work with `npx workbook check 13`.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { IdMapping, Spec } from '../../lib/oci.ts'
import type { RemapUser, SubIdFile } from '../../lib/subid.ts'
import type { Helper } from '../../native/helper.ts'

// #region hostId
/** The host id that container id `id` is under `mappings`, or undefined when no mapping covers it. */
export function hostId(id: number, mappings: IdMapping[]): number | undefined {
  // TODO(13): where does a container id land on the host?
  //   1. Which mapping covers `id`? How many ids does a mapping cover, and from which one on?
  //   2. Where inside that range is `id`, and where is the same place on the host? What is an
  //      id that no mapping covers?
  throw new NotImplementedError('13-security', 'hostId')
}
// #endregion hostId

// #region enterUserNamespace
/**
 * Move the helper, before it forks or creates any other namespace, into a new user namespace
 * mapped as linux.uidMappings and gidMappings say, and leave it as that namespace's root, with
 * the ids and groups runc's process has there: the namespaces it creates next must belong to
 * the new user namespace, and every file it creates from here on must have an owner the host
 * can name. Each map is the text user_namespaces(7) describes for /proc/PID/uid_map and gid_map.
 * No mapping at all is refused before the helper changes, with `a user namespace needs
 * linux.uidMappings` (or gidMappings); a map that cannot be written names the file, the text
 * and the errno; both are ContainerErrors (125).
 */
export async function enterUserNamespace(helper: Helper, spec: Spec): Promise<void> {
  // TODO(13): a user namespace, entered, mapped and taken over, in an order that works.
  //   1. Two processes can act here: the helper, and this one (its parent, root on the host).
  //      Which may create the namespace for the helper, and which may write the helper's maps
  //      with a range of host ids? user_namespaces(7), "User and group ID mappings", lists the
  //      rules; an experiment and its errno tell you which rule you met.
  //   2. What does a line of uid_map hold, and which of config.json's three names goes where?
  //      Which order of the fields would map the host's root into the container? Read a map
  //      back from /proc/PID/uid_map of a runc container (chapter text, "User namespaces").
  //   3. Which process's /proc/PID files are the helper's before it forks? (Helper's doc comments.)
  //   4. Which ids does the helper have inside the new namespace before anything is mapped, and
  //      after? What would they mean for the files it creates on the rootfs or in a bind mount?
  //      Read /proc/PID/status's Uid and Gid lines from the host and from inside.
  //   5. Which changes of ids and groups does the kernel refuse until the maps exist
  //      (user_namespaces(7) on setgroups and unmapped ids), and in which order must they come
  //      for each to be allowed? Compare chapter 09's switchUser (minidocker/container.ts).
  //   6. A map is written once, in one write; what can be refused is refused before anything
  //      changes, and its errors read like the doc comment's.
  //   Where to look: runc's libcontainer/nsenter/nsexec.c (how the child and its parent take
  //   turns, update_uidmap), the chapter text, "User namespaces".
  throw new NotImplementedError('13-security', 'enterUserNamespace')
}
// #endregion enterUserNamespace

// #region shiftOwnership
/**
 * Give every file of `rootfs` (a copy the caller owns), whatever its type, the host owner its
 * owner inside the container maps to, as dockerd does for the layers of a daemon started with
 * --userns-remap: uid U becomes hostId(U, uidMappings), gid G likewise. Inside the container's
 * user namespace every file must then be what it was before: its mode, and what an exec of it
 * grants there (its file capabilities), with no more granted anywhere else. Nothing outside
 * `rootfs` may change. An owner that no mapping covers is a ContainerError (125) naming the
 * file and the id. `helper`, in the host's namespaces, does what node:fs cannot: extended
 * attributes.
 */
export async function shiftOwnership(rootfs: string, spec: Spec, helper: Helper): Promise<void> {
  // TODO(13): shift the owners of a whole tree, and keep everything else as it was.
  //   1. Which node:fs calls look at and change a symlink itself rather than its target? The
  //      tree is walked once, the root directory included.
  //   2. What does `ls -ln` inside the container show for a file you did not shift, and why can
  //      the container's root not write to its own directories then? (Chapter text.)
  //   3. Is chown(2) only a change of owner, even when root calls it? Compare stat(1) and
  //      getcap(8) of an image's setuid program and of a file with capabilities (setcap(8))
  //      before and after a chown; chown(2), capabilities(7), "File capabilities". What must
  //      you know before the chown that you cannot learn after it?
  //   4. What you put back is read by a kernel that asks which user namespace's root it is
  //      for. In which format does the kernel store it when the container's root sets it
  //      inside its namespace, and what does the other format mean to processes on the host?
  //      capabilities(7), "File capability extended attribute versioning"; linux/capability.h;
  //      the kernel's cap_convert_nscap (security/commoncap.c). Try setcap inside `unshare -U`.
  //   5. One inode can have several names: how often may it be shifted, and what would a
  //      second shift see? Which errors of the helper's attribute calls mean "nothing there"?
  //   Where to look: the chapter text, "The rootfs must belong to the range".
  throw new NotImplementedError('13-security', 'shiftOwnership')
}
// #endregion shiftOwnership

// #region remapMappings
/**
 * The mappings a daemon started with `--userns-remap` gives every container, as dockerd 20.10
 * works them out for `user` from the two files (NewIdentityMapping). A user with no range in a
 * file is an Error `no subuid ranges found for user "NAME" in PATH` (subgid likewise); a line
 * that is not `OWNER:START:COUNT`, or whose START or COUNT is not a whole number, is an Error
 * naming the file, the line number and the line.
 */
export function remapMappings(user: RemapUser, subuid: SubIdFile, subgid: SubIdFile): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  // TODO(13): the ranges a remapping daemon hands every container.
  //   1. man 5 subuid and man 5 subgid: what does each of a line's three fields mean, and which
  //      of the two files speaks of groups?
  //   2. Who may a line name (subuid(5))? A user can own lines under more than one name, in one
  //      file or in both: which lines count then, in each file, and in which order? Decide from
  //      the source of dockerd 20.10, the version the tests run (the chapter text says why a newer
  //      one's would mislead you), then try your files under dockerd.
  //   3. A user with two ranges gets two mappings: where inside the container does the second
  //      one start, so that no container id is mapped twice and none is skipped?
  //   4. Which lines are not ranges at all, and which are broken? The doc comment says what each
  //      error must name; the chapter text ("--userns-remap") shows the daemon's side.
  throw new NotImplementedError('13-security', 'remapMappings')
}
// #endregion remapMappings
