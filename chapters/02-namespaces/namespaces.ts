/**
 * Chapter 02: namespaces. The container's process gets a hostname, a process tree and IPC
 * objects of its own, while it still shares everything else with the host.
 *
 * The work happens in the helper, between its start and exec (chapter 01's `prepare` step):
 * unshare the namespaces listed in config.json's linux.namespaces, fork so the child is PID 1
 * of the new PID namespace, and set the hostname in the new UTS namespace.
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
 * The namespaces to create for `spec`: the types in linux.namespaces, each once, in the order
 * they first appear. An entry with a `path` asks to join an existing namespace instead (setns),
 * which `minidocker exec` does in chapter 10; here it is refused with a ContainerError (125)
 * that names the entry's type and path.
 */
export function namespacesToCreate(spec: Spec): NamespaceType[] {
  // TODO(02): what config.json's linux.namespaces asks for.
  //   1. A spec may have no linux section at all: what does that ask for?
  //   2. An entry is either "make a new one" or "join this one": which field tells them apart?
  //   3. A type listed twice is still one namespace: unshare(2) takes a set of flags.
  //   The runtime spec's config-linux.md, "Namespaces"; runc's configs/validate/validator.go.
  throw new NotImplementedError('02-namespaces', 'namespacesToCreate')
}
// #endregion namespacesToCreate

// #region setHostname
/**
 * Give the container its hostname. Only allowed in a UTS namespace of its own (`created` holds
 * the namespaces enterNamespaces made): without one, sethostname() would rename the host, so it
 * is refused with a ContainerError (125) before anything is changed, as runc refuses it.
 */
export async function setHostname(helper: Helper, spec: Spec, created: NamespaceType[]): Promise<void> {
  // TODO(02): the hostname, and only where it is the container's own.
  //   1. Whose hostname does sethostname(2) change? Read "The hostname" in the chapter text.
  //   2. What must be true before the helper is asked anything, and what if it is not?
  //   3. A spec without a hostname asks for nothing.
  //   runc's validator.go refuses the same spec ("unable to set hostname without a private
  //   UTS namespace"); standard_init_linux.go sets it.
  throw new NotImplementedError('02-namespaces', 'setHostname')
}
// #endregion setHostname

// #region enterNamespaces
/**
 * Put the helper's next process into the namespaces `spec` asks for and return that process's
 * PID on the host. After this, helper requests go to the container's PID 1; the helper's own
 * process stays behind as a relay that exits the way PID 1 exits. If the relay is killed, PID 1
 * must die with it. Nothing is mounted here: the container has no mount namespace of its own yet.
 */
export async function enterNamespaces(helper: Helper, spec: Spec): Promise<number> {
  // TODO(02): new namespaces, a PID 1, and a container that cannot outlive its relay.
  //   1. unshare(2) moves the caller into new UTS and IPC namespaces, but not into a new PID
  //      namespace: who enters that one, and what must happen after unshare for it?
  //   2. Which PID does the host know PID 1 by, and who tells you? (Not /proc/self: that is
  //      Node.) Chapter 04 needs it to put the process into its cgroup.
  //   3. If the relay dies, PID 1 must die too: prctl(2), PR_SET_PDEATHSIG. Which process must
  //      ask, and when? (fork(2) says what a child does not inherit.)
  //   4. Where in this sequence may the hostname be set, so that it is the container's?
  //   "unshare, and why PID needs a fork" in the chapter text; unshare(1)'s --fork; runc's
  //   libcontainer/nsenter/nsexec.c, which clones twice.
  throw new NotImplementedError('02-namespaces', 'enterNamespaces')
}
// #endregion enterNamespaces
