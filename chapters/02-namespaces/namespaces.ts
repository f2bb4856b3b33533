/**
 * Chapter 02: namespaces. The container's process gets a hostname, a process tree and IPC
 * objects of its own, while it still shares everything else with the host.
 *
 * The work happens in the helper, between its start and exec (chapter 01's `prepare` step):
 * the namespaces config.json's linux.namespaces lists, a PID 1 in the new PID namespace that
 * dies with the helper's relay, and the hostname in the new UTS namespace.
 *
 * Check your work with `npx workbook check 2`.
 */
import { constants } from 'node:os'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { NamespaceType, Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

/** The namespaces this chapter gives every container, by config.json's names. */
export const CHAPTER_NAMESPACES: NamespaceType[] = ['pid', 'ipc', 'uts']

// #region namespacesToCreate
/**
 * The namespace types to create for `spec`, as linux.namespaces asks for them, in its order.
 * An entry with a `path` asks to join an existing namespace instead (setns), which `minidocker
 * exec` does in chapter 10; here it is refused with a ContainerError (125) that names the
 * entry's type and path. The path field is read as runc reads it.
 */
export function namespacesToCreate(spec: Spec): NamespaceType[] {
  // TODO(02): what config.json's linux.namespaces asks for.
  //   1. An entry either makes a new namespace or joins an existing one: which field tells them
  //      apart, and what does runc make of that field when it is an empty string?
  //   2. What if a type is listed twice? (unshare(2)'s flags)
  //   The runtime spec's config-linux.md, "Namespaces"; runc's configs/namespaces_linux.go and
  //   configs/validate/validator.go; "Which namespaces" in the chapter text.
  throw new NotImplementedError('02-namespaces', 'namespacesToCreate')
}
// #endregion namespacesToCreate

// #region setHostname
/**
 * Give the container the hostname its spec asks for, and never rename anything else: a spec
 * that asks for one without a UTS namespace of the container's own (`created` holds the
 * namespaces enterNamespaces made) is refused with a ContainerError (125), as runc refuses it,
 * with every hostname as it was.
 */
export async function setHostname(helper: Helper, spec: Spec, created: NamespaceType[]): Promise<void> {
  // TODO(02): the hostname, and only where it is the container's own.
  //   1. Whose hostname does sethostname(2) change? (uts_namespaces(7); "The hostname")
  //   2. If the call would rename something that is not the container's, when must you find
  //      out: can an error thrown after the call still undo it?
  //   3. Which values of spec.hostname ask for nothing at all? (runc's standard_init_linux.go)
  //   runc's validator.go refuses the same spec ("unable to set hostname without a private
  //   UTS namespace").
  throw new NotImplementedError('02-namespaces', 'setHostname')
}
// #endregion setHostname

// #region enterNamespaces
/**
 * Put the helper's next process into the namespaces `spec` asks for and return that process's
 * PID on the host. The helper always forks, with or without a new PID namespace: after this,
 * helper requests go to the container's process; the helper's own process stays behind as a
 * relay that exits the way the container's process exits. If the relay dies, at any moment,
 * the container's process must die too, and if the relay is already gone when this returns,
 * it leaves no container process behind and throws a ContainerError (125). Nothing is mounted
 * here: the container has no mount namespace of its own yet.
 */
export async function enterNamespaces(helper: Helper, spec: Spec): Promise<number> {
  // TODO(02): new namespaces, a PID 1, and a container that cannot outlive its relay.
  //   1. After unshare(2), who is in each new namespace: the caller, or only the children it
  //      makes afterwards? Read the flags one by one, and pid_namespaces(7).
  //   2. Which process runs the command in the end, which stays behind as the relay, and by
  //      which PID does the host know the first? (Not /proc/self: that is Node.)
  //   3. The relay may die at any moment from the fork on. What can the kernel do for the
  //      container then, and who has to ask it, when? (prctl(2), fork(2))
  //   4. And if the relay dies before that request arrives? What does runc's
  //      standard_init_linux.go do about it, and does that work as is for a PID 1?
  //   5. At which point of all this does sethostname(2) act on the container's UTS namespace?
  //   "unshare, and why PID needs a fork" and "The relay, and dying with it" in the chapter
  //   text; unshare(1)'s --fork; runc's libcontainer/nsenter/nsexec.c.
  throw new NotImplementedError('02-namespaces', 'enterNamespaces')
}
// #endregion enterNamespaces
