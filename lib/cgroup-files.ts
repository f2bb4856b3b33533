/**
 * Chapter 04's given translation of an OCI config into cgroup terms, which the starter and the
 * reference share: where a container's cgroup goes (cgroupDirs) and which files its
 * linux.resources become, in the order a new cgroup takes them (resourceFiles). The chapter's
 * work is what is done with them: creating, updating and removing a cgroup other runs share.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { V1_CONTROLLERS, type Controller } from './cgroup.ts'
import { ContainerError } from './errors.ts'
import type { Resources } from './oci.ts'

/**
 * Where the container's cgroup goes: a directory for each controller this version has, found
 * from cgroupsPath and from where the caller already is (`self`, the text of its
 * /proc/self/cgroup). An absolute cgroupsPath starts from the root of each hierarchy; a relative
 * one stays within the limits put on the caller, whatever it holds.
 */
export function cgroupDirs(cgroupsPath: string, version: 1 | 2, root: string, self: string): Partial<Record<Controller, string>> {
  // runc's utils.CleanPath: ".." cannot climb above the base the path is joined to.
  const inner = resolve('/', cgroupsPath)
  // A path that cleans to nothing names the caller's own cgroup, or the hierarchy's root: no leaf of its own.
  if (inner === '/') throw new ContainerError(`cgroupsPath "${cgroupsPath}" names no cgroup below the base it is joined to, only the base itself`, 125)
  const place = (hierarchy: string, own: () => string) => join(root, hierarchy, isAbsolute(cgroupsPath) ? '/' : own(), inner)
  if (version === 2) {
    // The caller's own cgroup holds processes, so it cannot hand controllers down: its parent.
    const dir = place('', () => dirname(ownCgroup(self, null)))
    return { memory: dir, cpu: dir, pids: dir }
  }
  const dirs: Partial<Record<Controller, string>> = {}
  for (const c of V1_CONTROLLERS) dirs[c] = place(c, () => ownCgroup(self, c))
  return dirs
}

/**
 * The caller's own cgroup path from /proc/self/cgroup, whose lines read "ID:CONTROLLERS:PATH":
 * `controller` null asks for the v2 line ("0::PATH"). A v1 line may name several controllers
 * ("cpu,cpuacct"), and the path, the rest of the line, may hold colons of its own.
 */
function ownCgroup(self: string, controller: Controller | null): string {
  for (const line of self.split('\n').filter(Boolean)) {
    const [, controllers, ...path] = line.split(':')
    const matches = controller === null ? controllers === '' : controllers!.split(',').includes(controller)
    if (matches) return path.join(':')
  }
  throw new ContainerError(`no ${controller ?? 'cgroup v2'} line in /proc/self/cgroup:\n${self}`, 125)
}

/**
 * linux.resources as the files to write, in the order to write them: [controller, file name,
 * value]. Each value means what runtime-spec's config-linux.md says it means; a request no
 * kernel could apply is a ContainerError (125).
 */
export function resourceFiles(resources: Resources, version: 1 | 2): [Controller, string, string][] {
  const { memory, cpu, pids } = resources
  const files: [Controller, string, string][] = []
  // OCI's 0 is "not set", as runc reads it: nothing is written and the kernel's default stays.
  const set = (n: number | undefined): n is number => n !== undefined && n !== 0
  const unlimited = version === 1 ? '-1' : 'max'
  const limit = (n: number, none = unlimited) => (n > 0 ? String(n) : none)
  const swap = memory?.swap
  // OCI's swap is memory + swap: it means nothing without a memory limit, and cannot be below it.
  if (swap !== undefined && swap > 0 && !(memory?.limit !== undefined && memory.limit > 0 && swap >= memory.limit))
    throw new ContainerError(`memory.swap ${swap} (memory + swap) needs a memory.limit it is not below, and memory.limit is ${memory?.limit ?? 'not set'}`, 125)
  if (version === 1) {
    if (set(memory?.limit)) files.push(['memory', 'memory.limit_in_bytes', limit(memory.limit)])
    if (set(swap)) files.push(['memory', 'memory.memsw.limit_in_bytes', limit(swap)])
    if (set(cpu?.shares)) files.push(['cpu', 'cpu.shares', String(cpu.shares)])
    // The period first: a new quota is checked against the current period and the parent's ratio.
    if (set(cpu?.period)) files.push(['cpu', 'cpu.cfs_period_us', String(cpu.period)])
    if (set(cpu?.quota)) files.push(['cpu', 'cpu.cfs_quota_us', limit(cpu.quota)])
    if (set(pids?.limit)) files.push(['pids', 'pids.max', limit(pids.limit, 'max')])
    return files
  }
  if (set(memory?.limit)) files.push(['memory', 'memory.max', limit(memory.limit)])
  // v2's memory.swap.max counts the swap alone.
  if (set(swap)) files.push(['memory', 'memory.swap.max', swap > 0 ? String(swap - memory!.limit!) : 'max'])
  // Shares [2, 262144] onto weight [1, 10000], linearly; v1's kernel clamps shares into its range
  // where v2's refuses a weight outside its own, so the shares v1 would apply are the ones mapped.
  const shares = (n: number) => Math.min(Math.max(n, 2), 262144)
  if (set(cpu?.shares)) files.push(['cpu', 'cpu.weight', String(1 + Math.floor(((shares(cpu.shares) - 2) * 9999) / 262142))])
  // A period only when one is set: without it the kernel keeps the cgroup's own.
  if (set(cpu?.quota) || set(cpu?.period))
    files.push(['cpu', 'cpu.max', set(cpu.period) ? `${limit(cpu.quota ?? 0)} ${cpu.period}` : limit(cpu.quota ?? 0)])
  if (set(pids?.limit)) files.push(['pids', 'pids.max', limit(pids.limit)])
  return files
}
