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
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CGROUP_ROOT, cgroupVersion, enableControllers, oomKilled, writeCgroupFile, type Cgroup, type CgroupExit, type CgroupOptions, type Controller,
} from '../../lib/cgroup.ts'
import { cgroupDirs, resourceFiles } from '../../lib/cgroup-files.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

// Given code, re-exported under the chapter's name (the starter's comment says what each is).
export { CGROUP_ROOT, cgroupVersion, enableControllers, forkIntoCgroup, joinCgroup, oomKilled, readKeyed, V1_CONTROLLERS } from '../../lib/cgroup.ts'
export type { Cgroup, CgroupExit, CgroupOptions, Controller } from '../../lib/cgroup.ts'
export { cgroupDirs, resourceFiles } from '../../lib/cgroup-files.ts'

// #region createCgroup
/**
 * Create the container's cgroup from spec.linux.cgroupsPath and write spec.linux.resources into
 * it; options give another mount or /proc/self/cgroup text, to try it on a plain directory.
 * Resolves to the Cgroup: its directories and what removeCgroup may try to remove. What it must
 * do when it is not alone, or fails half-way, is the chapter's question ("Creating it, and
 * undoing a failure", "When the leaf is already there").
 */
export async function createCgroup(spec: Spec, options: CgroupOptions = {}): Promise<Cgroup> {
  const root = options.root ?? CGROUP_ROOT
  const path = spec.linux?.cgroupsPath
  if (!path) throw new ContainerError('spec.linux.cgroupsPath is not set', 125)
  const version = cgroupVersion(root)
  const self = options.self ?? readFileSync('/proc/self/cgroup', 'utf8')
  const dirs = cgroupDirs(path, version, root, self)
  const files = resourceFiles(spec.linux?.resources ?? {}, version)
  const leaves = [...new Set(Object.values(dirs))]
  // The levels cgroupDirs put below the base: those of the path once cleaned, as it was joined.
  const levels = resolve('/', path).split('/').filter(Boolean).length
  const cgroup: Cgroup = { version, dirs, removeOrder: [] }
  const made: string[] = []
  // The parents, made again if the last other run out removes one meanwhile; then the leaf
  // alone, since only mkdir itself tells "made it" from "found it", and at once.
  const make = (leaf: string): boolean => {
    for (let attempt = 0; ; attempt++) {
      mkdirSync(dirname(leaf), { recursive: true })
      try {
        mkdirSync(leaf)
        return true
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT' && attempt < 100) continue
        if (code !== 'EEXIST') throw error
      }
      // v1 hierarchies mounted together (cpu,cpuacct) reach one directory by two names.
      const same = (a: string, b: string) => statSync(a).ino === statSync(b).ino && statSync(a).dev === statSync(b).dev
      if (made.some((dir) => same(dir, leaf))) return false
      const procs = join(leaf, 'cgroup.procs')
      const count = existsSync(procs) ? readFileSync(procs, 'utf8').split('\n').filter(Boolean).length : 0
      throw new ContainerError(count > 0
        ? `container's cgroup ${leaf} is not empty: ${count} process(es) found: another container runs with cgroupsPath ${path}`
        : `container's cgroup ${leaf} exists already, with no process in it: left by a run that did not finish, or made by one that has not started its process yet; if no container uses cgroupsPath ${path}, remove it with rmdir`, 125)
    }
  }
  try {
    for (const leaf of leaves) {
      // Removed later: the leaf and the directories above it up to the base, if this create made the leaf.
      const chain: string[] = []
      for (let i = 0, dir = leaf; i < levels; i++, dir = dirname(dir)) chain.push(dir)
      if (!make(leaf)) continue
      made.push(leaf)
      cgroup.removeOrder.push(...chain)
    }
    if (version === 2) enableControllers(root, leaves[0]!, [...new Set(files.map(([c]) => c))])
    for (const [controller, file, value] of files) {
      const at = join(dirs[controller]!, file)
      try {
        writeCgroupFile(at, value)
      } catch (error) {
        if (!swapUncounted(at, value, version)) throw error
      }
    }
  } catch (error) {
    await removeCgroup(cgroup)
    throw error
  }
  return cgroup
}

/**
 * Whether `path`, which refused a write of `value`, is a swap file the kernel does not have: with
 * swap accounting off (swapaccount=0, or no CONFIG_MEMCG_SWAP) no memory cgroup has one. "No
 * limit" is then what the container gets anyway, so nothing is written, as runc's fs2 lets it
 * pass; a swap limit asked for cannot be enforced, and is refused rather than dropped.
 */
function swapUncounted(path: string, value: string, version: 1 | 2): boolean {
  const file = version === 1 ? 'memory.memsw.limit_in_bytes' : 'memory.swap.max'
  if (!path.endsWith(`/${file}`) || existsSync(path)) return false
  if (value === (version === 1 ? '-1' : 'max')) return true
  throw new ContainerError(`memory.swap asks for a memory+swap limit, but this kernel accounts no swap: ${path} does not exist (swapaccount=0); leave memory.swap unset or -1`, 125)
}
// #endregion createCgroup

// #region updateCgroup
/**
 * Change the limits of a cgroup that is in use, as `runc update` (and `docker update --memory
 * --memory-swap --cpus --pids-limit`) does: only what `resources` sets changes. A refused update
 * fails with the kernel's refusal that stopped it; what the container runs with afterwards, and
 * what the caller learns of it, is the chapter's question ("Changing the limits of a running
 * container", "When setting back is refused too").
 */
export async function updateCgroup(cgroup: Cgroup, request: Resources): Promise<void> {
  const resources = keepSwapTotal(cgroup, request)
  const path = ([controller, file]: [Controller, string, string]) => join(cgroup.dirs[controller]!, file)
  const current = (entry: [Controller, string, string]) => readFileSync(path(entry), 'utf8').trim()
  // A limit as a number to compare; whatever is not a count of bytes or µs is no limit.
  const size = (text: string) => (/^\d+$/.test(text) ? BigInt(text) : BigInt(Number.MAX_SAFE_INTEGER) ** 2n)
  // A swap file the kernel does not have is never read or written back: see swapUncounted.
  const files = resourceFiles(resources, cgroup.version).filter((entry) => existsSync(path(entry)) || !swapUncounted(path(entry), entry[2], cgroup.version))
    .map((entry) => (entry[1] === 'cpu.max' && !resources.cpu?.quota ? keepQuota(entry, current(entry)) : entry))
  // Setting a raised memory limit back is lowering it, which the kernel refuses (v1, EBUSY) or
  // enforces by OOM-killing (v2) once the container uses more than the old limit: so memory limits
  // go down before anything that can be refused and up after it, when no refusal can follow.
  // On v1 that is also the pair's order: memory down before memory+swap, memory+swap up first.
  const down = files.filter((entry) => entry[0] === 'memory' && size(entry[2]) < size(current(entry)))
  const up = files.filter((entry) => entry[0] === 'memory' && !down.includes(entry)).reverse()
  const others = files.filter(([controller]) => controller !== 'memory')
  const period = others.findIndex(([, f]) => f === 'cpu.cfs_period_us')
  const quota = others.findIndex(([, f]) => f === 'cpu.cfs_quota_us')
  // v1: a quota is checked against the period in force, and a period against the quota in force:
  // with a shorter period, the new quota first keeps the ratio below both the old and the new.
  if (period >= 0 && quota >= 0 && size(others[period]![2]) < size(current(others[period]!)))
    [others[period], others[quota]] = [others[quota]!, others[period]!]
  const written: [string, string][] = []
  try {
    for (const entry of [...down, ...others, ...up]) {
      const before = current(entry)
      writeCgroupFile(path(entry), entry[2])
      written.push([path(entry), before])
    }
  } catch (error) {
    // Each state on the way was one the kernel accepted: walking back through them, last write
    // first, is accepted too, unless something outside changed meanwhile.
    const kept: string[] = []
    for (const [file, before] of written.reverse()) {
      try {
        writeCgroupFile(file, before)
      } catch (refused) {
        kept.push(`${file} stays at ${readFileSync(file, 'utf8').trim()} (${(refused as Error).message})`)
      }
    }
    if (kept.length > 0) (error as Error).message += `; setting back was refused too: ${kept.join('; ')}`
    throw error
  }
}

/**
 * v2's cpu.max takes a period only after a quota: a period alone keeps the quota in force, as
 * v1's cpu.cfs_period_us does and as runc update does (it fills in the quota it last set).
 */
function keepQuota([controller, file, value]: [Controller, string, string], now: string): [Controller, string, string] {
  const period = value.split(' ')[1]
  return [controller, file, period ? `${now.split(' ')[0]} ${period}` : value]
}

/**
 * OCI's swap is memory + swap, and a memory limit given alone keeps that total, as runc update
 * (which merges the request into the resources it recorded) and dockerd do: v1's memsw file holds
 * the total and stays, but v2's memory.swap.max holds the swap alone, so it is written again. A
 * total that is no limit stays none; a memory limit of no limit takes the swap's along (runc's rule).
 */
function keepSwapTotal(cgroup: Cgroup, resources: Resources): Resources {
  const memory = resources.memory
  const swapFile = join(cgroup.dirs.memory ?? '', 'memory.swap.max')
  if (cgroup.version !== 2 || !memory?.limit || memory.swap || !existsSync(swapFile)) return resources
  if (memory.limit < 0) return { ...resources, memory: { ...memory, swap: -1 } }
  const [max, swap] = [join(cgroup.dirs.memory!, 'memory.max'), swapFile].map((file) => readFileSync(file, 'utf8').trim())
  if (!/^\d+$/.test(max!) || !/^\d+$/.test(swap!)) return resources
  const total = Number(max) + Number(swap)
  if (memory.limit > total)
    throw new ContainerError(`memory.limit ${memory.limit} is above the container's memory+swap limit ${total}: give memory.swap with it`, 125)
  return { ...resources, memory: { ...memory, swap: total } }
}
// #endregion updateCgroup

// #region removeCgroup
/** Remove the container's cgroup: what removeOrder lists, deepest first. */
export async function removeCgroup(cgroup: Cgroup): Promise<void> {
  const leaves = new Set(Object.values(cgroup.dirs))
  for (const dir of cgroup.removeOrder) {
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(dir)
        break
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || (!leaves.has(dir) && (code === 'EBUSY' || code === 'ENOTEMPTY'))) break
        if (code !== 'EBUSY' || attempt === 100) throw error
        // Processes still exiting: wait. Still refused after that, cgroups the container made
        // inside its own are in the way: they are the container's too, and go, deepest first,
        // as in runc's RemovePath.
        if (attempt === 5) for (const child of childCgroups(dir).reverse()) await removeCgroup({ ...cgroup, dirs: { pids: child }, removeOrder: [child] })
        else await sleep(10)
      }
    }
  }
}

/** Every cgroup below `dir`, each before its own children; none when `dir` is gone. */
function childCgroups(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory())
    .flatMap((entry) => [join(dir, entry.name), ...childCgroups(join(dir, entry.name))])
}
// #endregion removeCgroup

// #region withCgroup
/**
 * Run a container in a cgroup: create it, `run` (which must join the container's process to it
 * before exec and return the exit code), note an OOM kill, and remove the cgroup, whatever
 * happens. Rejects when the create or `run` does; what is left of the container then is the
 * chapter's question ("When is a container over?").
 */
export async function withCgroup(
  spec: Spec,
  run: (cgroup: Cgroup) => Promise<number>,
  options: CgroupOptions = {},
): Promise<CgroupExit> {
  const cgroup = await createCgroup(spec, options)
  let exit: CgroupExit
  try {
    const code = await run(cgroup)
    exit = { code, oomKilled: await oomKilled(cgroup) }
  } catch (error) {
    await killRest(cgroup).then(() => removeCgroup(cgroup)).catch(() => {})
    throw error
  }
  await killRest(cgroup)
  await removeCgroup(cgroup)
  return exit
}

/**
 * Kill what is still in the cgroup, as runc's destroy does (signalAllProcesses): PID 1's exit
 * empties it only where PID 1 had a PID namespace of its own, and a run that failed may leave
 * its process running. The cgroup is a tree: a container may have made cgroups inside its own
 * (systemd in a container does), and each cgroup.procs lists its own members only. Read and kill again until it is empty: a process can fork between a read
 * of cgroup.procs and its SIGKILL.
 */
async function killRest(cgroup: Cgroup): Promise<void> {
  for (let round = 0; round < 500; round++) {
    // cgroup.procs lists a cgroup's own members only, not those of the cgroups below it.
    const procs = [...new Set(Object.values(cgroup.dirs))].flatMap((dir) => [dir, ...childCgroups(dir)]).map((dir) => join(dir, 'cgroup.procs'))
    const pids = new Set(procs.flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [])))
    if (pids.size === 0) return
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
    await sleep(10)
  }
}
// #endregion withCgroup
