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

// #region joinNamespaces
/**
 * Move the helper into every namespace `spec` names by `path`, so that the container's
 * process, forked afterwards, is born in each of them; returns their types. A path is what
 * the runtime is handed: a /proc/PID/ns/KIND link, or a file a namespace is bind-mounted on
 * (dockerd's sandbox netns under /var/run/docker/netns, `ip netns add`), named in the
 * helper's mount namespace. The helper ends up in exactly the namespaces each entry's type
 * says, or in none of them: when an entry cannot be joined as what it says it is (a path that
 * is not there, or no longer names a namespace, included), or would leave the container
 * mounting in the runtime's own mount namespace (Node's, or the one the helper started in),
 * or asks for a type the spec also creates or joins elsewhere, the spec is refused with a
 * ContainerError (125) naming the entry's type and path, and the helper is still as it
 * started: in its namespaces, its children's PID namespace the same, and without children.
 * A path may name any file its writer put there, and can come to name another namespace, or
 * another file, at any moment.
 */
export async function joinNamespaces(helper: Helper, spec: Spec): Promise<NamespaceType[]> {
  // TODO(02): join what the spec names by path (docker run --network container:X, docker
  //   exec, a Kubernetes pod, the netns file dockerd hands runc), all or nothing.
  //   The constraints, not the steps:
  //   1. A path is the helper's, in the helper's mount namespace; Node may be in another one.
  //   2. Which kind of namespace a path names, and which namespace, must be known before the
  //      helper moves at all; a bind-mounted namespace file says neither to readlink(2). And a
  //      path is whatever the spec's writer put there: the look must not cost the helper.
  //   3. Nothing stays still while you check: the process holding a namespace can die between
  //      your check and your join, a name can come to name another namespace (a netns file
  //      unmounted and another namespace mounted there, a dead holder's PID reused), and one
  //      join can change what the paths after it name. What did your check look at, and is it
  //      what the helper joins? A refusal that leaves the helper half-joined is never right.
  //   4. The runtime's own mount namespace must be refused under any name for it.
  //   Where to look: setns(2), namespaces(7), proc(5), open(2); native/helper.ts for what the helper
  //   can do; "Joining namespaces" in the chapter text.
  throw new NotImplementedError('02-namespaces', 'joinNamespaces')
}
// #endregion joinNamespaces

// #region enterNamespaces
/**
 * Put the container's process into the namespaces `spec` asks for, those it names by path and
 * those to create, give it `spec.hostname`, and return its PID on the host. When this returns,
 * whatever the namespaces, helper requests go to that process, and the helper's own process is
 * its relay: it stays outside and exits the way the container's process exits. The container's
 * process never outlives the relay: if the relay dies, at any moment, it dies too, and if the
 * relay is already gone when this would return, no container process is left and a
 * ContainerError (125) is thrown. A linux.namespaces list runc would refuse is refused with a
 * ContainerError (125) naming the entry, with the helper as it started; an entry's path field is
 * read as runc reads it. The hostname lands in a UTS namespace of the container's own and
 * renames no other; a spec that cannot be given its hostname is refused with a ContainerError
 * (125), as runc refuses it, with the helper as it started. A spec whose
 * namespaces cannot take the container's process when it is started is refused with a
 * ContainerError (125) that names the entry's type and path, with the helper as it started,
 * or, where it can no longer be, ended.
 * `enterUser`, when given, makes chapter 13's new user namespace: the container is then in
 * every namespace the spec names by path, and every namespace it creates is owned by that user
 * namespace. Nothing is mounted here: the mount namespace, new or joined, is chapter 03's to fill.
 */
export async function enterNamespaces(helper: Helper, spec: Spec, enterUser?: () => Promise<void>): Promise<number> {
  // TODO(02): the container's namespaces, joined and new, a process born in all of them, its
  //   hostname, and a container that cannot outlive its relay. The order of the steps is the
  //   design work; each question below constrains it, none of them is a step.
  //   0. config.json is JSON someone else wrote: which entries ask to create, which to join (and
  //      what does runc make of a path that is ""), and which lists would runc refuse outright?
  //      Who would find out otherwise, and what would the helper have done by then?
  //      (config-linux.md, "Namespaces"; runc's configs/namespaces_linux.go, specconv)
  //   1. What does each call do to its caller, and what to the children it makes afterwards?
  //      (unshare(2), setns(2), pid_namespaces(7))
  //   2. A fork can be refused after every join (pid_namespaces(7)): the helper is the caller's
  //      to keep, so what leads it back, what else did the way in move, and what can never be
  //      left again?
  //   3. From the fork on, the relay can die between any two of your requests: what then ends
  //      the container's process, and how do you know it will? (prctl(2), proc(5))
  //   4. Whose hostname does sethostname(2) change, which values of "hostname" ask for nothing,
  //      and which ones can it not take? Of every way the
  //      hostname can fail, when can you know, and what has the helper done by then? Mind
  //      enterUser: in which user namespace is the process that would set it?
  //      (uts_namespaces(7), sethostname(2), user_namespaces(7); runc's validator.go)
  //   "unshare, and why PID needs a fork", "Joining namespaces", "The relay, and dying with
  //   it" and "The hostname" in the chapter text; unshare(1)'s --fork.
  throw new NotImplementedError('02-namespaces', 'enterNamespaces')
}
// #endregion enterNamespaces
