/**
 * Chapter 04's given pieces, which the starter and the reference share: where the cgroup
 * filesystem lives, the types that describe a container's cgroup, reading and writing one
 * cgroup file with errors that name the file, which version a mount is, handing v2 controllers
 * down a tree, moving a process in, and reading the OOM counter.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Helper } from '../native/helper.ts'
import { ContainerError } from './errors.ts'

export const CGROUP_ROOT = '/sys/fs/cgroup'

/**
 * The controllers a container uses; cpuacct exists only on v1, where it counts CPU time. cpuset
 * (the CPUs and memory nodes it may use) is chapter 09's, never in a Cgroup's dirs.
 */
export type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'cpuset'
export const V1_CONTROLLERS: Controller[] = ['memory', 'cpu', 'cpuacct', 'pids']

/** One container's cgroup. */
export interface Cgroup {
  version: 1 | 2
  /** the directory of each controller (on v2, all the same directory) */
  dirs: Partial<Record<Controller, string>>
  /** every directory this run may try to rmdir when it is removed, deepest first */
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
export function writeCgroupFile(path: string, value: string): void {
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

/**
 * v2 when `root` is a cgroup2 mount, v1 otherwise. The top of a cgroup2 mount lists the
 * controllers it offers in cgroup.controllers, a file no v1 hierarchy has; a hybrid host's
 * /sys/fs/cgroup (v1 hierarchies, and a cgroup2 tree at unified/ with none of the controllers a
 * container needs) counts as v1. runc asks statfs(2) instead (IsCgroup2UnifiedMode), which a
 * plain directory laid out like a cgroup2 mount cannot answer.
 */
export function cgroupVersion(root = CGROUP_ROOT): 1 | 2 {
  return existsSync(join(root, 'cgroup.controllers')) ? 2 : 1
}

/**
 * v2: make `controllers` available to the cgroup `leaf` below `root`, so that their files appear
 * in it. A controller reaches a cgroup only when every level above it lists the controller in
 * its cgroup.subtree_control, and a level can only enable what its own parent enabled, so the
 * levels are written top down. The kernel lists the enabled controllers without the "+" written
 * to enable them; a level that has them all is not written. runc: fs2.CreateCgroupPath (which
 * enables every controller offered, where this enables only `controllers`).
 */
export function enableControllers(root: string, leaf: string, controllers: Controller[]): void {
  const parents: string[] = []
  for (let dir = dirname(leaf); dir.startsWith(root); dir = dirname(dir)) parents.unshift(dir)
  for (const dir of parents) {
    const file = join(dir, 'cgroup.subtree_control')
    const enabled = existsSync(file) ? readFileSync(file, 'utf8').split(/\s+/) : []
    const missing = controllers.filter((c) => !enabled.includes(c))
    if (missing.length > 0) writeCgroupFile(file, missing.map((c) => `+${c}`).join(' '))
  }
}

/**
 * Move process `pid` (a host PID) into the cgroup, in every hierarchy it has: its PID written to
 * cgroup.procs, which moves every thread of the process (v1's `tasks` would move one thread),
 * once per distinct directory (on v2 they are all one). The children it forks afterwards are born
 * inside (cgroups(7), "Creating cgroups and moving processes").
 */
export async function joinCgroup(cgroup: Cgroup, pid: number): Promise<void> {
  for (const dir of new Set(Object.values(cgroup.dirs))) writeCgroupFile(join(dir, 'cgroup.procs'), String(pid))
}

/**
 * The step between fork and exec that puts the container under its limits (runc: the sync pipe
 * that holds `runc init` until its cgroup is applied). `fork` is chapter 02's enterNamespaces for
 * this helper: it resolves to the host PID of the process it forked, or to undefined when nothing
 * was forked. The caller execs as soon as this resolves. Returns the PID that joined.
 */
export async function forkIntoCgroup(helper: Helper, cgroup: Cgroup, fork: () => Promise<number | undefined>): Promise<number> {
  const pid = (await fork()) ?? helper.pid
  await joinCgroup(cgroup, pid)
  return pid
}

/**
 * Whether the kernel's OOM killer killed a process of this cgroup, the container's PID 1 or any
 * other: the oom_kill counter of memory.oom_control (v1) or memory.events (v2), which counts the
 * cgroup's kills from its creation on, as Docker's State.OOMKilled does (containerd watches the
 * same counter). On v2 a cgroup whose limits use no memory controller has neither file: no memory
 * limit, no OOM kill to report.
 */
export async function oomKilled(cgroup: Cgroup): Promise<boolean> {
  const file = join(cgroup.dirs.memory!, cgroup.version === 1 ? 'memory.oom_control' : 'memory.events')
  if (!existsSync(file)) return false
  return (readKeyed(file).oom_kill ?? 0) > 0
}
