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
  // TODO(04): tell v2 from v1 by one file.
  //   1. A cgroup2 mount has a file named cgroup.controllers at its root; v1 has none (on a
  //      hybrid host the cgroup2 tree is at root/unified, not at root).
  //   2. Return 2 if join(root, 'cgroup.controllers') exists (existsSync), else 1.
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
  // TODO(04): find the caller's cgroup in /proc/self/cgroup.
  //   1. Each line is "ID:CONTROLLERS:PATH". Split at ":"; the path may itself contain ":",
  //      so join everything after the second field back together.
  //   2. For a controller, the line whose CONTROLLERS (comma-separated, e.g. "cpu,cpuacct")
  //      includes it; for null, the v2 line, whose CONTROLLERS field is empty ("0::/...").
  //   3. No matching line: throw new ContainerError(message, 125) that shows the text.
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
  // TODO(04): one directory per controller.
  //   1. v2: one directory for all. Its base is "/" for an absolute cgroupsPath, otherwise
  //      dirname(ownCgroup(self, null)): the PARENT of the caller's cgroup, because the caller's
  //      own cgroup holds processes and so may not enable controllers for children.
  //      Return { memory: dir, cpu: dir, pids: dir } with dir = join(root, base, cgroupsPath).
  //   2. v1: for each c of V1_CONTROLLERS, base is "/" for an absolute path, otherwise
  //      ownCgroup(self, c); dirs[c] = join(root, c, base, cgroupsPath).
  throw new NotImplementedError('04-cgroups', 'cgroupDirs')
}
// #endregion cgroupDirs

// #region resourceFiles
/** linux.resources as the files to write, in order: [controller, file name, value]. */
export function resourceFiles(resources: Resources, version: 1 | 2): [Controller, string, string][] {
  // TODO(04): linux.resources as [controller, file, value] triples.
  //   1. An OCI limit of 0 or less means "no limit": write "max" for it (pids, v2 memory).
  //   2. v1, in this order: memory.limit_in_bytes, memory.memsw.limit_in_bytes (from swap),
  //      cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us (period first: the kernel checks the
  //      quota against the current period), pids.max. Only the fields that are set.
  //   3. v2: memory.max; memory.swap.max = swap - limit (OCI's swap is memory + swap, v2's is
  //      the swap alone, never below 0); cpu.weight from shares (1 + (shares - 2) * 9999 / 262142,
  //      rounded down); cpu.max as "QUOTA PERIOD" ("max" for no quota, period 100000 by default)
  //      when either is set; pids.max.
  throw new NotImplementedError('04-cgroups', 'resourceFiles')
}
// #endregion resourceFiles

// #region createCgroup
/**
 * Create the container's cgroup from spec.linux.cgroupsPath and write its limits. A failure
 * removes whatever was created, so a container that cannot start leaves nothing behind.
 */
export async function createCgroup(spec: Spec, options: CgroupOptions = {}): Promise<Cgroup> {
  // TODO(04): mkdir and write, or undo.
  //   1. root = options.root ?? CGROUP_ROOT. No spec.linux.cgroupsPath: ContainerError (125).
  //   2. version = cgroupVersion(root); self = options.self ?? the text of /proc/self/cgroup;
  //      dirs = cgroupDirs(...); files = resourceFiles(spec.linux.resources ?? {}, version).
  //   3. removeOrder: for each distinct dir, the dir and its parents, as many levels as
  //      cgroupsPath has parts ("a/b" gives .../a/b then .../a), so nothing older is removed.
  //   4. In a try: mkdirSync each distinct dir (recursive); on v2 enableControllers(root, leaf,
  //      the controllers `files` uses); writeCgroupFile(join(dirs[controller], file), value) for each.
  //   5. If anything throws: await removeCgroup(cgroup), then rethrow. Return the Cgroup.
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
  // TODO(04): cgroup.subtree_control from the top down.
  //   1. Collect dirname(leaf), its parent, ... while the path still starts with root; reverse
  //      the list so it goes from root down to the leaf's parent.
  //   2. For each, read its cgroup.subtree_control (a missing file counts as empty) and find the
  //      controllers not listed yet.
  //   3. If some are missing, writeCgroupFile(file, "+memory +pids") with a "+" before each.
  throw new NotImplementedError('04-cgroups', 'enableControllers')
}
// #endregion enableControllers

// #region joinCgroup
/** Move process `pid` (a host PID) into the cgroup: every controller's cgroup.procs. */
export async function joinCgroup(cgroup: Cgroup, pid: number): Promise<void> {
  // TODO(04): one write per cgroup directory.
  //   1. For each distinct directory in cgroup.dirs (a Set: on v2 they are all the same),
  //      writeCgroupFile(join(dir, 'cgroup.procs'), String(pid)). The kernel moves the process.
  throw new NotImplementedError('04-cgroups', 'joinCgroup')
}
// #endregion joinCgroup

// #region oomKilled
/** Whether the kernel's OOM killer killed a process in this cgroup. */
export async function oomKilled(cgroup: Cgroup): Promise<boolean> {
  // TODO(04): read the OOM counter.
  //   1. The file is memory.oom_control on v1 and memory.events on v2, in cgroup.dirs.memory.
  //   2. If it does not exist (v2 with no memory controller enabled), return false.
  //   3. readKeyed(file).oom_kill > 0 means the OOM killer killed a process in this cgroup.
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
  // TODO(04): rmdir, deepest first, patiently.
  //   1. For each dir of cgroup.removeOrder: rmdirSync(dir) (never rm -r: the files inside are
  //      the kernel's and go away with the directory).
  //   2. ENOENT: already gone, go on. A parent (not one of cgroup.dirs) that is EBUSY or
  //      ENOTEMPTY is shared with another container: leave it.
  //   3. A leaf that is EBUSY still has exiting processes: wait 10 ms (sleep) and retry, up to
  //      about a second, then rethrow. Rethrow any other error.
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
  // TODO(04): create, run, check for OOM, always remove.
  //   1. const cgroup = await createCgroup(spec, options).
  //   2. In a try: const code = await run(cgroup); return { code, oomKilled: await oomKilled(cgroup) }.
  //   3. In its finally: await removeCgroup(cgroup), so a failed start removes it too.
  throw new NotImplementedError('04-cgroups', 'withCgroup')
}
// #endregion withCgroup
