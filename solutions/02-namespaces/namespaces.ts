/**
 * Chapter 02: namespaces. The container's process gets a hostname, a process tree and IPC
 * objects of its own, while it still shares everything else with the host.
 *
 * The work happens in the helper, between its start and exec (chapter 01's `prepare` step):
 * the namespaces config.json's linux.namespaces lists, a PID 1 in the new PID namespace that
 * dies with the helper's relay, and the hostname in the new UTS namespace.
 */
import { readFileSync, statSync } from 'node:fs'
import { constants } from 'node:os'
import { ContainerError } from '../../lib/errors.ts'
import type { NamespaceType, Spec } from '../../lib/oci.ts'
import { Helper, type SyscallError } from '../../native/helper.ts'

/** The namespaces this chapter gives every container, by config.json's names. */
export const CHAPTER_NAMESPACES: NamespaceType[] = ['pid', 'ipc', 'uts']

/**
 * The namespace types to create for `spec`, as linux.namespaces asks for them, in its order.
 * An entry with a `path` asks to join an existing namespace instead (setns: joinNamespaces),
 * and is not one of them; runc reads an empty path as none. A list runc would refuse (a type
 * listed twice, a type no kernel has) is refused with a ContainerError (125) naming the entry.
 */
function namespacesToCreate(spec: Spec): NamespaceType[] {
  const types = (spec.linux?.namespaces ?? []).filter((ns) => !ns.path).map((ns) => ns.type)
  for (const [i, type] of types.entries()) {
    if (!KNOWN.includes(type)) throw new ContainerError(`namespace "${type}" does not exist`, 125)
    if (types.indexOf(type) !== i) throw new ContainerError(`malformed spec: the ${type} namespace is listed twice`, 125)
  }
  return types
}

/** The kinds of namespace a spec can name (the runtime spec's list, as the helper's unshare takes them). */
const KNOWN: readonly string[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time']

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
  const entries = (spec.linux?.namespaces ?? []).filter((ns) => ns.path)
  const toCreate = namespacesToCreate(spec)
  const refuse = ({ type, path }: { type: NamespaceType; path?: string }, why: string) => new ContainerError(`cannot join the ${type} namespace at ${path}: ${why}`, 125)
  for (const [i, ns] of entries.entries()) {
    if (toCreate.includes(ns.type)) throw refuse(ns, `the spec also asks for a new ${ns.type} namespace`)
    if (entries.findIndex((other) => other.type === ns.type) !== i) throw refuse(ns, `the spec names another ${ns.type} namespace to join`)
  }
  if (entries.length === 0) return []
  // Every path is looked up once, in the helper's mount namespace, before any join, by an open that
  // opens nothing (a FIFO or a device would act on a read open): from then on an fd, not a path,
  // names each file, and keeps a namespace alive whatever its holder does.
  const held: { ns: (typeof entries)[number]; fd: number; at: string }[] = []
  try {
    for (const ns of entries) {
      const found = await helper.openAt('cwd', ns.path!, ['path']).catch((e: SyscallError) => Promise.reject(e.code === 'ENOENT' ? refuse(ns, 'no such file') : e))
      held.push({ ns, fd: found, at: `/proc/${helper.pid}/fd/${found}` })
    }
    // Only a file of the namespace filesystem may be opened for real; the open goes through the fd, not the name.
    for (const h of held) {
      if (!isNamespaceFile(h.at)) throw refuse(h.ns, 'it is not a namespace')
      const fd = await helper.open(`/proc/self/fd/${h.fd}`)
      await helper.closeFd(h.fd)
      Object.assign(h, { fd, at: `/proc/${helper.pid}/fd/${fd}` })
    }
    // A namespace's inode number is the same through every name; the fd is the helper's reading of the path.
    const runtime = [process.pid, helper.pid].map((pid) => `/proc/${pid}/ns/mnt`)
    for (const { ns, at } of held)
      if (ns.type === 'mount' && runtime.some((own) => sameFile(at, own))) throw refuse(ns, 'it is the mount namespace the runtime is in')
    await rehearse(held, refuse)
    for (const { ns, fd } of held) await helper.setnsFd(fd, ns.type)
  } finally {
    for (const { fd } of held) await helper.closeFd(fd)
  }
  return entries.map((ns) => ns.type)
}

/**
 * Only the kernel tells the kind of a bind-mounted namespace, and only by a join: try every join
 * in a helper that is thrown away, as the helper will make them (in the spec's order, through
 * the helper's fds). The rehearsal opens them all before its first join: after a mount join
 * /proc/HELPER may name nothing, and after a user join the helper's fds are no longer its to open.
 */
async function rehearse(held: { ns: { type: NamespaceType; path?: string }; at: string }[], refuse: (ns: { type: NamespaceType; path?: string }, why: string) => Error) {
  const rehearsal = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
  try {
    const fds: number[] = []
    for (const { at } of held) fds.push(await rehearsal.open(at))
    for (const [i, { ns }] of held.entries())
      await rehearsal.setnsFd(fds[i]!, ns.type).catch((e: SyscallError) => Promise.reject(e.code === 'EINVAL' || e.code === 'EPERM' ? refuse(ns, e.code === 'EINVAL' ? `it is not a ${ns.type} namespace` : 'it cannot be joined after the entries before it') : e))
  } finally {
    rehearsal.kill()
    await rehearsal.exited
  }
}

/** A file of nsfs, the filesystem every namespace's file is on (one device for all of them). */
function isNamespaceFile(at: string): boolean {
  const file = statSync(at)
  return file.isFile() && file.dev === statSync('/proc/self/ns/uts').dev
}

function sameFile(a: string, b: string): boolean {
  const [x, y] = [statSync(a), statSync(b)]
  return x.dev === y.dev && x.ino === y.ino
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
  const created = namespacesToCreate(spec)
  // Everything the hostname could be refused for is known from the spec: refuse it before the helper changes.
  const own = [...created, ...(spec.linux?.namespaces ?? []).filter((ns) => ns.path).map((ns) => ns.type)]
  if (spec.hostname && !own.includes('uts'))
    throw new ContainerError('unable to set hostname without a private UTS namespace', 125)
  if (spec.hostname && Buffer.byteLength(spec.hostname) > HOST_NAME_MAX)
    throw new ContainerError(`hostname ${JSON.stringify(spec.hostname)} is ${Buffer.byteLength(spec.hostname)} bytes, more than sethostname(2) takes (${HOST_NAME_MAX})`, 125)
  // A joined UTS namespace belongs to a user namespace older than the one enterUser makes, where the container's process will hold no capability.
  const joinedUts = spec.linux?.namespaces?.find((ns) => ns.type === 'uts' && ns.path)
  if (spec.hostname && joinedUts && enterUser)
    throw new ContainerError(`cannot set the hostname in the uts namespace at ${joinedUts.path}: the container's new user namespace has no capability in the user namespace that owns it`, 125)
  // A fork can still be refused after the joins: hold what the helper is in now, to go back to.
  const before = await holdOwn(helper, spec)
  // joinNamespaces refuses with the helper as it started; what comes after it is this function's to take back.
  await joinNamespaces(helper, spec).catch(async (error: unknown) => {
    await goBack(helper, before, false)
    return Promise.reject(error)
  })
  let pid: number
  try {
    await enterUser?.()
    await helper.unshare(created)
    // unshare(CLONE_NEWPID) and setns into a PID namespace move only the children: the first one forked is born there.
    // The parent never execs and lives as long as the container: it lets go of the way back once the fork has succeeded.
    pid = await helper.fork(heldFds(before)).catch((e: SyscallError) => Promise.reject(forkRefusal(e, spec)))
  } catch (error) {
    // In another user namespace the helper has no capability left in its own: nothing can be joined again.
    const userMoved = enterUser !== undefined || spec.linux?.namespaces?.some((ns) => ns.type === 'user' && ns.path)
    await goBack(helper, before, !userMoved)
    if (!userMoved) throw error
    // A helper that cannot go back is no helper its caller can use: end it, as runc throws runc init away.
    helper.kill()
    await helper.exited
    throw new ContainerError(`${(error as Error).message}; the helper had moved into another user namespace, from which it cannot go back, and was ended`, 125)
  }
  // If the relay is killed, take the container's process (and a new PID namespace) down too.
  await helper.setParentDeathSignal(constants.signals.SIGKILL)
  // A relay that died before the prctl sends no signal: the child was already reparented.
  if (parentOf(pid) !== helper.pid) {
    process.kill(pid, 'SIGKILL')
    throw new ContainerError(`the relay (PID ${helper.pid}) died before the container's process (PID ${pid}) could ask to die with it`, 125)
  }
  for (const fd of heldFds(before)) await helper.closeFd(fd)
  // In the child, in the container's UTS namespace (new or joined), after the last check that could fail.
  if (spec.hostname) await helper.sethostname(spec.hostname)
  return pid
}

/** The /proc/self/ns file of each kind, the one that holds what a join or an unshare of that kind changes. */
const OWN_FILE: Record<NamespaceType, string> = { mount: 'mnt', network: 'net', uts: 'uts', ipc: 'ipc', pid: 'pid_for_children', user: 'user', cgroup: 'cgroup', time: 'time_for_children' }

/** What leads the helper back to where it started: its namespaces, and its working directory. */
type Held = { namespaces: { type: NamespaceType; fd: number }[]; cwd: number }

/**
 * The helper's own namespaces of every kind the spec joins or creates, held open (a name such as
 * /proc/self/ns/uts would lead to wherever the helper is by then), and its working directory,
 * which a join of a mount namespace, its own included, moves to that namespace's root. A user
 * namespace is not held: once in another one, the helper may join none of the host's again.
 */
async function holdOwn(helper: Helper, spec: Spec): Promise<Held> {
  const types = [...new Set((spec.linux?.namespaces ?? []).map((ns) => ns.type))].filter((type) => type in OWN_FILE && type !== 'user')
  const held: Held = { namespaces: [], cwd: await helper.openAt('cwd', '.', ['path', 'directory']) }
  for (const type of types) held.namespaces.push({ type, fd: await helper.open(`/proc/self/ns/${OWN_FILE[type]}`) })
  return held
}

const heldFds = (held: Held) => [...held.namespaces.map(({ fd }) => fd), held.cwd]

/** Back into what holdOwn held (when `rejoin`), and let it go. */
async function goBack(helper: Helper, held: Held, rejoin: boolean) {
  for (const { type, fd } of held.namespaces) {
    if (rejoin) await helper.setnsFd(fd, type)
    await helper.closeFd(fd)
  }
  if (rejoin) await helper.fchdir(held.cwd)
  await helper.closeFd(held.cwd)
}

/**
 * What a failed fork means for the spec: a PID namespace whose init has exited takes no more
 * processes, and fork(2) answers ENOMEM, which is the joined entry's fault, not memory's.
 */
function forkRefusal(error: SyscallError, spec: Spec): Error {
  const joined = spec.linux?.namespaces?.find((ns) => ns.type === 'pid' && ns.path)
  if (error.code !== 'ENOMEM' || !joined) return error
  return new ContainerError(`cannot start a process in the pid namespace at ${joined.path}: its init has exited`, 125)
}

/** The longest hostname a UTS namespace holds, in bytes (__NEW_UTS_LEN). */
const HOST_NAME_MAX = 64

/** The host PID of `pid`'s parent (getppid() inside a new PID namespace says only 0). */
function parentOf(pid: number): number {
  return Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}
// #endregion enterNamespaces
