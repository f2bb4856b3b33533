/**
 * Chapter 04's given pieces, which the starter and the reference share: where the cgroup
 * filesystem lives, the types that describe a container's cgroup, and reading and writing one
 * cgroup file with errors that name the file.
 */
import { readFileSync, writeFileSync } from 'node:fs'
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
