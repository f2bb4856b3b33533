/**
 * Chapter 02: namespaces. The container's process gets a hostname, a process tree and IPC
 * objects of its own, while it still shares everything else with the host.
 *
 * The work happens in the helper, between its start and exec (chapter 01's `prepare` step):
 * unshare the namespaces listed in config.json's linux.namespaces, fork so the child is PID 1
 * of the new PID namespace, and set the hostname in the new UTS namespace.
 */
import { constants } from 'node:os'
import { ContainerError } from '../../lib/errors.ts'
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
  const entries = spec.linux?.namespaces ?? []
  const joined = entries.find((ns) => ns.path !== undefined)
  if (joined) throw new ContainerError(`joining the ${joined.type} namespace at ${joined.path} is not supported here`, 125)
  return [...new Set(entries.map((ns) => ns.type))]
}
// #endregion namespacesToCreate

// #region setHostname
/**
 * Give the container its hostname. Only allowed in a UTS namespace of its own (`created` holds
 * the namespaces enterNamespaces made): without one, sethostname() would rename the host, so it
 * is refused with a ContainerError (125) before anything is changed, as runc refuses it.
 */
export async function setHostname(helper: Helper, spec: Spec, created: NamespaceType[]): Promise<void> {
  if (spec.hostname === undefined) return
  if (!created.includes('uts'))
    throw new ContainerError('unable to set hostname without a private UTS namespace', 125)
  await helper.sethostname(spec.hostname)
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
  const created = namespacesToCreate(spec)
  await helper.unshare(created)
  // unshare(CLONE_NEWPID) moves only the children: the first one forked becomes PID 1.
  const pid = await helper.fork()
  // If the relay is killed, take PID 1 (and with it the whole namespace) down too.
  await helper.setParentDeathSignal(constants.signals.SIGKILL)
  await setHostname(helper, spec, created)
  return pid
}
// #endregion enterNamespaces
