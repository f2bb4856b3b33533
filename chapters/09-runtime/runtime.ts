/**
 * Chapter 09: an OCI runtime with runc's life cycle. `create` sets the container up (with the
 * same code `minidocker run` uses) and leaves its process parked on ROOT/ID/exec.fifo; `start`
 * opens the fifo and the process execs; `kill` signals it; `delete` removes what is left.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Spec } from '../../lib/oci.ts'
import { processStartTime, RuntimeError, type ContainerRecord, type RuntimeLog } from '../../lib/runtime.ts'
import type { Helper } from '../../native/helper.ts'
import { containerStatus } from './state.ts'

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
  // TODO(09): find the program before the container parks on exec.fifo, so create can report it.
  //   1. Chapter 01 already knows which files to try for a name; here they must be looked at
  //      as the container sees them. Which host path shows the container's root, and why must
  //      its symlinks be resolved inside it (lib/paths.ts) rather than by the host's kernel?
  //   2. What makes a candidate the one: it exists, is a regular file, and can be executed.
  //   3. The three errors in the doc comment are the words the caller will see.
  throw new NotImplementedError('09-runtime', 'findExecutable')
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
  // TODO(09): runc create. Read the doc comment and the chapter's "create" section first.
  //   1. Refuse everything you can (ID, bundle, terminal without a console socket) before
  //      anything exists (withoutCgroupMounts and noteIgnored, given below, deal with what
  //      this runtime leaves out of config.json); from the first directory made on, a failure must remove all of it,
  //      the container's process included.
  //   2. The state directory: made exclusively (two creates of one ID race), with the record
  //      written as early as there is something delete --force would need to clean.
  //   3. exec.fifo: after pivot_root the container's process cannot see the host's path to it.
  //      How does runc hand it over (an fd opened beforehand; /proc/self/fd)?
  //   4. The set-up is minidocker/container.ts's, the same as `minidocker run`: where do the
  //      prestart and createRuntime hooks run, and what does their state need (the PID)?
  //   5. create exits while the process waits: the requests it serves after `start` must be
  //      queued now, in order, and nothing may leak into the program (fds). The caller may
  //      read the pid file the moment it exists (writeAtomically, given).
  //   6. detach: whose child must the container's process be once create has exited, so that
  //      the shim (a subreaper) collects its exit? What would the relay of chapter 02 do?
  throw new NotImplementedError('09-runtime', 'create')
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
  // TODO(09): runc start: release the process parked on exec.fifo.
  //   1. Only a created container may start; the two refusals are in the doc comment.
  //   2. Opening a fifo for reading blocks until a writer comes, and the writer may be dead.
  //      How do you wait for the byte without ever hanging (fifo(7), O_NONBLOCK)?
  //   3. After the byte, what makes every later command see "running" rather than "created"?
  //   4. poststart hooks run after the program started; their failure is only a warning.
  throw new NotImplementedError('09-runtime', 'start')
}
// #endregion start

// #region parseSignal
/** A signal by number (`9`) or name (`KILL`, `SIGKILL`, any case), refused otherwise: `invalid signal: TEXT`. */
export function parseSignal(text: string): number {
  // TODO(09): turn the text kill was given into a signal number.
  //   1. containerd sends numbers, people type names, with or without SIG, in any case.
  //   2. Anything else, including a number no signal has, is `invalid signal: TEXT`.
  throw new NotImplementedError('09-runtime', 'parseSignal')
}
// #endregion parseSignal

// #region kill
/**
 * runc kill: send `signal` to the container's process, or with `all` to every process in its
 * cgroup. A stopped container is refused with `container not running`, words containerd takes to
 * mean "already gone".
 */
export async function kill(root: string, id: string, signal: number, all: boolean): Promise<void> {
  // TODO(09): runc kill.
  //   1. Signalling a PID from an old record could hit a stranger: check the status first.
  //      A stopped container is refused in the words containerd expects (doc comment).
  //   2. With `all`, which processes belong to the container (cgroupPids, given)?
  //   3. A process may exit between the listing and the signal: that is no error.
  throw new NotImplementedError('09-runtime', 'kill')
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
  // TODO(09): runc delete, per the runtime spec (runtime.md, "Delete").
  //   1. Which statuses may be deleted without --force, and what does runc do with "created"?
  //      A refusal must change nothing.
  //   2. With --force: nothing of the container may survive (killAndWait, given), before its
  //      cgroup can go (chapter 04 removes it; it refuses while a process is in it).
  //   3. The poststop hooks get the state as it was; their failure is only a warning.
  throw new NotImplementedError('09-runtime', 'deleteContainer')
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
  // TODO(09): runc exec: a second process in a running container, the way nsenter(1) enters one.
  //   1. Which namespaces to join: only those the container's process does not share with the
  //      host (compare the /proc/PID/ns links, setns(2)); and in which order, given that after
  //      the mount namespace the host's /proc is no longer what you see?
  //   2. Joining a PID namespace changes nothing for the caller itself (pid_namespaces(7)):
  //      what must happen before the process is in it, and before it joins the cgroup?
  //   3. Then it is create's end game: user, working directory, the program looked up inside,
  //      and exec; with detach, the same hand-over to the caller's subreaper as create.
  throw new NotImplementedError('09-runtime', 'execProcess')
}
// #endregion execProcess

// #region run
/** runc run: create (keeping the relay), start, wait for the exit, delete; resolves to the exit code `docker run` would give. */
export async function run(root: string, id: string, options: CreateOptions, log: RuntimeLog): Promise<number> {
  // TODO(09): runc run is create, start, wait, delete, with one difference from create.
  //   1. Who can report the container's exit code to this process? (create's `detach`.)
  //   2. Signals sent to run (Ctrl-C, a supervisor's SIGTERM) are the container's business.
  //   3. Whatever happens, the container is deleted at the end.
  throw new NotImplementedError('09-runtime', 'run')
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
