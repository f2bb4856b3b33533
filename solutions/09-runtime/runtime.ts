/**
 * Chapter 09: an OCI runtime with runc's life cycle. `create` sets the container up (with the
 * same code `minidocker run` uses) and leaves its process parked on ROOT/ID/exec.fifo; `start`
 * opens the fifo and the process execs; `kill` signals it; `delete` removes what is left.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync, constants as fs } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { execFileSync } from 'node:child_process'
import { exitCode } from '#ch/01-process/process.ts'
import { CGROUP_ROOT, cgroupDirs, cgroupVersion, joinCgroup, removeCgroup } from '#ch/04-cgroups/cgroups.ts'
import { checkCwd, defendHelper } from '../../lib/runtime-defence.ts'
import { containerCgroup, prepare, secure } from '../../minidocker/container.ts'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import type { Cgroup } from '../../lib/cgroup.ts'
import { mkdirAll } from '../../lib/helper-fs.ts'
import type { Mount, Spec } from '../../lib/oci.ts'
import type { Attachment, NetworkRequest } from '#ch/08-network/network.ts'
import { EXEC_FIFO, processStartTime, RuntimeError, saveRecord, type ContainerRecord, type RuntimeLog } from '../../lib/runtime.ts'
import { Helper } from '../../native/helper.ts'
import { checkContainerId, loadBundle } from '../../lib/bundle.ts'
import { runHooks } from '../../lib/hooks.ts'
import { cgroupPids, containerStatus, killAndWait, loadContainer, publicState } from '../../lib/runtime-state.ts'
import { applyProcessLimits, applySysctl, findExecutable, setupConsole } from '../../lib/process-setup.ts'
import { applyCpuset, applyDeviceRules, v1Cgroup } from '../../lib/cgroup-v1.ts'
import { createDeviceNodes, protectPaths } from '../../lib/container-paths.ts'

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
  /**
   * `minidocker run`'s network (chapter 08), which runc's command line never carries: wired at
   * the moment dockerd's libnetwork-setkey prestart hook runs, and recorded in `attached` for
   * the caller to undo once the container is deleted.
   */
  network?: { request: NetworkRequest; attached: { network?: Attachment } }
}

// #region create
/**
 * runc create. When it returns, ROOT/ID holds the container's record and exec.fifo, and the
 * container's process exists, set up as `minidocker run` sets one up (prepare() and secure() in
 * minidocker/container.ts), its prestart and createRuntime hooks run once it had a PID; its
 * program has not run and will not until `start`. The pid file names it; it keeps create's
 * stdin, stdout and stderr. Refused in runc's words: an ID in use, `container with id exists:
 * ID`; process.terminal without a console socket, `cannot allocate tty if runc will detach
 * without setting console socket`; a console socket without process.terminal, `cannot use
 * console socket if runc will not detach or allocate tty`; a socket that cannot be reached,
 * `failed to connect to console socket PATH: REASON`, REASON being the helper's SyscallError
 * text. ROOT is made (0700) when missing, as runc makes it, and stays after a refused create.
 * What config.json asks for and this runtime does not do (device rules on a cgroup v2 host) is
 * named in one warning line of the log, which says "not applied by this runtime yet:
 * linux.resources.devices (cgroup v2)".
 *
 * What fails once `start` has released the process (its program or working directory removed
 * meanwhile) reaches whoever runc's init would reach: the process's stderr and its exit status.
 *
 * With `detach` (the command), the process is left to the caller's subreaper (containerd's
 * shim), as runc's init is; without it (`run`), the returned Helper's `exited` reports the
 * container's exit, and the container's process does not outlive this process, however this one
 * ends. A failure at any point leaves nothing: no process, cgroup or state directory.
 */
export async function create(root: string, id: string, options: CreateOptions, log: RuntimeLog, detach = true): Promise<Helper> {
  checkContainerId(id)
  const loaded = loadBundle(options.bundle)
  // Chapter 03 would mount a `cgroup` entry as it stands (a v1 hierarchy again: EBUSY); the
  // container's view of its cgroups is this chapter's, at its own moment.
  const cgroupMounts = loaded.mounts?.filter((m) => m.type === 'cgroup') ?? []
  const spec = { ...loaded, mounts: loaded.mounts?.filter((m) => m.type !== 'cgroup') }
  // Limits without a cgroupsPath go to a cgroup named for the container, as runc does.
  if (spec.linux?.resources && !spec.linux.cgroupsPath) spec.linux.cgroupsPath = id
  checkTerminal(spec.process, options.consoleSocket)
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
    seccomp: spec.linux?.seccomp, oomScoreAdj: spec.process.oomScoreAdj,
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
    // open(2)'s O_PATH, which node:fs does not export: a descriptor that opens nothing, so never blocks.
    fifo = openSync(fifoPath, 0o10000000)
    // Named before it is made: a create killed among chapter 04's mkdirs leaves directories that
    // only a record written before the first of them can name.
    const planned = plannedCgroup(spec)
    if (planned) saveRecord(dir, { ...record, cgroup: planned })
    const { cgroup, limited } = await containerCgroup(spec)
    record.cgroup = cgroup
    saveRecord(dir, record)
    helper = Helper.start({ stdin: 'inherit', stdout: 'inherit', stderr: 'inherit', detached: detach, extraFds: [fifo] })
    await defend(helper)
    const console = await connectConsole(helper, options.consoleSocket)
    // The user switch waits for secure(), after the steps below that need root (mknod, mount).
    const asRoot = { ...spec, process: { ...spec.process, user: undefined } }
    const pid = await prepare(helper, asRoot, cgroup, limited, options.network?.request, options.network?.attached ?? {}, async (pid) => {
      record.pid = pid
      record.startTime = processStartTime(pid) ?? 0
      saveRecord(dir, record)
      await applyProcessLimits(helper!, pid, spec.process)
      await applySysctl(helper!, spec)
      const state = { ...publicState(dir, record), status: 'creating' as const }
      await runHooks('prestart', spec.hooks?.prestart, state)
      await runHooks('createRuntime', spec.hooks?.createRuntime, state)
    }, async () => {
      // The host's cgroup directories are the bind sources: still in sight before pivot_root,
      // and after every other mount (/sys among them, which would cover it).
      for (const mount of cgroupMounts) await mountCgroups(helper!, spec, mount, cgroup)
      // In the container's namespaces, its mounts made, before pivot_root: the path is the host's.
      await runHooks('createContainer', spec.hooks?.createContainer, { ...publicState(dir, record), status: 'creating' }, { pid: record.pid, resolve: 'runtime' })
    })
    if (pid === undefined) throw new RuntimeError('the runtime needs chapter 02: the container\'s process must be forked into its namespaces')
    await createDeviceNodes(helper, pid, spec)
    await protectPaths(helper, pid, spec)
    await applyDeviceRules(dir, record, pid, spec)
    await applyCpuset(dir, record, pid, spec)
    await mkdirAll(helper, spec.process.cwd)
    await helper.chdir(spec.process.cwd)
    if (console !== undefined) await setupConsole(helper, console)
    checkCwd(pid, spec.process.cwd)
    const path = findExecutable(pid, spec.process)
    // Last, once nothing privileged is left: the user, capabilities, no_new_privs, seccomp (13).
    const { lastFilter } = await secure(helper, spec)
    // What fails from here on happens after start, when create's caller is gone: the program's
    // stderr and its exit status are all that can tell it, as runc's init tells it.
    await helper.failuresTo(2)
    if (detach) {
      // The relay would collect the process's exit, which the caller's subreaper must see.
      await helper.setParentDeathSignal(0)
      helper.process.kill('SIGKILL')
      await helper.exited
    }
    // Served after `start`, by a process no one is listening to any more: replies go nowhere.
    const queued = [helper.writeFile('/proc/self/fd/4', '0'), helper.closeFds(), ...(lastFilter ? [helper.loadSeccomp(lastFilter)] : []), helper.exec(path, spec.process.args, spec.process.env)]
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
    for (const extra of [record.devices, record.cpuset]) if (extra) await removeCgroup({ version: 1, dirs: {}, removeOrder: extra.removeOrder })
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
 * `cannot start an already running container`). When start returns, the process has been
 * released to run its program and every later command sees it running; start never hangs, even
 * when the process died while it waited. The startContainer hooks run in the container before
 * its program, as runc runs them; the poststart hooks after it, and their failure is only logged.
 */
export async function start(root: string, id: string, log: RuntimeLog): Promise<void> {
  const { dir, record } = loadContainer(root, id)
  const status = containerStatus(dir, record)
  if (status === 'stopped') throw new RuntimeError('cannot start a container that has stopped')
  if (status === 'running') throw new RuntimeError('cannot start an already running container')
  if (status !== 'created') throw new RuntimeError(`cannot start a container in the ${status} state`)
  try {
    // Before the program runs, inside the container, path and all (runtime spec, "startContainer").
    await runHooks('startContainer', record.hooks?.startContainer, publicState(dir, record), { pid: record.pid, resolve: 'container' })
  } catch (error) {
    // runc's init runs this hook itself, after start has read its byte and gone: its failure
    // reaches the container's stderr and stops the container, and start has succeeded.
    tellContainer(record.pid, (error as Error).message)
    await killAndWait(record, dir)
    return
  }
  const fifoPath = join(dir, EXEC_FIFO)
  // Blocking here would hang for ever if the process died: poll, and watch the process.
  const fd = openSync(fifoPath, fs.O_RDONLY | fs.O_NONBLOCK)
  try {
    const byte = Buffer.alloc(1)
    for (;;) {
      // Looked at before the read: a process may write its byte, exec and exit between a read
      // that found nothing and a look after it, and it did start.
      const alive = processStartTime(record.pid) === record.startTime
      let n = 0
      try {
        n = readSync(fd, byte)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      }
      if (n === 1) break
      if (!alive) throw new RuntimeError('cannot start a container that has stopped')
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

// #region mountCgroups
/**
 * A `cgroup` entry of config.json's mounts (dockerd writes one at /sys/fs/cgroup, options ro,
 * nosuid, noexec, nodev), made below spec.root.path by the container's process, in its mount
 * namespace, before pivot_root: the container's view of its own cgroups, as runc's
 * mountCgroupV1 and mountCgroupV2 make it. A program inside reads its own limits where it
 * would on the host (/sys/fs/cgroup/memory/memory.limit_in_bytes on v1); it never sees its
 * parents' cgroups or anyone else's, and with `ro` it changes none. On v1 a program finds each
 * hierarchy the container has a cgroup in wherever it would look for it on a host like this
 * one. `cgroup` is the container's (undefined: none).
 */
export async function mountCgroups(helper: Helper, spec: Spec, mount: Mount, cgroup: Cgroup | undefined): Promise<void> {
  const target = secureJoin(spec.root!.path, mount.destination, true)
  const options = mount.options ?? []
  const ro = options.includes('ro')
  const flags = (['nosuid', 'nodev', 'noexec'] as const).filter((f) => options.includes(f))
  await mkdirAll(helper, target)
  const readOnlyBind = async (source: string, path: string) => {
    await helper.mount(source, path, null, ['bind'])
    // MS_BIND ignores every other flag: read-only takes a remount of the bind.
    await helper.mount(null, path, null, ['remount', 'bind', ...flags, ...(ro ? ['rdonly' as const] : [])])
  }
  if (cgroup?.version === 2) {
    // A cgroup2 mount shows the root of the mounting process's cgroup namespace: runc's init
    // unshares it once it is in its cgroup, so there it is the container's own; prepare() joins
    // the cgroup after chapter 02 has made the namespaces, so here that root is the runtime's
    // cgroup, a parent. The container's own directory, bound, in a cgroup namespace or not.
    await readOnlyBind(Object.values(cgroup.dirs)[0]!, target)
    return
  }
  await helper.mount('tmpfs', target, 'tmpfs', flags, 'mode=755')
  // Each hierarchy once, by its mount point's name (cpu may be a link to cpu,cpuacct).
  const hierarchies = new Map<string, string>()
  for (const dir of Object.values(cgroup?.dirs ?? {})) {
    const real = realpathSync(dir)
    hierarchies.set(relative(CGROUP_ROOT, real).split('/')[0]!, real)
  }
  for (const [name, own] of hierarchies) {
    await helper.mkdir(join(target, name))
    await readOnlyBind(own, join(target, name))
    for (const controller of name.split(',')) if (controller !== name) await helper.symlink(name, join(target, controller))
  }
  if (ro) await helper.mount(null, target, null, ['remount', 'rdonly', ...flags])
}
// #endregion mountCgroups

// #region setFrozen
/**
 * Freeze (pause) or thaw (resume) every process of the container with the cgroup freezer, and
 * resolve once the kernel has done it; the freezer used is saved in the record (`status` reads
 * it, delete removes it). On cgroup v2 the freezer is the container's own cgroup's. On v1 it is a
 * hierarchy of its own that chapter 04 did not join: FREEZER/PATH, PATH being that of the
 * container's other cgroups. A container without a cgroup cannot be frozen: `container ID has
 * no cgroup to freeze`.
 */
export async function setFrozen(dir: string, record: ContainerRecord, frozen: boolean): Promise<void> {
  const cgroup = record.cgroup
  const own = Object.values(cgroup?.dirs ?? {})[0]
  if (!cgroup || !own) throw new RuntimeError(`container ${record.id} has no cgroup to freeze`)
  if (!record.freezer) {
    const planned = cgroup.version === 2 ? { dir: own, removeOrder: [] } : v1Cgroup(cgroup, 'freezer')
    record.freezer = { ...planned, version: cgroup.version }
    // Named before it is made: a pause killed in between leaves nothing delete would not find.
    saveRecord(dir, record)
  }
  const freezer = record.freezer
  // A pause killed before this, or one that froze nothing, may have left it unmade.
  mkdirSync(freezer.dir, { recursive: true })
  if (freezer.version === 1 && frozen) {
    // A process forked while we move the others is born in its parent's cgroup: repeat until
    // none is left outside, and from then on every new one is born inside.
    for (let moved = true; moved; ) {
      const inside = new Set(readFileSync(join(freezer.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number))
      // Every process of the container, those in cgroups it made below its own included:
      // cgroup.procs lists one cgroup's, not its subtree's.
      const outside = everyPid(record).filter((pid) => !inside.has(pid))
      for (const pid of outside) {
        try {
          writeFileSync(join(freezer.dir, 'cgroup.procs'), String(pid))
        } catch (error) {
          // Gone since the listing (its children, if any, show up in the next one).
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
        }
      }
      moved = outside.length > 0
    }
  }
  const [file, value, done] = freezer.version === 2
    ? ['cgroup.freeze', frozen ? '1' : '0', () => readFileSync(join(freezer.dir, 'cgroup.events'), 'utf8').includes(`frozen ${frozen ? 1 : 0}`)]
    : ['freezer.state', frozen ? 'FROZEN' : 'THAWED', () => readFileSync(join(freezer.dir, 'freezer.state'), 'utf8').trim() === (frozen ? 'FROZEN' : 'THAWED')]
  for (let i = 0; i < 1000; i++) {
    // v1 freezes one pass at a time: write again until the state settles (runc does the same).
    writeFileSync(join(freezer.dir, file), value)
    if (done()) return
    await sleep(10)
  }
  throw new RuntimeError(`container ${record.id} did not ${frozen ? 'freeze' : 'thaw'} within 10 seconds (${join(freezer.dir, file)})`)
}
// #endregion setFrozen

// #region deleteContainer
/**
 * runc delete: remove a stopped container's cgroup and state directory, then run its poststop
 * hooks (a failure is logged). A running container is refused, `cannot delete container ID that
 * is not stopped: running`, unless `force`, which kills every process in it first and waits
 * for them; a created container as runc treats one.
 */
export async function deleteContainer(root: string, id: string, force: boolean, log: RuntimeLog): Promise<void> {
  let found: ReturnType<typeof loadContainer>
  try {
    found = loadContainer(root, id)
  } catch (error) {
    // A create killed between making ROOT/ID and its first record leaves a directory no
    // command can load, for ever: runc's delete removes it, and with --force says nothing.
    if (!/container does not exist/.test((error as Error).message)) throw error
    rmSync(join(root, id), { recursive: true, force: true })
    if (force) return
    throw error
  }
  const { dir, record } = found
  const status = containerStatus(dir, record)
  if (status !== 'stopped' && status !== 'created' && !force)
    throw new RuntimeError(`cannot delete container ${id} that is not stopped: ${status}`)
  // Killed before a thaw (cgroup v1: a frozen process dies only once thawed), a paused process
  // can run nothing more, as in runc's delete --force. Those in cgroups the container made below
  // its own are the container's too: without a PID namespace of its own, nothing else ends them.
  const killEvery = () => {
    const pids = everyPid(record)
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    return pids.length
  }
  killEvery()
  if (status === 'paused') await setFrozen(dir, record, false)
  await killAndWait(record, dir)
  for (let i = 0; killEvery() > 0; i++) {
    if (i === 1000) throw new RuntimeError(`container ${id} did not die within 10 seconds of SIGKILL`)
    await sleep(10)
  }
  const state = publicState(dir, record)
  if (record.cgroup) await removeCgroup(record.cgroup)
  for (const extra of [record.freezer, record.devices, record.cpuset]) if (extra) await removeCgroup({ version: 1, dirs: {}, removeOrder: extra.removeOrder })
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
 * runc exec: run `process` inside container `id`, as one more process of it: in its
 * namespaces and its cgroups, with its limits, working directory, user, capabilities and
 * seccomp filter (chapter 13's secure()), and a terminal when asked.
 * A container that cannot take one more process is refused in runc's words (`cannot exec in a
 * stopped container` for one that has stopped). With `detach` it returns once the program runs, leaving
 * it to the caller's subreaper as create does, and writes `pidFile`; otherwise it waits and
 * resolves to the exit code.
 */
export async function execProcess(root: string, id: string, options: ExecOptions): Promise<number> {
  const { dir, record } = loadContainer(root, id)
  const status = containerStatus(dir, record)
  // A process that joined a frozen cgroup would freeze before its exec, and exec with it.
  if (status === 'paused') throw new RuntimeError('cannot exec in a paused container (use --ignore-paused to override)')
  // A created container has every namespace and cgroup to join already: only its first
  // program waits for start, and an exec'd process waits for nothing (runc's exec.go).
  if (status === 'stopped') throw new RuntimeError('cannot exec in a stopped container')
  checkTerminal(options.process, options.consoleSocket)
  const helper = Helper.start({ stdin: 'inherit', stdout: 'inherit', stderr: 'inherit', detached: options.detach })
  try {
    await defend(helper)
    const console = await connectConsole(helper, options.consoleSocket)
    // Every namespace the container's process is in and this one is not, the cgroup one too
    // (dockerd asks for one on cgroup v2). A user namespace first (chapter 13): the others belong
    // to it. The mount namespace last: after it, /proc/PID/ns of the host's view is out of sight.
    for (const ns of ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'time', 'mnt']) {
      const path = `/proc/${record.pid}/ns/${ns}`
      if (existsSync(path) && readlinkSync(path) !== readlinkSync(`/proc/self/ns/${ns}`)) await helper.setns(path)
    }
    const pid = await helper.fork()
    if (record.cgroup) await joinCgroup(record.cgroup, pid)
    for (const extra of [record.devices, record.cpuset]) if (extra) writeFileSync(join(extra.dir, 'cgroup.procs'), String(pid))
    // Forked from this process, the new one would keep its OOM score, the caller's: a shim
    // shields itself from the OOM killer (containerd's -999, plus one). The container's score
    // holds for every process of it, whatever --process says (runc's bootstrapData, nsexec.c).
    await applyProcessLimits(helper, pid, { ...options.process, oomScoreAdj: record.oomScoreAdj })
    // Made by create for the first process, in a root filesystem the container now owns: one
    // more process runs where it is told to or nowhere, as runc's setns init does.
    await helper.chdir(options.process.cwd)
    if (console !== undefined) await setupConsole(helper, console)
    checkCwd(pid, options.process.cwd)
    const path = findExecutable(pid, options.process)
    // The container's seccomp filter holds for every process in it, exec'd ones too (13).
    // Root by default, as runc's: in a user namespace the helper is host uid 0, unmapped, until it
    // becomes a user of the namespace.
    const user = options.process.user ?? { uid: 0, gid: 0 }
    const { lastFilter } = await secure(helper, { ociVersion: record.ociVersion, process: { ...options.process, user }, linux: { seccomp: record.seccomp } })
    if (!options.detach) {
      if (lastFilter) await helper.loadSeccomp(lastFilter)
      await helper.exec(path, options.process.args, options.process.env)
      return exitCode(await helper.exited)
    }
    helper.process.kill('SIGKILL')
    await helper.exited
    for (const request of [helper.closeFds(), ...(lastFilter ? [helper.loadSeccomp(lastFilter)] : []), helper.exec(path, options.process.args, options.process.env)]) request.catch(() => {})
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

/** Chapter 13's defences, first of all: the helper runs from a sealed copy and keeps no fd it was not given. */
async function defend(helper: Helper): Promise<void> {
  await defendHelper(helper)
}

/** What config.json asks for that this runtime does not do yet, noted once per container (given the spec as loaded). */
function noteIgnored(spec: Spec, log: RuntimeLog): void {
  const raw = spec as unknown as Record<string, any>
  const ignored = [
    // capabilities, noNewPrivileges and seccomp are chapter 13's: secure() notes them when it is not done.
    // On a cgroup v2 host device rules would need an eBPF program.
    ['linux.resources.devices (cgroup v2)', raw.linux?.resources?.devices && existsSync('/sys/fs/cgroup/cgroup.controllers') ? true : undefined],
  ].filter(([, value]) => value !== undefined).map(([name]) => name)
  if (ignored.length) log.write('warning', `not applied by this runtime yet: ${ignored.join(', ')}`)
}

/**
 * The cgroup chapter 04 is about to make for `spec`, with only the directories that do not exist
 * yet to remove, deepest first; undefined without a cgroupsPath (or without chapter 04, whose
 * own step then says so).
 */
function plannedCgroup(spec: Spec): Cgroup | undefined {
  const path = spec.linux?.cgroupsPath
  try {
    if (path === undefined || readdirSync(CGROUP_ROOT).length === 0) return undefined
    const version = cgroupVersion(CGROUP_ROOT)
    const dirs = cgroupDirs(path, version, CGROUP_ROOT, readFileSync('/proc/self/cgroup', 'utf8'))
    const removeOrder: string[] = []
    for (const leaf of new Set(Object.values(dirs))) for (let d = leaf; !existsSync(d); d = dirname(d)) removeOrder.push(d)
    return { version, dirs, removeOrder }
  } catch {
    return undefined
  }
}

/** A terminal needs a console socket to go to, and a console socket a terminal to carry (runc's words). */
function checkTerminal(process: Spec['process'], consoleSocket: string | undefined): void {
  if (process.terminal && !consoleSocket) throw new RuntimeError('cannot allocate tty if runc will detach without setting console socket')
  if (!process.terminal && consoleSocket) throw new RuntimeError('cannot use console socket if runc will not detach or allocate tty')
}

/** The console socket, connected by the helper while its host path is still in sight (before setns and pivot_root). */
async function connectConsole(helper: Helper, path: string | undefined): Promise<number | undefined> {
  if (!path) return undefined
  try {
    return await helper.connect(path)
  } catch (error) {
    throw new RuntimeError(`failed to connect to console socket ${path}: ${(error as Error).message}`)
  }
}

/** One line on the stderr the container's process kept from create, whatever that is (a file, a pipe, a terminal). */
function tellContainer(pid: number, line: string): void {
  try {
    const fd = openSync(`/proc/${pid}/fd/2`, fs.O_WRONLY | fs.O_APPEND | fs.O_NONBLOCK)
    try {
      writeSync(fd, `${line}\n`)
    } finally {
      closeSync(fd)
    }
  } catch {
    // no stderr, or no one reading it: nothing else to tell
  }
}

/** The caller may read the pid file as soon as it exists: it must never be seen half-written. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

/**
 * Every process in the container's cgroups and in the cgroups below them (runc's GetAllPids):
 * cgroupPids, and the cgroup.procs of each directory the container made inside its own.
 */
function everyPid(record: ContainerRecord): number[] {
  const below = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())
    .flatMap((e) => [join(dir, e.name), ...below(join(dir, e.name))])
  const pids = new Set(cgroupPids(record))
  for (const top of new Set(Object.values(record.cgroup?.dirs ?? {}))) {
    // A cgroup removed while this walks had nothing left in it: the callers look again.
    try {
      for (const dir of below(top)) for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(pid))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  return [...pids]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
