/**
 * Chapter 13: user namespaces. Root in the container is root of a user namespace of its own,
 * whose ids are a range of unprivileged ids on the host (linux.uidMappings and gidMappings):
 * what it creates on a host filesystem belongs to that range, and the host's files it was
 * not given stay out of its reach, capabilities or not.
 *
 * Check your work with `npx workbook check 13`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { IdMapping, Spec } from '../../lib/oci.ts'
import type { RemapUser, SubIdFile } from '../../lib/subid.ts'
import type { Helper } from '../../native/helper.ts'

// #region enterUserNamespace
/**
 * Move the helper, before it forks or creates any other namespace, into a new user namespace
 * mapped as linux.uidMappings and gidMappings say, and leave it as that namespace's root, with
 * the ids and groups runc's process has there: the namespaces it creates next must belong to
 * the new user namespace, and every file it creates from here on must have an owner the host
 * can name. No mapping at all is refused before the helper changes, with `a user namespace
 * needs linux.uidMappings` (or gidMappings), and so is every other pair of mappings runc would
 * not run, with a message naming linux.uidMappings (or gidMappings) and why; a map that still
 * cannot be written names the file, the text and the errno; all are ContainerErrors (125).
 */
export async function enterUserNamespace(helper: Helper, spec: Spec): Promise<void> {
  // TODO(13): a user namespace, entered, mapped and taken over, in an order that works.
  //   1. Two processes can act here: the helper, and this one (its parent, root on the host).
  //      Which may create the namespace for the helper, and which may write the helper's maps
  //      with a range of host ids? user_namespaces(7), "User and group ID mappings", lists the
  //      rules; an experiment and its errno tell you which rule you met.
  //   2. lib/id-mappings.ts writes a map's text as the kernel takes it. Which process's
  //      /proc/PID files are the helper's before it forks? (Helper's doc comments.)
  //   3. Which ids and groups does the helper hold inside the new namespace before anything is
  //      mapped, and after? What would they mean for the files it creates on the rootfs or in a
  //      bind mount, and for the host's files it opens? Read /proc/PID/status's Uid, Gid and
  //      Groups lines from the host and from inside.
  //   4. Which changes of ids and groups does the kernel refuse until the maps exist
  //      (user_namespaces(7) on setgroups and unmapped ids), and in which order must they come
  //      for each to be allowed?
  //   5. What can be refused is refused before anything changes. The kernel takes a map in one
  //      write, or not at all: which maps does it refuse, and for which of them can you know
  //      before the unshare? Ask the kernel, with a process of `unshare -U` and your own maps.
  //   6. The runtime is not always in the host's user namespace: a rootless set-up, a runtime in
  //      a container, `unshare -r`. Whose ids are a map's host ids, and what has the namespace the
  //      runtime starts in already decided for every namespace below it? Run your runtime's first
  //      steps under unshare -r, then runc's.
  //   Where to look: runc's libcontainer/nsenter/nsexec.c (how the child and its parent take
  //   turns, update_uidmap), the chapter text, "User namespaces".
  throw new NotImplementedError('13-security', 'enterUserNamespace')
}
// #endregion enterUserNamespace

// #region remapMappings
/**
 * The mappings a daemon started with `--userns-remap` gives every container, as dockerd 20.10
 * works them out for `user` from the two files (NewIdentityMapping). A user with no range in a
 * file is an Error `no subuid ranges found for user "NAME" in PATH` (subgid likewise); a line
 * that is not `OWNER:START:COUNT`, or whose START or COUNT is not a whole number, is an Error
 * naming the file, the line number and the line (lib/subid.ts reads the lines).
 */
export function remapMappings(user: RemapUser, subuid: SubIdFile, subgid: SubIdFile): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  // TODO(13): the ranges a remapping daemon hands every container.
  //   1. man 5 subuid and man 5 subgid: what does each of a line's three fields mean, and which
  //      of the two files speaks of groups?
  //   2. Who may a line name (subuid(5))? A user can own lines under more than one name, in one
  //      file or in both: which lines count then, in each file, and in which order? Decide from
  //      the source of dockerd 20.10, the version the tests run (the chapter text says why a newer
  //      one's would mislead you), then try your files under dockerd. NAME may name a group too
  //      (`user.group`, from --userns-remap user:group): which lines, in which file, does it
  //      decide?
  //   3. A user with several ranges gets several mappings: where inside the container does each
  //      one start? What must never happen to a container id?
  //   4. The doc comment says what each error must name; the chapter text ("--userns-remap")
  //      shows the daemon's side.
  throw new NotImplementedError('13-security', 'remapMappings')
}
// #endregion remapMappings
