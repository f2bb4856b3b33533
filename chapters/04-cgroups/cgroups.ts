/**
 * Chapter 04: cgroups. The container gets a cgroup of its own with memory, CPU and process
 * limits (config.json's linux.resources), its PID 1 joins it before exec, an OOM kill is
 * noticed, and the cgroup is removed when the container is gone.
 *
 * Two kernel interfaces, one idea. cgroup v1 has a hierarchy per controller
 * (/sys/fs/cgroup/memory, /sys/fs/cgroup/pids, ...); cgroup v2 has one tree where each
 * directory holds every controller's files. This module speaks both, chosen by what the host
 * has, and takes the cgroup filesystem's root as a parameter so it can be tried on a plain
 * directory laid out the same way.
 *
 * Check your work with `npx workbook check 4`.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

export const CGROUP_ROOT = '/sys/fs/cgroup'

/** The controllers a container uses; cpuacct exists only on v1, where it counts CPU time. */
export type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids'
export const V1_CONTROLLERS: Controller[] = ['memory', 'cpu', 'cpuacct', 'pids']

/** One container's cgroup. */
export interface Cgroup {
  version: 1 | 2
  /** the directory of each controller (on v2, all the same directory) */
  dirs: Partial<Record<Controller, string>>
  /** every directory to rmdir on removal, deepest first (the leaf, then its new parents) */
  removeOrder: string[]
}

export interface CgroupOptions {
  /** where the cgroup filesystem is mounted */
  root?: string
  /** the caller's /proc/self/cgroup, as text */
  self?: string
}

/** How the container ended, and whether the kernel's OOM killer was involved. */
export interface CgroupExit {
  code: number
  oomKilled: boolean
}

/** Write one cgroup file; the error names the file and the value, which Node's does not. */
function writeCgroupFile(path: string, value: string): void {
  try {
    writeFileSync(path, value)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new ContainerError(`cannot write "${value}" to ${path}: ${code}`, 125)
  }
}

/** The lines "KEY VALUE" of a flat-keyed cgroup file (memory.events, cpu.stat, ...) as numbers. */
export function readKeyed(path: string): Record<string, number> {
  const entries = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' '))
  return Object.fromEntries(entries.map(([key, value]) => [key!, Number(value)]))
}

// #region cgroupVersion
/**
 * v2 when `root` is a cgroup2 mount (it has cgroup.controllers); v1 otherwise, which includes
 * the hybrid layout where a cgroup2 tree sits at root/unified holding no controller used here.
 */
export function cgroupVersion(root = CGROUP_ROOT): 1 | 2 {
  // TODO(04): tell the two kernel interfaces apart by what is mounted at `root`.
  //   1. Never assume one: the same code runs on v1, v2 and hybrid hosts. A hybrid host mounts v1
  //      hierarchies at root and a cgroup2 tree below it, and must count as v1 here, because the
  //      controllers a container needs are bound to the v1 hierarchies.
  //   2. One file exists only at the top of a cgroup2 mount. Which one? (man 7 cgroups, "Cgroups
  //      version 2"; runc's cgroups.IsCgroup2UnifiedMode asks the same question with statfs.)
  //      Chapter text: "Two versions".
  throw new NotImplementedError('04-cgroups', 'cgroupVersion')
}
// #endregion cgroupVersion

// #region ownCgroup
/**
 * The caller's own cgroup path from /proc/self/cgroup, whose lines read
 * "ID:CONTROLLERS:PATH": "4:memory:/user/1" on v1, "0::/user.slice/..." on v2.
 * `controller` null asks for the v2 line.
 */
export function ownCgroup(self: string, controller: Controller | null): string {
  // TODO(04): find where the caller already is.
  //   1. man 7 cgroups, "/proc/[pid]/cgroup": one line per hierarchy, three fields. A v1 line can
  //      name several controllers at once ("cpu,cpuacct"); the v2 line names none.
  //   2. The path is the last field, and a path may itself contain the field separator.
  //   3. No line for what was asked: a ContainerError (exit code 125) that shows the text searched.
  throw new NotImplementedError('04-cgroups', 'ownCgroup')
}
// #endregion ownCgroup

// #region cgroupDirs
/**
 * Where the container's cgroup goes. An absolute cgroupsPath is taken from the root of the
 * hierarchy; a relative one is nested below the caller's own cgroup on v1 and below its parent
 * on v2, where the caller's own cgroup holds processes and so cannot have controllers for
 * children ("no internal processes"). runc does the same.
 */
export function cgroupDirs(cgroupsPath: string, version: 1 | 2, root: string, self: string): Partial<Record<Controller, string>> {
  // TODO(04): decide where the container's cgroup is made, for each controller.
  //   1. Never at a hierarchy's root: a relative cgroupsPath goes below where the caller already
  //      is, so the limits someone put on the caller still hold (chapter text: "Where the
  //      container's cgroup goes").
  //   2. v1: one directory in each controller's own hierarchy (V1_CONTROLLERS), each below the
  //      caller's cgroup in that hierarchy; those differ from one hierarchy to the next.
  //   3. v2: one directory for every controller, but not below the caller's own cgroup: that one
  //      holds processes, and the "no internal processes" rule forbids it to hand controllers to
  //      children. Then where? runc's libcontainer/cgroups/fs2/defaultpath.go.
  //   4. An absolute cgroupsPath starts from the hierarchy's root instead.
  throw new NotImplementedError('04-cgroups', 'cgroupDirs')
}
// #endregion cgroupDirs

// #region resourceFiles
/**
 * linux.resources as the files to write, in the order to write them: [controller, file name,
 * value], memory first, then swap, CPU and pids (the tests compare whole lists). A limit of 0
 * or less means "no limit", written as each file accepts it.
 */
export function resourceFiles(resources: Resources, version: 1 | 2): [Controller, string, string][] {
  // TODO(04): translate linux.resources into this version's files, in the order to write them.
  //   1. Only what is set: a resource left out keeps the kernel's default.
  //   2. The chapter text's table names the files; runc's libcontainer/cgroups/fs/ (v1) and fs2/
  //      (v2) write the same ones. Two differ in meaning, not only in name: OCI's swap counts
  //      memory plus swap where v2's swap file counts swap alone, and v2's CPU weight has another
  //      range than v1's shares (runc's ConvertCPUSharesToCgroupV2Value).
  //   3. A limit of 0 or less means "no limit", and the kernel does not spell that the same way in
  //      every file. Find the word each file takes (Documentation/admin-guide/cgroup-v1/ and
  //      cgroup-v2.rst, or try it by hand in a cgroup you made); the wrong one is EINVAL.
  //   4. v1 checks a new CPU quota against the period in force and against the parent's share of
  //      CPU. For a cgroup just made, which of the two files must come first?
  throw new NotImplementedError('04-cgroups', 'resourceFiles')
}
// #endregion resourceFiles

// #region createCgroup
/**
 * Create the container's cgroup from spec.linux.cgroupsPath and write its limits. A failure
 * removes whatever was created, so a container that cannot start leaves nothing behind.
 */
export async function createCgroup(spec: Spec, options: CgroupOptions = {}): Promise<Cgroup> {
  // TODO(04): make the cgroup and write its limits: all of it, or nothing.
  //   1. No cgroupsPath in the spec: a ContainerError (125). The caller's place comes from
  //      options.self (or /proc/self/cgroup), the mount from options.root (or CGROUP_ROOT).
  //   2. removeOrder tells removeCgroup what to remove: the directories cgroupsPath adds (the leaf
  //      and its new parents, deepest first), never the base they were nested in.
  //   3. On v2 a controller's files appear in a cgroup only once every parent enables it
  //      (enableControllers), so that happens before any limit is written.
  //   4. Any write can fail (a quota under the kernel's minimum, a controller the parent lacks).
  //      Then nothing may be left behind, and the error that comes out names the file and the
  //      value (writeCgroupFile, given, does that).
  throw new NotImplementedError('04-cgroups', 'createCgroup')
}
// #endregion createCgroup

// #region enableControllers
/**
 * v2: a controller's files appear in a cgroup only when its parent lists the controller in
 * cgroup.subtree_control, and a parent can only enable what its own parent enabled. So walk
 * from the root down to the leaf's parent, adding what each one lacks (runc does the same).
 */
export function enableControllers(root: string, leaf: string, controllers: Controller[]): void {
  // TODO(04): make the controllers available all the way down to the leaf's parent.
  //   1. Documentation/admin-guide/cgroup-v2.rst, "Enabling and Disabling": a cgroup hands a
  //      controller to its children through a file of its own, and only one its parent handed it.
  //   2. So every level from root down to the leaf's parent, top first. A level may enable some
  //      already (the kernel lists them without the sign you write): write only what it lacks,
  //      and nothing where nothing lacks. A file that is not there enables nothing.
  //   3. runc does the same in fs2.CreateCgroupPath.
  throw new NotImplementedError('04-cgroups', 'enableControllers')
}
// #endregion enableControllers

// #region joinCgroup
/** Move process `pid` (a host PID) into the cgroup: every controller's cgroup.procs. */
export async function joinCgroup(cgroup: Cgroup, pid: number): Promise<void> {
  // TODO(04): move a process into the cgroup.
  //   1. man 7 cgroups, "Creating cgroups and moving processes": a process moves when its PID is
  //      written to a file of the cgroup, one hierarchy per write.
  //   2. So every directory the cgroup has, and each once (on v2 they are all the same).
  throw new NotImplementedError('04-cgroups', 'joinCgroup')
}
// #endregion joinCgroup

// #region forkIntoCgroup
/**
 * The step between fork and exec that makes the limits hold from the container's first
 * instruction (runc's sync pipe does the same). `fork` is chapter 02's enterNamespaces for this
 * helper: it forks the process that will exec the container's program and resolves to its host
 * PID, or to undefined when nothing was forked (the helper itself then execs). When this
 * resolves, that process is in `cgroup`, and the helper's relay, which stays on the host's side
 * for the whole run, is not. Returns the PID that joined.
 */
export async function forkIntoCgroup(helper: Helper, cgroup: Cgroup, fork: () => Promise<number | undefined>): Promise<number> {
  // TODO(04): the chapter's central step: no instruction of the container may run unlimited.
  //   1. Which process? After the fork there are two: the helper's relay (helper.pid), which stays
  //      on the host's side for the whole run, like a shim, and the child that will exec. Only the
  //      container's own processes belong in its cgroup: the relay would count against pids.max.
  //   2. When? Children are born in their parent's cgroup, and a process that joins late has
  //      already run. The caller execs as soon as this resolves.
  //   3. `fork` may resolve to undefined: nothing was forked, and the helper itself will exec.
  //   4. runc's initProcess.start (libcontainer/process_linux.go) puts its init in the cgroup
  //      before that init clones the container's process. Why can you not simply do the
  //      same with helper.pid? Chapter text: "No window without limits".
  throw new NotImplementedError('04-cgroups', 'forkIntoCgroup')
}
// #endregion forkIntoCgroup

// #region oomKilled
/** Whether the kernel's OOM killer killed a process in this cgroup. */
export async function oomKilled(cgroup: Cgroup): Promise<boolean> {
  // TODO(04): did the kernel's OOM killer end a process of this cgroup?
  //   1. From outside an OOM kill is a SIGKILL like any other (137). The memory controller counts
  //      them: which file holds the counter on v1, which on v2 (cgroup-v1/memory.rst, the
  //      "memory.events" entry of cgroup-v2.rst)? readKeyed (given) parses such files.
  //   2. On v2 with no memory controller enabled the file does not exist: then there was no OOM kill.
  throw new NotImplementedError('04-cgroups', 'oomKilled')
}
// #endregion oomKilled

// #region removeCgroup
/**
 * Remove the cgroup's directories, deepest first. rmdir is the only way (the files in them are
 * not real files), it fails with EBUSY while a process is still inside, and parents shared
 * with other containers are left when not empty.
 */
export async function removeCgroup(cgroup: Cgroup): Promise<void> {
  // TODO(04): remove what createCgroup made, deepest first.
  //   1. A cgroup's files are the kernel's: only rmdir removes a cgroup, and only once it holds
  //      no process and no child cgroup.
  //   2. The container's last processes may still be on their way out when this is called: rmdir
  //      then fails with EBUSY for a moment. Wait and retry for about a second before giving up
  //      with the error.
  //   3. Already gone is fine. A parent in removeOrder that another container still uses stays,
  //      and that is no error; a leaf that stays is one.
  throw new NotImplementedError('04-cgroups', 'removeCgroup')
}
// #endregion removeCgroup

// #region withCgroup
/**
 * Run a container in a cgroup: create it, `run` (which must join the container's process to it
 * before exec and return the exit code), note an OOM kill, and remove the cgroup, whatever happens.
 */
export async function withCgroup(
  spec: Spec,
  run: (cgroup: Cgroup) => Promise<number>,
  options: CgroupOptions = {},
): Promise<CgroupExit> {
  // TODO(04): a cgroup's whole life around one run.
  //   1. The cgroup exists before `run` starts the process; `run` returns its exit code.
  //   2. Whatever happens in `run`, the cgroup is gone afterwards: a container that failed to
  //      start leaves nothing behind, and the run's own error is the one that comes out.
  //   3. The OOM counter lives in the cgroup: think about when it can still be read.
  throw new NotImplementedError('04-cgroups', 'withCgroup')
}
// #endregion withCgroup
