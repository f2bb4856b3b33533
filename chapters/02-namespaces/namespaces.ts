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
 * An entry with a `path` asks to join an existing namespace instead (setns: joinNamespaces),
 * and is not one of them. The path field is read as runc reads it.
 */
export function namespacesToCreate(spec: Spec): NamespaceType[] {
  // TODO(02): what config.json's linux.namespaces asks to create.
  //   1. An entry either makes a new namespace or joins an existing one: which field tells them
  //      apart, and what does runc make of that field when it is an empty string?
  //   2. What if a type is listed twice? (unshare(2)'s flags)
  //   The runtime spec's config-linux.md, "Namespaces"; runc's configs/namespaces_linux.go and
  //   configs/validate/validator.go; "Which namespaces" in the chapter text.
  throw new NotImplementedError('02-namespaces', 'namespacesToCreate')
}
// #endregion namespacesToCreate

// #region joinNamespaces
/**
 * Move the helper into every namespace `spec` names by `path` (a /proc/PID/ns/KIND link, or a
 * bind mount of one), so that the container's process, forked afterwards, is born in each of
 * them; returns their types. Before anything is joined, the spec is refused with a
 * ContainerError (125) that names the entry's type and path when an entry cannot be what it
 * asks for: a path that is not there, a namespace of another type than the entry's, a type
 * that the spec also asks to create, and the mount namespace the helper is in (the container
 * would mount in it). On any refusal the helper is in the namespaces it started in.
 */
export async function joinNamespaces(helper: Helper, spec: Spec): Promise<NamespaceType[]> {
  // TODO(02): join what the spec names by path (docker run --network container:X, docker
  //   exec, a Kubernetes pod), every refusal decided before the first join.
  //   1. How can you tell, from here, which kind of namespace a path names, and which one it
  //      is? What changes when the path is a bind mount rather than a /proc/PID/ns link?
  //      (namespaces(7), "The /proc/[pid]/ns/ directory"; stat(2))
  //   2. The helper resolves each path when it joins it. Can joining one namespace change what
  //      the paths still to come name? (setns(2))
  //   3. "The mount namespace the helper is in": is that always this process's?
  //   runc: join_namespaces in libcontainer/nsenter/nsexec.c, orderNamespacePaths in
  //   container_linux.go; "Joining namespaces" in the chapter text.
  throw new NotImplementedError('02-namespaces', 'joinNamespaces')
}
// #endregion joinNamespaces

// #region setHostname
/**
 * Give the container the hostname its spec asks for, and never rename anything else: a spec
 * that asks for one without a UTS namespace of the container's own (`own` holds the
 * namespaces enterNamespaces made or joined) is refused with a ContainerError (125), as runc
 * refuses it, with every hostname as it was.
 */
export async function setHostname(helper: Helper, spec: Spec, own: NamespaceType[]): Promise<void> {
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
 * Put the helper's next process into the namespaces `spec` asks for, those it names by path and
 * those to create, and return that process's PID on the host. The helper always forks, with or
 * without a new PID namespace: after this, helper requests go to the container's process; the
 * helper's own process stays behind as a relay that exits the way the container's process
 * exits. If the relay dies, at any moment, the container's process must die too, and if the
 * relay is already gone when this returns, it leaves no container process behind and throws a
 * ContainerError (125). `enterUser`, when given, is chapter 13's new user namespace: it must
 * run after every join and before any namespace is created (the namespaces created after it
 * belong to it, and from inside it the host's can no longer be joined). Nothing is mounted
 * here: the mount namespace, new or joined, is chapter 03's to fill.
 */
export async function enterNamespaces(helper: Helper, spec: Spec, enterUser?: () => Promise<void>): Promise<number> {
  // TODO(02): the container's namespaces, joined and new, a process born in all of them, and
  //   a container that cannot outlive its relay. The order of the steps is the design work;
  //   each question below constrains it, none of them is a step.
  //   1. What does each call do to its caller, and what to the children it makes afterwards?
  //      (unshare(2), setns(2), pid_namespaces(7))
  //   2. Which process must ask the kernel to be killed with its parent, from when, and what
  //      if the parent is already gone by then? (prctl(2), fork(2); runc's
  //      standard_init_linux.go, and what getppid(2) can say inside a new PID namespace)
  //   3. Where must the hostname land, and what may still fail after it?
  //   "unshare, and why PID needs a fork", "Joining namespaces" and "The relay, and dying with
  //   it" in the chapter text; unshare(1)'s --fork; runc's libcontainer/nsenter/nsexec.c.
  throw new NotImplementedError('02-namespaces', 'enterNamespaces')
}
// #endregion enterNamespaces
