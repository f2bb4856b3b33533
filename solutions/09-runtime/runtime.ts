/**
 * Chapter 09: an OCI runtime with runc's life cycle. `create` sets the container up (with the
 * same code `minidocker run` uses) and leaves its process parked on ROOT/ID/exec.fifo; `start`
 * opens the fifo and the process execs; `kill` signals it; `delete` removes what is left.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, constants as fs } from 'node:fs'
import { constants } from 'node:os'
import { join, posix } from 'node:path'
import { execFileSync } from 'node:child_process'
import { exitCode, searchPath } from '#ch/01-process/process.ts'
import { mkdirAll } from '#ch/03-rootfs/rootfs.ts'
import { joinCgroup, removeCgroup } from '#ch/04-cgroups/cgroups.ts'
import { containerCgroup, prepare, switchUser } from '../../minidocker/container.ts'
import { resolveInRoot } from '../../lib/paths.ts'
import type { Spec } from '../../lib/oci.ts'
import { EXEC_FIFO, O_PATH, processStartTime, RuntimeError, saveRecord, type ContainerRecord, type RuntimeLog } from '../../lib/runtime.ts'
import { Helper } from '../../native/helper.ts'
import { checkContainerId, loadBundle } from './bundle.ts'
import { runHooks } from './hooks.ts'
import { containerStatus, loadContainer, publicState } from './state.ts'

export interface ExecOptions {
  process: Spec['process']
  detach: boolean
  pidFile?: string
  consoleSocket?: string
}

export interface CreateOptions {
  bundle: string
  pidFile?: string
  consoleSocket?: string
}

// #region findExecutable
/**
 * The file to exec for `args` in the container whose process is `pid`, checked before the
 * container waits for `start` so that `create` can still report it (runc's LookPath runs there
 * too): searchPath()'s candidates, each resolved inside /proc/PID/root as if it were "/"
 * (lib/paths.ts, "scope"), the first regular file with an execute bit wins. A relative path is
 * relative to process.cwd. Errors are chapter 01's words: `exec: "NAME": executable file not
 * found in $PATH`, `exec: "PATH": stat PATH: no such file or directory`, `exec: "PATH": permission denied`.
 */
export function findExecutable(pid: number, process: Spec['process']): string {
  const [file] = process.args
  const root = `/proc/${pid}/root`
  for (const candidate of searchPath(file!, process.env)) {
    const path = posix.resolve(process.cwd, candidate)
    let mode: number
    try {
      const stat = statSync(resolveInRoot(root, path, { escapes: 'scope', followLast: true }))
      if (!stat.isFile()) continue
      mode = stat.mode
    } catch {
      continue
    }
    if (mode & 0o111) return path
    if (file!.includes('/')) throw new RuntimeError(`exec: "${file}": permission denied`)
  }
  if (file!.includes('/')) throw new RuntimeError(`exec: "${file}": stat ${file}: no such file or directory`)
  throw new RuntimeError(`exec: "${file}": executable file not found in $PATH`)
}
// #endregion findExecutable

// #region create
/**
 * runc create: make ROOT/ID (an ID that exists already is refused: `container with id exists:
 * ID`), exec.fifo in it, and the container's process, set up by minidocker/container.ts's
 * prepare() with the prestart and createRuntime hooks at its onForked point. Then queue the
 * requests the process serves once `start` opens the fifo, write state.json and the pid file,
 * and return: the process stays, parked on the fifo, with create's stdin, stdout and stderr.
 *
 * With `detach` (the command), the helper's relay is made to go, so the process is left to the
 * caller's subreaper (containerd's shim) as runc's init is; without it (`run`), the relay
 * stays and the returned Helper's `exited` reports the container's exit.
 * A failure at any point leaves nothing: no process, cgroup or state directory.
 */
export async function create(root: string, id: string, options: CreateOptions, log: RuntimeLog, detach = true): Promise<Helper> {
  checkContainerId(id)
  const loaded = loadBundle(options.bundle)
  const spec = withoutCgroupMounts(loaded)
  // Limits without a cgroupsPath go to a cgroup named for the container, as runc does.
  if (spec.linux?.resources && !spec.linux.cgroupsPath) spec.linux.cgroupsPath = id
  if (options.consoleSocket) throw new RuntimeError('--console-socket is not supported by minirunc yet')
  if (spec.process.terminal) throw new RuntimeError('cannot allocate tty if runc will detach without setting console socket')
  noteIgnored(loaded, log)
  mkdirSync(root, { recursive: true, mode: 0o700 })
  const dir = join(root, id)
  try {
    mkdirSync(dir, { mode: 0o711 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeError(`container with id exists: ${id}`)
    throw error
  }
  const record: ContainerRecord = {
    ociVersion: spec.ociVersion, id, pid: 0, bundle: options.bundle, rootfs: spec.root!.path,
    created: new Date().toISOString(), annotations: spec.annotations ?? {}, owner: '', startTime: 0, hooks: spec.hooks,
  }
  let helper: Helper | undefined
  let fifo: number | undefined
  try {
    // Written first, so that a create killed half-way leaves a record `delete --force` can act on.
    saveRecord(dir, record)
    const fifoPath = join(dir, EXEC_FIFO)
    // node:fs cannot make a fifo (mkfifo(3)); coreutils' mkfifo can.
    execFileSync('mkfifo', ['-m', '0622', fifoPath])
    // After pivot_root the host's path is out of the process's sight: hand it an fd instead.
    fifo = openSync(fifoPath, O_PATH)
    const { cgroup, limited } = await containerCgroup(spec)
    record.cgroup = cgroup
    saveRecord(dir, record)
    helper = Helper.start({ stdin: 'inherit', stdout: 'inherit', stderr: 'inherit', detached: detach, extraFds: [fifo] })
    const pid = await prepare(helper, spec, cgroup, limited, undefined, {}, async (pid) => {
      record.pid = pid
      record.startTime = processStartTime(pid) ?? 0
      saveRecord(dir, record)
      const state = { ...publicState(dir, record), status: 'creating' as const }
      await runHooks('prestart', spec.hooks?.prestart, state)
      await runHooks('createRuntime', spec.hooks?.createRuntime, state)
    })
    if (pid === undefined) throw new RuntimeError('the runtime needs chapter 02: the container\'s process must be forked into its namespaces')
    await mkdirAll(helper, spec.process.cwd)
    await helper.chdir(spec.process.cwd)
    const path = findExecutable(pid, spec.process)
    if (detach) {
      // The relay would collect the process's exit, which the caller's subreaper must see.
      await helper.setParentDeathSignal(0)
      helper.process.kill('SIGKILL')
      await helper.exited
    }
    // Served after `start`, by a process no one is listening to any more: replies go nowhere.
    const queued = [helper.waitFifo('/proc/self/fd/4'), helper.closeFds(), helper.exec(path, spec.process.args, spec.process.env)]
    for (const request of queued) request.catch(() => {})
    if (detach) await helper.detach()
    if (options.pidFile) writeAtomically(options.pidFile, String(pid))
    return helper
  } catch (error) {
    if (helper) {
      helper.kill('SIGKILL')
      await helper.exited
      if (record.pid) await killAndWait(record, dir)
    }
    if (record.cgroup) await removeCgroup(record.cgroup)
    rmSync(dir, { recursive: true, force: true })
    throw error
  } finally {
    if (fifo !== undefined) closeSync(fifo)
  }
}
// #endregion create

// #region start
/**
 * runc start: only a created container may start (`cannot start a container that has stopped`,
 * `cannot start an already running container`). Open exec.fifo for reading without blocking,
 * read the byte the process writes once it opens the fifo, remove the fifo (the container is
 * now running), then run the poststart hooks, whose failure is only logged.
 */
export async function start(root: string, id: string, log: RuntimeLog): Promise<void> {
  const { dir, record } = loadContainer(root, id)
  const status = containerStatus(dir, record)
  if (status === 'stopped') throw new RuntimeError('cannot start a container that has stopped')
  if (status !== 'created') throw new RuntimeError(`cannot start an already ${status} container`)
  const fifoPath = join(dir, EXEC_FIFO)
  // Blocking here would hang for ever if the process died: poll, and watch the process.
  const fd = openSync(fifoPath, fs.O_RDONLY | fs.O_NONBLOCK)
  try {
    const byte = Buffer.alloc(1)
    for (;;) {
      let n = 0
      try {
        n = readSync(fd, byte)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      }
      if (n === 1) break
      if (processStartTime(record.pid) !== record.startTime) throw new RuntimeError('cannot start a container that has stopped')
      await sleep(1)
    }
  } finally {
    closeSync(fd)
  }
  unlinkSync(fifoPath)
  try {
    await runHooks('poststart', record.hooks?.poststart, publicState(dir, record))
  } catch (error) {
    log.write('warning', (error as Error).message)
  }
}
// #endregion start

// #region parseSignal
/** A signal by number (`9`) or name (`KILL`, `SIGKILL`, any case), refused otherwise: `invalid signal: TEXT`. */
export function parseSignal(text: string): number {
  const number = /^\d+$/.test(text) ? Number(text) : constants.signals[`SIG${text.toUpperCase().replace(/^SIG/, '')}` as NodeJS.Signals]
  if (number === undefined || !Object.values(constants.signals).includes(number)) throw new RuntimeError(`invalid signal: ${text}`)
  return number
}
// #endregion parseSignal

// #region kill
/**
 * runc kill: send `signal` to the container's process, or with `all` to every process in its
 * cgroup. A stopped container is refused with `container not running`, words containerd takes to
 * mean "already gone".
 */
export async function kill(root: string, id: string, signal: number, all: boolean): Promise<void> {
  const { dir, record } = loadContainer(root, id)
  if (containerStatus(dir, record) === 'stopped') throw new RuntimeError('container not running')
  const pids = all ? cgroupPids(record) : [record.pid]
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
}
// #endregion kill

// #region deleteContainer
/**
 * runc delete: remove a stopped container's cgroup and state directory, then run its poststop
 * hooks (a failure is logged). A running container is refused, `cannot delete container ID that
 * is not stopped: running`, unless `force`, which kills every process in it first and waits
 * for them; a created container is killed and deleted as runc does.
 */
export async function deleteContainer(root: string, id: string, force: boolean, log: RuntimeLog): Promise<void> {
  const { dir, record } = loadContainer(root, id)
  const status = containerStatus(dir, record)
  if (status !== 'stopped' && status !== 'created' && !force)
    throw new RuntimeError(`cannot delete container ${id} that is not stopped: ${status}`)
  await killAndWait(record, dir)
  const state = publicState(dir, record)
  if (record.cgroup) await removeCgroup(record.cgroup)
  rmSync(dir, { recursive: true, force: true })
  try {
    await runHooks('poststop', record.hooks?.poststop, state)
  } catch (error) {
    log.write('warning', (error as Error).message)
  }
}
// #endregion deleteContainer

// #region execProcess
/**
 * runc exec: run `process` inside running container `id`: the helper joins each namespace the
 * container's process has apart from the host's (setns through /proc/PID/ns), forks so that the
 * PID namespace applies, joins the container's cgroup, becomes the process's user, and execs.
 * A container that is not running is refused: `cannot exec in a stopped container`. With
 * `detach` it returns once the program runs, leaving it to the caller's subreaper as create
 * does, and writes `pidFile`; otherwise it waits and resolves to the exit code.
 */
export async function execProcess(root: string, id: string, options: ExecOptions): Promise<number> {
  const { dir, record } = loadContainer(root, id)
  if (containerStatus(dir, record) !== 'running') throw new RuntimeError('cannot exec in a stopped container')
  if (options.consoleSocket || options.process.terminal) throw new RuntimeError('--console-socket is not supported by minirunc yet')
  const helper = Helper.start({ stdin: 'inherit', stdout: 'inherit', stderr: 'inherit', detached: options.detach })
  try {
    // The mount namespace last: after it, /proc/PID/ns of the host's view is out of sight.
    for (const ns of ['ipc', 'uts', 'net', 'pid', 'mnt']) {
      const path = `/proc/${record.pid}/ns/${ns}`
      if (readlinkSync(path) !== readlinkSync(`/proc/self/ns/${ns}`)) await helper.setns(path)
    }
    const pid = await helper.fork()
    if (record.cgroup) await joinCgroup(record.cgroup, pid)
    if (options.process.user) await switchUser(helper, options.process.user)
    await mkdirAll(helper, options.process.cwd)
    await helper.chdir(options.process.cwd)
    const path = findExecutable(pid, options.process)
    if (!options.detach) {
      await helper.exec(path, options.process.args, options.process.env)
      return exitCode(await helper.exited)
    }
    helper.process.kill('SIGKILL')
    await helper.exited
    for (const request of [helper.closeFds(), helper.exec(path, options.process.args, options.process.env)]) request.catch(() => {})
    await helper.detach()
    if (options.pidFile) writeAtomically(options.pidFile, String(pid))
    return 0
  } catch (error) {
    helper.kill('SIGKILL')
    await helper.exited
    throw error
  }
}
// #endregion execProcess

// #region run
/** runc run: create (keeping the relay), start, wait for the exit, delete; resolves to the exit code `docker run` would give. */
export async function run(root: string, id: string, options: CreateOptions, log: RuntimeLog): Promise<number> {
  const helper = await create(root, id, options, log, false)
  const forward = (signal: NodeJS.Signals) => helper.process.kill(signal)
  for (const signal of FORWARDED) process.on(signal, forward)
  try {
    await start(root, id, log)
    return exitCode(await helper.exited)
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward)
    await deleteContainer(root, id, true, log)
  }
}
// #endregion run

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']

/** The host PIDs in the container's cgroup (runc ps), or its process alone without a cgroup. */
export function cgroupPids(record: ContainerRecord): number[] {
  const dir = record.cgroup && Object.values(record.cgroup.dirs)[0]
  if (!dir) return processStartTime(record.pid) === record.startTime ? [record.pid] : []
  return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
}

/** SIGKILL everything in the container and wait until its process has gone (or is a zombie for its parent to collect). */
async function killAndWait(record: ContainerRecord, dir: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const pids = cgroupPids(record)
    if (containerStatus(dir, record) === 'stopped' && pids.length === 0) return
    for (const pid of pids.length ? pids : [record.pid]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    await sleep(10)
  }
  throw new RuntimeError(`container ${record.id} did not die within 10 seconds of SIGKILL`)
}

/**
 * The spec without its `cgroup` mounts: a cgroup v1 hierarchy cannot simply be mounted again
 * (EBUSY); runc builds a tmpfs of bind mounts of the container's own cgroups there instead.
 */
function withoutCgroupMounts(spec: Spec): Spec {
  return spec.mounts ? { ...spec, mounts: spec.mounts.filter((m) => m.type !== 'cgroup') } : spec
}

/** What config.json asks for that this runtime does not do yet, noted once per container (given the spec as loaded). */
function noteIgnored(spec: Spec, log: RuntimeLog): void {
  const raw = spec as unknown as Record<string, any>
  const ignored = [
    ['process.capabilities', raw.process?.capabilities], ['process.rlimits', raw.process?.rlimits],
    ['process.noNewPrivileges', raw.process?.noNewPrivileges], ['process.oomScoreAdj', raw.process?.oomScoreAdj],
    ['linux.seccomp', raw.linux?.seccomp], ['linux.sysctl', raw.linux?.sysctl], ['linux.maskedPaths', raw.linux?.maskedPaths],
    ['linux.readonlyPaths', raw.linux?.readonlyPaths], ['linux.devices', raw.linux?.devices?.length ? raw.linux.devices : undefined],
    ['linux.resources.devices', raw.linux?.resources?.devices], ['linux.uidMappings', raw.linux?.uidMappings],
    ['hooks.createContainer', spec.hooks?.createContainer], ['hooks.startContainer', spec.hooks?.startContainer],
    ['mounts of type cgroup', spec.mounts?.some((m) => m.type === 'cgroup') || undefined],
  ].filter(([, value]) => value !== undefined).map(([name]) => name)
  if (ignored.length) log.write('warning', `not applied by this runtime yet: ${ignored.join(', ')}`)
}

/** The caller may read the pid file as soon as it exists: it must never be seen half-written. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
