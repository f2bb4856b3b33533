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
 * The namespaces to create for `spec`: the types in linux.namespaces, each once. An entry with
 * a `path` asks to join an existing namespace instead (setns), which `minidocker exec` does in
 * chapter 10; here it is refused.
 */
export function namespacesToCreate(spec: Spec): NamespaceType[] {
  // TODO(02): read linux.namespaces.
  //   1. spec.linux?.namespaces may be missing: treat that as an empty list.
  //   2. If an entry has a `path`, throw new ContainerError(message, 125): joining is for later.
  //   3. Return each entry's `type`, without duplicates, in the order they first appear.
  throw new NotImplementedError('02-namespaces', 'namespacesToCreate')
}
// #endregion namespacesToCreate

// #region setHostname
/**
 * Give the container its hostname. Only allowed in a UTS namespace of its own: without one,
 * sethostname() would rename the host (runc refuses the same way).
 */
export async function setHostname(helper: Helper, spec: Spec, created: NamespaceType[]): Promise<void> {
  // TODO(02): set spec.hostname, safely.
  //   1. No spec.hostname: nothing to do.
  //   2. If 'uts' is not in `created`, throw new ContainerError(message, 125) BEFORE calling the
  //      helper: the helper would otherwise rename the host itself.
  //   3. await helper.sethostname(spec.hostname).
  throw new NotImplementedError('02-namespaces', 'setHostname')
}
// #endregion setHostname

// #region enterNamespaces
/**
 * Put the helper's next process into the namespaces `spec` asks for and return that process's
 * PID on the host. After this, helper requests go to the container's PID 1; the helper's own
 * process stays behind as a relay that exits the way PID 1 exits.
 */
export async function enterNamespaces(helper: Helper, spec: Spec): Promise<number> {
  // TODO(02): unshare, fork, then configure the child.
  //   1. const created = namespacesToCreate(spec); await helper.unshare(created).
  //   2. const pid = await helper.fork(): unshare(CLONE_NEWPID) does not move the caller, only
  //      its next child, which becomes PID 1. From now on the helper's requests go to it.
  //   3. await helper.setParentDeathSignal(constants.signals.SIGKILL), so killing the relay
  //      (what runProcess does when something fails) also kills the container.
  //   4. await setHostname(helper, spec, created), then return pid (chapter 04 needs it).
  throw new NotImplementedError('02-namespaces', 'enterNamespaces')
}
// #endregion enterNamespaces
