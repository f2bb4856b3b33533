/**
 * Chapter 02: namespaces. The container's process gets a hostname, a process tree and IPC
 * objects of its own, while it still shares everything else with the host.
 *
 * The work happens in the helper, between its start and exec (chapter 01's `prepare` step):
 * the namespaces config.json's linux.namespaces lists, a PID 1 in the new PID namespace that
 * dies with the helper's relay, and the hostname in the new UTS namespace.
 */
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { constants } from 'node:os'
import { ContainerError } from '../../lib/errors.ts'
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
  const entries = spec.linux?.namespaces ?? []
  return [...new Set(entries.filter((ns) => !ns.path).map((ns) => ns.type))]
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
  const entries = spec.linux?.namespaces ?? []
  const joined = entries.filter((ns) => ns.path)
  const toCreate = namespacesToCreate(spec)
  for (const { type, path } of joined) {
    const refuse = (why: string) => new ContainerError(`cannot join the ${type} namespace at ${path}: ${why}`, 125)
    if (toCreate.includes(type)) throw refuse(`the spec also asks for a new ${type} namespace`)
    if (!existsSync(path!)) throw refuse('no such file')
    // A /proc/PID/ns link names its namespace ("ipc:[4026532201]"); a bind-mounted file is no link.
    const link = readlinkOrNull(path!)
    if (link !== null && link.split(':')[0] !== NS_FILES[type]) throw refuse(`it is a ${link.split(':')[0]} namespace`)
    // A namespace's inode number is the same through every path that names it.
    if (type === 'mount' && sameFile(path!, `/proc/${helper.pid}/ns/mnt`)) throw refuse('it is the mount namespace the runtime is in')
  }
  // After the mount namespace every path is looked up in it: it comes last.
  const mount = joined.filter((ns) => ns.type === 'mount')
  for (const { path } of [...joined.filter((ns) => ns.type !== 'mount'), ...mount]) await helper.setns(path!)
  return joined.map((ns) => ns.type)
}

/** The name of each namespace type's file in /proc/PID/ns, which its link also starts with. */
const NS_FILES: Record<NamespaceType, string> = { pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time' }

function readlinkOrNull(path: string): string | null {
  try {
    return readlinkSync(path)
  } catch {
    return null
  }
}

function sameFile(a: string, b: string): boolean {
  const [x, y] = [statSync(a), statSync(b)]
  return x.dev === y.dev && x.ino === y.ino
}
// #endregion joinNamespaces

// #region setHostname
/**
 * Give the container the hostname its spec asks for, and never rename anything else: a spec
 * that asks for one without a UTS namespace of the container's own (`own` holds the
 * namespaces enterNamespaces made or joined) is refused with a ContainerError (125), as runc refuses it,
 * with every hostname as it was.
 */
export async function setHostname(helper: Helper, spec: Spec, own: NamespaceType[]): Promise<void> {
  if (!spec.hostname) return
  if (!own.includes('uts'))
    throw new ContainerError('unable to set hostname without a private UTS namespace', 125)
  await helper.sethostname(spec.hostname)
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
  const joined = await joinNamespaces(helper, spec)
  await enterUser?.()
  const created = namespacesToCreate(spec)
  await helper.unshare(created)
  // unshare(CLONE_NEWPID) and setns into a PID namespace move only the children: the first one forked is born there.
  const pid = await helper.fork()
  // If the relay is killed, take the container's process (and a new PID namespace) down too.
  await helper.setParentDeathSignal(constants.signals.SIGKILL)
  // A relay that died before the prctl sends no signal: the child was already reparented.
  if (parentOf(pid) !== helper.pid) {
    process.kill(pid, 'SIGKILL')
    throw new ContainerError(`the relay (PID ${helper.pid}) died before the container's process (PID ${pid}) could ask to die with it`, 125)
  }
  await setHostname(helper, spec, [...joined, ...created])
  return pid
}

/** The host PID of `pid`'s parent (getppid() inside a new PID namespace says only 0). */
function parentOf(pid: number): number {
  return Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}
// #endregion enterNamespaces
