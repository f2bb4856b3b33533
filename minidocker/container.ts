/**
 * `minidocker run`: one container from start to exit, composed from the chapters.
 *
 * The order is runc's: create the cgroup (04); start the helper (01); in it, unshare namespaces
 * and fork so the container's process is PID 1 (02); put that process in its cgroup before it
 * runs anything (04); give it its network (08); build its root filesystem and pivot_root into
 * it (03); become the configured user with its capabilities, no_new_privs and seccomp filter
 * (13); exec the command (01); when it has exited, undo the network (08), and let withCgroup
 * (04) note an OOM kill, end what is left in the cgroup and remove it.
 *
 * Once chapter 09 is written, a container with a root filesystem goes through the runtime's
 * life cycle as dockerd's do through runc: a bundle, then create, start, wait and delete, with
 * the same set-up (prepare() and secure() below). Before that, and for a command run in the
 * host's root filesystem (which no OCI runtime does), minidocker runs the same steps in one go.
 *
 * A chapter that is still a starter is skipped with a note (optional), unless the spec asks for
 * something only that chapter can do, such as a hostname or a memory limit (required).
 */
import { dockerExitCode, exitCode, runProcess } from '#ch/01-process/process.ts'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import { createCgroup, forkIntoCgroup, oomKilled, withCgroup, type Cgroup } from '#ch/04-cgroups/cgroups.ts'
import { attachNetwork, type Attachment, type NetworkRequest } from '#ch/08-network/network.ts'
import { create, deleteContainer, start } from '#ch/09-runtime/runtime.ts'
import { loadContainer } from '../lib/runtime-state.ts'
import { enterUserNamespace } from '#ch/13-security/userns.ts'
import { secureProcess } from '#ch/13-security/capabilities.ts'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdirSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import { join } from 'node:path'
import { CGROUP_ROOT } from '../lib/cgroup.ts'
import { ContainerError, NotImplementedError } from '../lib/errors.ts'
import { DEFAULT_ROOT, storePaths } from '../lib/image.ts'
import type { Spec } from '../lib/oci.ts'
import { setupRootfs } from '../lib/rootfs-setup.ts'
import { RuntimeError, RuntimeLog } from '../lib/runtime.ts'
import type { Helper } from '../native/helper.ts'
import { optional, required } from './layers.ts'

/** How a container ended. */
export interface ContainerExit {
  /** the number `docker run` exits with */
  code: number
  /** whether the kernel's OOM killer killed a process in its cgroup */
  oomKilled: boolean
}

/** Run the container described by `spec` to the end, with the network `network` asks for (08). */
export async function runContainer(spec: Spec, network?: NetworkRequest): Promise<ContainerExit> {
  if (spec.root) {
    const exit = await throughRuntime(spec, network)
    if (exit) return exit
  }
  const limited = hasLimits(spec)
  // Like `docker run`'s signal proxy: a signal sent to minidocker is the container's (runProcess
  // decides what it does), and minidocker stays to remove the cgroup once the container has exited.
  const body = async (cgroup: Cgroup | undefined): Promise<number> => {
    const attached: { network?: Attachment } = {}
    const signals = new EventEmitter()
    const proxy = (signal: NodeJS.Signals) => signals.emit('signal', signal)
    for (const signal of PROXIED) process.on(signal, proxy)
    try {
      return await runProcess(spec.process, { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' }, async (helper) => {
        await prepare(helper, spec, cgroup, limited, network, attached)
        const { lastFilter } = await secure(helper, spec)
        if (lastFilter) await helper.loadSeccomp(lastFilter)
      }, signals)
    } finally {
      for (const signal of PROXIED) process.off(signal, proxy)
      await attached.network?.detach()
    }
  }
  if (spec.linux?.cgroupsPath === undefined) return { code: await body(undefined), oomKilled: false }
  checkCgroupMount()
  // withCgroup (04) decides when the container is over: what is left in its cgroup is ended
  // before the cgroup is removed. A chapter 04 that is still a starter skips the cgroup, unless
  // limits are asked for, and never once the container has started.
  let started = false
  const inCgroup = async () => {
    try {
      return await withCgroup(spec, (cgroup) => {
        started = true
        return body(cgroup)
      })
    } catch (error) {
      throw started && error instanceof NotImplementedError ? new Error(error.message) : error
    }
  }
  const exit = limited
    ? await required(inCgroup, 'a memory, CPU or pids limit')
    : await optional('04-cgroups', inCgroup, 'running without a cgroup')
  return exit ?? { code: await body(undefined), oomKilled: false }
}

/** Whether the spec sets a memory, CPU or pids limit, which only a cgroup (04) can hold. */
function hasLimits(spec: Spec): boolean {
  const { memory, cpu, pids } = spec.linux?.resources ?? {}
  return memory !== undefined || cpu !== undefined || pids !== undefined
}

/**
 * Node's recursive mkdir loops for ever where mkdir says ENOENT under an existing directory, as
 * on a bare sysfs: refuse a /sys/fs/cgroup with nothing mounted on it instead.
 */
function checkCgroupMount(): void {
  if (readdirSync(CGROUP_ROOT).length === 0)
    throw new ContainerError(`no cgroup filesystem is mounted at ${CGROUP_ROOT} (\`ip netns exec\` mounts a fresh /sys without one: enter a network namespace with nsenter instead)`, 125)
}

/**
 * The container through chapter 09's runtime, in-process: config.json in the bundle
 * ROOT/containers/ID, runc's state in ROOT/runtime/ID, then create (keeping the relay, which
 * reports the exit), start, wait, and delete, whatever happens. undefined, with nothing made,
 * while chapter 09's create is a starter.
 */
async function throughRuntime(spec: Spec, network?: NetworkRequest): Promise<ContainerExit | undefined> {
  const id = network?.id ?? randomBytes(32).toString('hex')
  const root = join(DEFAULT_ROOT, 'runtime')
  const bundle = join(storePaths(DEFAULT_ROOT).containers, id)
  const log = new RuntimeLog()
  const attached: { network?: Attachment } = {}
  let helper: Helper | undefined
  // A signal that comes during create, before there is a container to pass it to, ends the run
  // once create has returned: the container is deleted without starting.
  let early: NodeJS.Signals | undefined
  const proxy = (signal: NodeJS.Signals) => (helper ? helper.process.kill(signal) : (early = signal))
  for (const signal of PROXIED) process.on(signal, proxy)
  try {
    mkdirSync(bundle, { recursive: true, mode: 0o700 })
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec))
    try {
      helper = await create(root, id, { bundle, network: network && { request: network, attached } }, log, false)
    } catch (error) {
      if (error instanceof NotImplementedError && error.chapter === '09-runtime' && error.fn === 'create') return undefined
      throw error instanceof RuntimeError ? new ContainerError(error.message, dockerExitCode(error.message)) : error
    }
    try {
      if (early) return { code: exitCode({ code: null, signal: constants.signals[early] }), oomKilled: false }
      const { record } = loadContainer(root, id)
      await start(root, id, log)
      const code = exitCode(await helper.exited)
      return { code, oomKilled: record.cgroup ? await oomKilled(record.cgroup) : false }
    } finally {
      await deleteContainer(root, id, true, log)
    }
  } finally {
    for (const signal of PROXIED) process.off(signal, proxy)
    try {
      await attached.network?.detach()
    } finally {
      rmSync(bundle, { recursive: true, force: true })
    }
  }
}

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']

/** The container's cgroup (04), when spec.linux.cgroupsPath names one; `limited` when it sets limits. */
export async function containerCgroup(spec: Spec): Promise<{ cgroup: Cgroup | undefined; limited: boolean }> {
  const limited = hasLimits(spec)
  if (spec.linux?.cgroupsPath !== undefined) checkCgroupMount()
  const cgroup = spec.linux?.cgroupsPath === undefined
    ? undefined
    : limited
      ? await required(() => createCgroup(spec), 'a memory, CPU or pids limit')
      : await optional('04-cgroups', () => createCgroup(spec), 'running without a cgroup')
  return { cgroup, limited }
}

/**
 * Everything between the helper's start and the last steps before exec (secure()), for `minidocker run` and the runtime's
 * `create` alike. `onForked` runs once the container's process exists, is in its namespaces and
 * cgroup, has its network wired (chapter 08) and has not touched its root filesystem;
 * `beforePivot` runs once its mounts are made, before pivot_root.
 * Returns the process's host PID (undefined when chapter 02 is not done and the helper itself will exec).
 */
export async function prepare(
  helper: Helper,
  spec: Spec,
  cgroup: Cgroup | undefined,
  limited: boolean,
  network: NetworkRequest | undefined,
  attached: { network?: Attachment },
  onForked?: (pid: number) => Promise<void>,
  beforePivot?: () => Promise<void>,
): Promise<number | undefined> {
  // A new user namespace (13) is made by enterUser, at the moment chapter 02's enterNamespaces
  // chooses; without chapter 02, right after.
  const namespaces = spec.linux?.namespaces ?? []
  const userns = namespaces.some((n) => n.type === 'user' && !n.path)
  let userEntered = false
  const enterUser = async () => {
    userEntered = true
    await required(() => enterUserNamespace(helper, spec), 'a user namespace (linux.uidMappings)')
  }
  const rest = userns ? { ...spec, linux: { ...spec.linux, namespaces: namespaces.filter((n) => n.type !== 'user') } } : spec
  // Without chapter 02 there is no fork: the helper itself becomes the container's process.
  let forked: number | undefined
  let entered = false
  const enter = async () => {
    entered = true
    const step = () => enterNamespaces(helper, rest, userns ? enterUser : undefined)
    const needs = spec.hostname !== undefined ? '--hostname' : network?.ports.length ? '-p' : namespaces.some((n) => n.path) ? 'namespaces given by path' : undefined
    forked = needs === undefined
      ? await optional('02-namespaces', step, 'running in the host\'s namespaces and root filesystem')
      : await required(step, needs)
    if (userns && !userEntered) await enterUser()
    return forked
  }
  // Chapter 04 decides when the process joins its cgroup: after the fork, before anything runs.
  if (cgroup) {
    const join = () => forkIntoCgroup(helper, cgroup, enter)
    if (limited) await required(join, 'a memory, CPU or pids limit')
    else await optional('04-cgroups', join, 'running outside its cgroup')
  }
  if (!entered) await enter()
  // Chapter 08 wires the network while PID 1 waits, as dockerd's libnetwork-setkey hook does
  // between runc's create and start; without chapter 02's fork there is no namespace to wire.
  if (network && forked !== undefined) {
    const step = () => attachNetwork(forked!, network)
    attached.network = network.ports.length > 0 ? await required(step, '-p') : await optional('08-network', step, 'running without a network')
    spec.mounts?.push(...(attached.network?.mounts ?? []))
  }
  if (forked !== undefined) await onForked?.(forked)
  // Mounting without the mount namespace of chapter 02 would change the host's own mounts; so
  // would a spec whose mount entry named the host's own (chapter 03 sees only the entry).
  const joinsMount = spec.linux?.namespaces?.some((ns) => ns.type === 'mount' && ns.path)
  if (joinsMount && forked !== undefined && readlinkSync(`/proc/${forked}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt'))
    throw new ContainerError('refusing to set up the root filesystem in the host\'s mount namespace: join the one linux.namespaces names', 125)
  if (spec.root && forked !== undefined) await optional('03-rootfs', () => setupRootfs(helper, spec, beforePivot), 'running in the host\'s root filesystem')
  return forked
}

/**
 * The last steps before exec, once nothing privileged is left to do (secure() after prepare()
 * and whatever the caller adds): chapter 13's user, capabilities, no_new_privs and seccomp
 * filter, or without chapter 13 the plain user switch. `lastFilter` is a seccomp filter still
 * to load, as the very last request before exec.
 */
export async function secure(helper: Helper, spec: Spec): Promise<{ lastFilter?: Buffer }> {
  const wanted = spec.process.capabilities || spec.process.noNewPrivileges || spec.linux?.seccomp
  const done = wanted ? await optional('13-security', () => secureProcess(helper, spec), 'capabilities, no_new_privs and seccomp are not applied') : undefined
  if (done) return done
  if (spec.process.user) await switchUser(helper, spec.process.user)
  return {}
}

/** Become config.json's process.user, last of all, as runc's finalizeNamespace does (its setgroups, setgid and setuid). */
export async function switchUser(helper: Helper, user: NonNullable<Spec['process']['user']>): Promise<void> {
  await helper.setgroups(user.additionalGids ?? [])
  await helper.setgid(user.gid)
  await helper.setuid(user.uid)
}
