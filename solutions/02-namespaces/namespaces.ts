/**
 * Chapter 02: namespaces. The container's process gets a hostname, a process tree and IPC
 * objects of its own, while it still shares everything else with the host.
 *
 * The work happens in the helper, between its start and exec (chapter 01's `prepare` step):
 * the namespaces config.json's linux.namespaces lists, a PID 1 in the new PID namespace that
 * dies with the helper's relay, and the hostname in the new UTS namespace.
 */
import { readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { ContainerError } from '../../lib/errors.ts'
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
  const entries = spec.linux?.namespaces ?? []
  const joined = entries.find((ns) => ns.path)
  if (joined) throw new ContainerError(`joining the ${joined.type} namespace at ${joined.path} is not supported here`, 125)
  return [...new Set(entries.map((ns) => ns.type))]
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
  if (!spec.hostname) return
  if (!created.includes('uts'))
    throw new ContainerError('unable to set hostname without a private UTS namespace', 125)
  await helper.sethostname(spec.hostname)
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
  const created = namespacesToCreate(spec)
  await helper.unshare(created)
  // unshare(CLONE_NEWPID) moves only the children: the first one forked becomes PID 1.
  const pid = await helper.fork()
  // If the relay is killed, take PID 1 (and with it the whole namespace) down too.
  await helper.setParentDeathSignal(constants.signals.SIGKILL)
  // A relay that died before the prctl sends no signal: the child was already reparented.
  if (parentOf(pid) !== helper.pid) {
    process.kill(pid, 'SIGKILL')
    throw new ContainerError(`the relay (PID ${helper.pid}) died before the container's process (PID ${pid}) could ask to die with it`, 125)
  }
  await setHostname(helper, spec, created)
  return pid
}

/** The host PID of `pid`'s parent (getppid() inside a new PID namespace says only 0). */
function parentOf(pid: number): number {
  return Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}
// #endregion enterNamespaces
