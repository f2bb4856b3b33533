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
 * Move the helper into every namespace `spec` names by `path`, so that the container's
 * process, forked afterwards, is born in each of them; returns their types. A path is what
 * the runtime is handed: a /proc/PID/ns/KIND link, or a file a namespace is bind-mounted on
 * (dockerd's sandbox netns under /var/run/docker/netns, `ip netns add`), named in the
 * helper's mount namespace. The helper ends up in exactly the namespaces each entry's type
 * says, or in none of them: when an entry cannot be joined as what it says it is, or would
 * leave the container mounting in the runtime's own mount namespace, or asks for a type the
 * spec also creates, the spec is refused with a ContainerError (125) naming the entry's type
 * and path, and the helper is still as it started, in its namespaces and without children.
 */
export async function joinNamespaces(helper: Helper, spec: Spec): Promise<NamespaceType[]> {
  // TODO(02): join what the spec names by path (docker run --network container:X, docker
  //   exec, a Kubernetes pod, the netns file dockerd hands runc), all or nothing.
  //   1. Whose view of the file system is a path in? Node runs in one mount namespace, the
  //      helper may be in another (mount_namespaces(7), proc(5) on /proc/PID/root).
  //   2. How can you tell which kind of namespace a path names, and which one it is, when it
  //      is a /proc/PID/ns link, and when it is a file a namespace is bind-mounted on? What can
  //      Node see, and what only the kernel? (namespaces(7), stat(2), setns(2)'s nstype;
  //      the helper's setns in native/helper.ts)
  //   3. If the only sure check is a join, what does "the helper is still as it started" ask
  //      of you, and where can a join be tried without consequences? Joining one namespace
  //      can change what the paths still to come name (setns(2)).
  //   4. "The runtime's own mount namespace": what names it, whatever the path's text?
  //   runc: nsexec.c's join_namespaces (it opens every path before the first setns, and
  //   passes the type); orderNamespacePaths in container_linux.go; "Joining namespaces".
  throw new NotImplementedError('02-namespaces', 'joinNamespaces')
}
// #endregion joinNamespaces

// #region setHostname
/**
 * The container's hostname is the one its spec asks for, and no other UTS namespace's changes:
 * a spec whose hostname has no UTS namespace of the container's own to land in (`own` holds
 * the namespaces enterNamespaces made or joined) is refused with a ContainerError (125), as runc
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
 * Put the container's process into the namespaces `spec` asks for, those it names by path and
 * those to create, and return its PID on the host. When this returns, whatever the namespaces,
 * helper requests go to that process, and the helper's own process is its relay: it stays
 * outside and exits the way the container's process exits. The container's process never
 * outlives the relay: if the relay dies, at any moment, it dies too, and if the relay is
 * already gone when this would return, no container process is left and a ContainerError
 * (125) is thrown. `enterUser`, when given, makes chapter 13's new user namespace: the
 * container is then in every namespace the spec names by path, and every namespace it creates
 * is owned by that user namespace. Nothing is mounted here: the mount namespace, new or
 * joined, is chapter 03's to fill.
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
