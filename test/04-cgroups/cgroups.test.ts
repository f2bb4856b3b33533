import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, vi } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import {
  CGROUP_ROOT, cgroupDirs, cgroupVersion, createCgroup, forkIntoCgroup, joinCgroup, oomKilled, readKeyed, removeCgroup,
  resourceFiles, updateCgroup, withCgroup, type Cgroup, type Controller,
} from '#ch/04-cgroups/cgroups.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { probeSpec, runCaptured, type Run } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { hierarchies } from '../support/hierarchies.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'

const MiB = 1024 * 1024

/**
 * The fake v1 tests watch every cgroup write: while `watch` is set, writeCgroupFile (given) hands
 * it the path and value instead of writing; otherwise it writes as always.
 */
const hooks = vi.hoisted(() => ({ watch: undefined as ((path: string, value: string) => void) | undefined }))
vi.mock('../../lib/cgroup.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lib/cgroup.ts')>()
  return { ...real, writeCgroupFile: (path: string, value: string) => (hooks.watch ?? real.writeCgroupFile)(path, value) }
})

/**
 * The race tests put other containers' steps between the steps of the code under test: while
 * `race.step` is set, a file-system call (node:fs or node:fs/promises) on a path at or below a
 * directory named `race.below` first runs `race.step`, which makes no such step of its own.
 */
const race = vi.hoisted(() => {
  const state = { below: '', step: undefined as (() => void) | undefined, inside: false }
  const inRace = (path: unknown) => typeof path === 'string' && state.below !== '' && (path.includes(`${state.below}/`) || path.endsWith(state.below))
  const watch = <T extends object>(real: T, names: string[]): T => {
    const wrapped = { ...real } as Record<string, unknown>
    for (const name of names) {
      const fn = (real as Record<string, unknown>)[name] as (...args: unknown[]) => unknown
      wrapped[name] = (...args: unknown[]) => {
        if (state.step && !state.inside && inRace(args[0])) {
          state.inside = true
          try {
            state.step()
          } finally {
            state.inside = false
          }
        }
        return fn(...args)
      }
    }
    return { ...wrapped, default: wrapped } as T
  }
  const calls = ['mkdir', 'rmdir', 'rm', 'stat', 'lstat', 'readdir', 'readFile', 'writeFile', 'access', 'open']
  return { state, watch, calls }
})
vi.mock('node:fs', async (importOriginal) =>
  race.watch(await importOriginal<typeof import('node:fs')>(), [...race.calls, ...race.calls.map((c) => `${c}Sync`), 'existsSync']))
vi.mock('node:fs/promises', async (importOriginal) => race.watch(await importOriginal<typeof import('node:fs/promises')>(), race.calls))

/** A probe spec with limits, in a cgroup of its own below minidocker-test/, removed after the test. */
function limitedSpec(steps: string[], resources: Resources): Spec {
  const spec = probeSpec(steps)
  spec.linux!.resources = resources
  spec.linux!.cgroupsPath = testCgroupPath()
  return spec
}

/** Run `spec` as minidocker does: namespaces (02) and the cgroup's join (forkIntoCgroup), then exec. */
async function runLimited(spec: Spec, whileInside: (cgroup: Cgroup) => void = () => {}) {
  let run: Run | undefined
  let cgroup: Cgroup | undefined
  const exit = await withCgroup(spec, async (cg) => {
    cgroup = cg
    run = await runCaptured(spec, (h) => forkIntoCgroup(h, cg, () => enterNamespaces(h, spec)))
    whileInside(cg)
    return run.code
  })
  return { ...exit, ...run!, cgroup: cgroup! }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** A regex for the lines of a /proc/PID/cgroup text of the hierarchy with `controller` ("" is v2's), capturing the path. */
const hierarchyLine = (controller: string) =>
  new RegExp(controller === '' ? '^0::(.*)$' : `^\\d+:(?:[^:\\n]*,)?${escape(controller)}(?:,[^:\\n]*)?:(.*)$`, 'm')

/**
 * Compare the /proc/PID/cgroup text a process showed against the paths it must be in, by
 * controller (as expectedPaths gives them): each a message when the line differs, [] when all match.
 */
function wrongLines(text: string, expected: Map<string, string>): { controller: string; seen: string; path: string }[] {
  return [...expected].flatMap(([controller, path]) => {
    const line = text.match(hierarchyLine(controller))
    return line?.[1] === path ? [] : [{ controller, seen: line ? `"${line[0]}"` : 'no line', path }]
  })
}

/** Where a process in `cgroup` appears in /proc/PID/cgroup, by controller ("" on v2). */
function expectedPaths(cgroup: Cgroup): Map<string, string> {
  const entries = Object.entries(cgroup.dirs).map(([c, dir]) =>
    cgroup.version === 2 ? ['', dir!.slice(CGROUP_ROOT.length)] as const : [c, dir!.slice(join(CGROUP_ROOT, c).length)] as const)
  return new Map(entries)
}

/** Every directory of a cgroup, for "is it gone?" checks. */
const dirsOf = (cgroup: Cgroup) => [...new Set(Object.values(cgroup.dirs))]

const V1_SELF = '9:name=systemd:/\n8:pids:/\n4:memory:/user/1000\n2:cpu,cpuacct:/batch\n0::/\n'
const V2_SELF = '0::/user.slice/user-0.slice/session-1.scope\n'

describe('cgroupDirs', () => {
  it('v1: a relative cgroupsPath, the caller in a different cgroup in each hierarchy', () => {
    expect(cgroupDirs('minidocker/c1', 1, '/cg', V1_SELF), 'v1 directories for minidocker/c1: where is the caller in each hierarchy, and whose limits must still hold? (/proc/self/cgroup; the chapter\'s "Where the container\'s cgroup goes")').toEqual({
      memory: '/cg/memory/user/1000/minidocker/c1',
      cpu: '/cg/cpu/batch/minidocker/c1',
      cpuacct: '/cg/cpuacct/batch/minidocker/c1',
      pids: '/cg/pids/minidocker/c1',
    })
  })

  it('v2: a relative cgroupsPath, the caller in a session scope', () => {
    const dir = '/cg/user.slice/user-0.slice/minidocker/c1'
    const dirs = cgroupDirs('minidocker/c1', 2, '/cg', V2_SELF)
    expect(Object.keys(dirs).sort(), 'the controllers of the v2 directories: which of them does v2 have? (cgroup-v2.rst, "Controllers")').toEqual(['cpu', 'memory', 'pids'])
    expect(dirs, 'the v2 directory for minidocker/c1, the caller in user.slice/user-0.slice/session-1.scope: could the limits be set there, with the caller where it is? (cgroup-v2.rst, "Controlling Controllers"; the chapter\'s "Where the container\'s cgroup goes")').toEqual({ memory: dir, cpu: dir, pids: dir })
  })

  it('an absolute cgroupsPath, /docker/c1', () => {
    expect(cgroupDirs('/docker/c1', 1, '/cg', V1_SELF).memory, 'v1, the memory directory for /docker/c1').toBe('/cg/memory/docker/c1')
    expect(cgroupDirs('/docker/c1', 2, '/cg', V2_SELF).pids, 'v2, the directory for /docker/c1').toBe('/cg/docker/c1')
  })

  it('v1, a /proc/self/cgroup with no memory line', async () => {
    expect(await caught(() => cgroupDirs('x', 1, '/cg', '0::/\n')), 'no memory line: a ContainerError (see ownCgroup), not a crash').toBeInstanceOf(ContainerError)
  })
})

/** The limits a kernel holds after a run of writes; Infinity is "no limit". */
interface Limits { memory: number; memsw: number; swap: number; quota: number; period: number; pids: number }

/**
 * What a kernel makes of resourceFiles' writes, one after the other as listed, as v1 and v2
 * kernels answered them when this workbook measured them (`parentCpu` is the parent's CPU
 * limit). Resolves to the first refusal, worded as the kernel gives it (the errno of the write,
 * with the file and the value, after the writes before it), or to the limits set.
 */
function kernelModel(version: 1 | 2, files: [Controller, string, string][], parentCpu = Infinity, start: Partial<Limits> = {}): { refused?: string; limits: Limits } {
  const limits: Limits = { memory: Infinity, memsw: Infinity, swap: Infinity, quota: Infinity, period: 100000, pids: Infinity, ...start }
  const written: string[] = []
  const number = (value: string, none: string) => (value === none ? Infinity : /^\d+$/.test(value) ? Number(value) : NaN)
  for (const [, file, value] of files) {
    const refuse = () => ({ refused: `a v${version} kernel answers EINVAL to "${value}" in ${file}${written.length ? ` (after ${written.join(', ')})` : ''}`, limits })
    if (file === 'memory.limit_in_bytes' || file === 'memory.memsw.limit_in_bytes') {
      const bytes = number(value, '-1')
      const next = { ...limits, [file === 'memory.limit_in_bytes' ? 'memory' : 'memsw']: bytes }
      if (Number.isNaN(bytes) || next.memsw < next.memory) return refuse()
      Object.assign(limits, next)
    } else if (file === 'cpu.cfs_period_us' || file === 'cpu.cfs_quota_us') {
      const us = number(value, '-1')
      if (Number.isNaN(us) || us < 1000 || (file === 'cpu.cfs_period_us' && us === Infinity)) return refuse()
      const next = { ...limits, [file === 'cpu.cfs_period_us' ? 'period' : 'quota']: us }
      if (next.quota !== Infinity && next.quota / next.period > parentCpu) return refuse()
      Object.assign(limits, next)
    } else if (file === 'memory.max' || file === 'memory.swap.max') {
      const bytes = number(value, 'max')
      if (Number.isNaN(bytes)) return refuse()
      limits[file === 'memory.max' ? 'memory' : 'swap'] = bytes
    } else if (file === 'cpu.max') {
      const [quota = '', period = '100000', extra] = value.split(' ')
      const us = number(quota, 'max')
      if (Number.isNaN(us) || !/^\d+$/.test(period) || extra !== undefined) return refuse()
      Object.assign(limits, { quota: us, period: Number(period) })
    } else if (file === 'pids.max') {
      const max = number(value, 'max')
      if (Number.isNaN(max)) return refuse()
      limits.pids = max
    } else if (file === 'cpu.shares' || file === 'cpu.weight') {
      if (!/^\d+$/.test(value)) return refuse()
    } else return { refused: `a v${version} cgroup has no file ${file} (ENOENT)`, limits }
    written.push(`${file} ${value}`)
  }
  return { limits }
}

/** Where the text poses the questions behind the kernel's refusals. */
const FILES = 'the chapter\'s "From linux.resources to files"'

/** The files' names and values, whatever the order. */
const byName = (files: [Controller, string, string][]) => Object.fromEntries(files.map(([, file, value]) => [file, value]))

describe('resourceFiles', () => {
  const resources: Resources = { memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 20000, period: 100000 }, pids: { limit: 32 } }
  const unlimited: Resources = { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100000 }, pids: { limit: -1 } }

  it('v1: memory, swap, a CPU quota and period, pids', () => {
    const files = resourceFiles(resources, 1)
    expect(byName(files), 'v1\'s files and values: which document describes each? (the chapter\'s "From linux.resources to files")').toEqual({
      'memory.limit_in_bytes': String(64 * MiB),
      'memory.memsw.limit_in_bytes': String(64 * MiB),
      'cpu.cfs_period_us': '100000',
      'cpu.cfs_quota_us': '20000',
      'pids.max': '32',
    })
    const { refused } = kernelModel(1, files)
    expect(refused, `${refused}: which word does each file take, and what does the kernel check each write against? (${FILES})`).toBeUndefined()
  })

  it('v2: memory, swap, a CPU quota and period, pids', () => {
    expect(resourceFiles(resources, 2), 'v2\'s files and values: what does OCI\'s memory.swap count, and what does memory.swap.max? (runtime-spec config-linux.md, "Memory"; cgroup-v2.rst, "memory.swap.max", "cpu.max")').toEqual([
      ['memory', 'memory.max', String(64 * MiB)],
      ['memory', 'memory.swap.max', '0'],
      ['cpu', 'cpu.max', '20000 100000'],
      ['pids', 'pids.max', '32'],
    ])
  })

  it('no resources, zeros, a swap of 0, and a swap of -1', () => {
    expect(resourceFiles({}, 1), 'v1, no resources').toEqual([])
    expect(resourceFiles({}, 2), 'v2, no resources').toEqual([])
    const zeros: Resources = { memory: { limit: 0, swap: 0 }, cpu: { quota: 0, period: 0, shares: 0 }, pids: { limit: 0 } }
    for (const version of [1, 2] as const)
      expect(resourceFiles({ memory: { limit: 64 * MiB, swap: 0 } }, version).map(([, file]) => file), `v${version}: a memory limit and a swap of 0: what does runc write for the swap? (its fs/memory.go, fs2/memory.go)`).toEqual([version === 1 ? 'memory.limit_in_bytes' : 'memory.max'])
    for (const version of [1, 2] as const)
      expect(resourceFiles(zeros, version), `v${version}: every value 0: what does runc write for a 0? (its fs/ and fs2/, before each write)`).toEqual([])
    for (const version of [1, 2] as const) {
      const files = resourceFiles({ memory: { limit: 64 * MiB, swap: -1 } }, version)
      const { refused, limits } = kernelModel(version, files)
      expect(refused, `${refused}: what does the swap file take for "no limit"? (${FILES})`).toBeUndefined()
      expect(files.length, `v${version}, a memory limit and a swap of -1: ${files.map(([, f, v]) => `${f} ${v}`).join(', ')}`).toBe(2)
      expect(limits[version === 1 ? 'memsw' : 'swap'], `v${version}, a memory limit and a swap of -1 leave a swap limit: what does the swap file take for "no limit"?`).toBe(Infinity)
    }
  })

  it('a CPU quota alone, and a CPU period alone', () => {
    expect(resourceFiles({ cpu: { quota: 20000 } }, 1), 'v1, quota 20000 and no period').toEqual([['cpu', 'cpu.cfs_quota_us', '20000']])
    expect(resourceFiles({ cpu: { period: 200000 } }, 1), 'v1, period 200000 and no quota').toEqual([['cpu', 'cpu.cfs_period_us', '200000']])
    expect(resourceFiles({ cpu: { quota: 20000 } }, 2), 'v2, quota 20000 and no period: what does runc\'s fs2/cpu.go write to cpu.max, and which period does the kernel then use?').toEqual([['cpu', 'cpu.max', '20000']])
    expect(resourceFiles({ cpu: { period: 200000 } }, 2), 'v2, period 200000 and no quota: what does runc\'s fs2/cpu.go write to cpu.max?').toEqual([['cpu', 'cpu.max', 'max 200000']])
  })

  it('CPU shares 1024 on v1; shares 2, 1024 and 262144 on v2', () => {
    expect(resourceFiles({ cpu: { shares: 1024 } }, 1), 'v1, shares 1024').toEqual([['cpu', 'cpu.shares', '1024']])
    const weights = [2, 1024, 262144].map((shares) => byName(resourceFiles({ cpu: { shares } }, 2))['cpu.weight'])
    expect(weights, 'cpu.weight for shares 2, 1024 and 262144: what range does each version\'s file take, and how does runc 1.2 carry one onto the other? (cgroup-v2.rst, "cpu.weight"; runc 1.2\'s ConvertCPUSharesToCgroupV2Value in libcontainer/cgroups/utils.go: runc 1.3.2 and later map differently)').toEqual(['1', '39', '10000'])
  })

  for (const version of [1, 2] as const) {
    it(`v${version}: -1 for every limit`, () => {
      const files = resourceFiles(unlimited, version)
      const { refused, limits } = kernelModel(version, files)
      expect(refused, `${refused}: which word for "no limit" does that file take? Each controller's document says its own (${FILES})`).toBeUndefined()
      for (const limit of ['memory', version === 1 ? 'memsw' : 'swap', 'quota', 'pids'] as const)
        expect(limits[limit], `-1 asks for no limit, but after ${files.map(([, f, v]) => `${f} ${v}`).join(', ')} the ${limit} limit is ${limits[limit]}`).toBe(Infinity)
    })
  }

  it('v1: 80 ms per 200 ms below a parent limited to 0.5 CPU', () => {
    // 80 ms per 200 ms is 0.4 CPU, and the parent's is 0.5.
    const { refused, limits } = kernelModel(1, resourceFiles({ cpu: { quota: 80000, period: 200000 } }, 1), 0.5)
    expect(refused, `${refused}, below a parent limited to 0.5 CPU: what does the kernel check a new quota or period against, at the moment it is written? (${FILES}; kernel/sched/core.c, tg_set_cfs_bandwidth)`).toBeUndefined()
    expect(limits.quota / limits.period).toBe(0.4)
  })

  it('v1: memory 16 MiB, memory+swap 32 MiB', () => {
    const { refused } = kernelModel(1, resourceFiles({ memory: { limit: 16 * MiB, swap: 32 * MiB } }, 1))
    expect(refused, `${refused}: which limits did the cgroup hold at that write, and which rule of cgroup-v1/memory.rst ties the two files together? (${FILES})`).toBeUndefined()
  })

  it('a swap with no memory limit, with a memory limit of -1, and below the memory limit', async () => {
    for (const memory of [{ swap: 64 * MiB }, { limit: -1, swap: 64 * MiB }, { limit: 64 * MiB, swap: 32 * MiB }]) {
      for (const version of [1, 2] as const) {
        const error = await caught(() => resourceFiles({ memory }, version))
        const what = `v${version}, memory ${JSON.stringify(memory)}`
        expect(error, `${what} got no ContainerError: what does runc answer to it? (its ConvertMemorySwapToCgroupV2Value; runtime-spec config-linux.md, "Memory")`).toBeInstanceOf(ContainerError)
        expect(error.message, `${what}: the error must name both memory.swap and memory.limit`).toMatch(/memory\.swap.*memory\.limit|memory\.limit.*memory\.swap/)
      }
    }
  })
})

/**
 * A v1 cgroup made of plain files that answers writes as a v1 kernel would (kernelModel, from the
 * limits `start` and below a parent limited to `parentCpu` CPU): a refused write throws what
 * writeCgroupFile throws and changes nothing, an accepted one is written as the kernel shows it.
 */
function fakeV1(start: Partial<Limits>, parentCpu = Infinity) {
  const root = tempDir('fake-cgroup1-')
  const dirs = Object.fromEntries(V1_NAMES.map((c) => [c, join(root, c, 'minidocker/c1')])) as Cgroup['dirs']
  const NO_LIMIT = { memory: '9223372036854771712', cpu: '-1', pids: 'max' }
  const shown = (controller: 'memory' | 'cpu' | 'pids', n: number) => (n === Infinity ? NO_LIMIT[controller] : String(n))
  const show = (limits: Limits) => {
    writeFileSync(join(dirs.memory!, 'memory.limit_in_bytes'), shown('memory', limits.memory))
    writeFileSync(join(dirs.memory!, 'memory.memsw.limit_in_bytes'), shown('memory', limits.memsw))
    writeFileSync(join(dirs.cpu!, 'cpu.cfs_period_us'), String(limits.period))
    writeFileSync(join(dirs.cpu!, 'cpu.cfs_quota_us'), shown('cpu', limits.quota))
    writeFileSync(join(dirs.pids!, 'pids.max'), shown('pids', limits.pids))
  }
  for (const dir of Object.values(dirs)) mkdirSync(dir!, { recursive: true })
  const accepted: [Controller, string, string][] = []
  show(kernelModel(1, [], parentCpu, start).limits)
  hooks.watch = (path, value) => {
    const controller = V1_NAMES.find((c) => path.startsWith(`${dirs[c]}/`))
    const write: [Controller, string, string] = [controller ?? 'memory', path.slice(path.lastIndexOf('/') + 1), value]
    const { refused, limits } = kernelModel(1, [...accepted, write], parentCpu, start)
    if (refused) throw new ContainerError(`cannot write "${value}" to ${path}: EINVAL`, 125)
    accepted.push(write)
    show(limits)
  }
  onCleanup(() => void (hooks.watch = undefined))
  return { cgroup: { version: 1, dirs, removeOrder: [] } as Cgroup, writes: () => accepted.map(([, f, v]) => `${f} ${v}`), limits: () => kernelModel(1, accepted, parentCpu, start).limits }
}

const V1_NAMES: Controller[] = ['memory', 'cpu', 'cpuacct', 'pids']

describe('updating a v1 cgroup, on files that answer as a v1 kernel', () => {
  const memory = (limit: number, swap: number) => ({ memory: limit * MiB, memsw: swap * MiB })
  const cpu = (quota: number, period: number) => ({ quota: quota * 1000, period: period * 1000 })
  const cases: [string, Partial<Limits>, Resources, number][] = [
    ['memory 64 MiB with 128 MiB memory+swap, raised to 256 MiB with 512 MiB', memory(64, 128), { memory: { limit: 256 * MiB, swap: 512 * MiB } }, Infinity],
    ['memory 64 MiB with 128 MiB memory+swap, lowered to 16 MiB with 32 MiB', memory(64, 128), { memory: { limit: 16 * MiB, swap: 32 * MiB } }, Infinity],
    ['a 50 ms quota per 100 ms period, changed to 20 ms per 50 ms below a 0.5 CPU parent', cpu(50, 100), { cpu: { quota: 20000, period: 50000 } }, 0.5],
    ['a 20 ms quota per 50 ms period, changed to 50 ms per 100 ms below a 0.5 CPU parent', cpu(20, 50), { cpu: { quota: 50000, period: 100000 } }, 0.5],
  ]
  for (const [name, start, after, parentCpu] of cases) {
    it(`fake v1: ${name}`, async () => {
      const fake = fakeV1(start, parentCpu)
      const error = await caught(() => updateCgroup(fake.cgroup, after))
      expect(error?.message, `the update was refused after ${fake.writes().join(', ') || 'no write'} (${error?.message}): which limits are in force at each of your writes, on a cgroup that is not new? (the chapter's "Changing the limits of a running container")`).toBeUndefined()
      // what a new cgroup gets with the new limits: each case changes every limit its start set
      const want = kernelModel(1, resourceFiles(after, 1)).limits
      expect(fake.writes().length, 'no write reached writeCgroupFile (given), through which the tests watch a cgroup\'s writes').toBeGreaterThan(0)
      expect(fake.limits(), `the limits after ${fake.writes().join(', ')}`).toEqual(want)
    })
  }

  it('fake v1: an update refused half-way, a quota under the kernel\'s minimum', async () => {
    const start: Partial<Limits> = { ...memory(64, 128), ...cpu(50, 100), pids: 32 }
    const fake = fakeV1(start)
    const error = await caught(() => updateCgroup(fake.cgroup, { memory: { limit: 16 * MiB, swap: 32 * MiB }, cpu: { quota: 500, period: 50000 }, pids: { limit: 16 } }))
    expect(error?.message, 'an update with a quota of 500 µs resolved: what did the kernel answer to that write, and where did its answer go?').toBeDefined()
    expect(error.message, `the error of a refused update must name the file and the value refused (${error.message})`).toMatch(/"500".*cpu\.cfs_quota_us/)
    expect(fake.limits(), `the limits after ${fake.writes().join(', ')}, and a refusal: the container runs on with which limits? (the chapter's "Changing the limits of a running container")`).toEqual(kernelModel(1, [], Infinity, start).limits)
  })
})

describe('cgroup v2, on a directory laid out like one', () => {
  /** A fake cgroup2 root: the files the kernel shows at the root of a fresh v2 hierarchy, as plain files. */
  function fakeV2(): string {
    const root = tempDir('fake-cgroup2-')
    const files = {
      'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cgroup.max.depth': 'max\n', 'cgroup.max.descendants': 'max\n',
      'cgroup.procs': '', 'cgroup.threads': '', 'cgroup.stat': 'nr_descendants 3\nnr_dying_descendants 0\n',
    }
    for (const [file, text] of Object.entries(files)) writeFileSync(join(root, file), text)
    mkdirSync(join(root, 'user.slice/user-0.slice/session-1.scope'), { recursive: true })
    return root
  }

  it('a fake cgroup2 root, and a plain directory', () => {
    expect(cgroupVersion(fakeV2()), 'the fake cgroup2 root').toBe(2)
    expect(cgroupVersion(tempDir()), 'a plain directory').toBe(1)
  })

  it('memory, swap, CPU and pids limits at minidocker/c1', async () => {
    const root = fakeV2()
    const spec = limitedSpec([], { memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 32 } })
    spec.linux!.cgroupsPath = 'minidocker/c1'
    const cgroup = await createCgroup(spec, { root, self: V2_SELF })
    const leaf = join(root, 'user.slice/user-0.slice/minidocker/c1')
    const read = (path: string) => {
      const file = join(root, 'user.slice/user-0.slice', path)
      return existsSync(file) ? readFileSync(file, 'utf8').trim() : `(${path} was never written)`
    }
    expect(cgroup.version).toBe(2)
    expect(cgroup.dirs.memory).toBe(leaf)
    for (const parent of ['cgroup.subtree_control', 'minidocker/cgroup.subtree_control'])
      expect(read(parent).split(' ').sort(), `${parent}: when do a cgroup's children get a controller's files? (cgroup-v2.rst, "Enabling and Disabling")`).toEqual(['+cpu', '+memory', '+pids'])
    expect(read('minidocker/c1/memory.max'), 'memory.max').toBe(String(64 * MiB))
    expect(read('minidocker/c1/memory.swap.max'), 'memory.swap.max').toBe('0')
    expect(read('minidocker/c1/cpu.max'), 'cpu.max').toBe('50000 100000')
    expect(read('minidocker/c1/pids.max'), 'pids.max').toBe('32')
    await joinCgroup(cgroup, 4242)
    expect(read('minidocker/c1/cgroup.procs'), 'cgroup.procs after joining PID 4242').toBe('4242')
    writeFileSync(join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n')
    expect(await oomKilled(cgroup), 'oomKilled, with oom_kill 1 in memory.events').toBe(true)
  })

  it('parents that already enable some controllers', async () => {
    const root = fakeV2()
    // The kernel lists enabled controllers without "+"; a file we never wrote keeps its text.
    writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu memory pids\n')
    writeFileSync(join(root, 'user.slice/cgroup.subtree_control'), 'memory\n')
    const spec = limitedSpec([], { memory: { limit: 64 * MiB }, pids: { limit: 32 } })
    spec.linux!.cgroupsPath = 'minidocker/c2'
    await createCgroup(spec, { root, self: V2_SELF })
    const read = (dir: string) => readFileSync(join(root, dir, 'cgroup.subtree_control'), 'utf8').trim()
    expect(read('.'), 'the root\'s cgroup.subtree_control, which listed cpu memory pids: what did you write to it? (cgroup-v2.rst, "Enabling and Disabling")').toBe('cpu memory pids')
    expect(read('user.slice'), 'user.slice\'s cgroup.subtree_control, which listed memory: what did you write to it?').toBe('+pids')
    expect(read('user.slice/user-0.slice').split(' ').sort(), 'user-0.slice\'s cgroup.subtree_control, never written before').toEqual(['+memory', '+pids'])
  })

  it('a pids limit alone, and no limits at all', async () => {
    const root = fakeV2()
    const spec = probeSpec([])
    spec.linux!.resources = { pids: { limit: 32 } }
    spec.linux!.cgroupsPath = 'minidocker/c3'
    await createCgroup(spec, { root, self: V2_SELF })
    const subtree = (dir: string) => {
      const file = join(root, dir, 'cgroup.subtree_control')
      return existsSync(file) ? readFileSync(file, 'utf8').trim() : '(never written)'
    }
    for (const dir of ['.', 'user.slice', 'user.slice/user-0.slice', 'user.slice/user-0.slice/minidocker'])
      expect(subtree(dir), `${dir}/cgroup.subtree_control, with a pids limit alone: what does each controller enabled cost? (createCgroup's TODO; cgroup-v2.rst, "Enabling and Disabling")`).toBe('+pids')
    const bare = probeSpec([])
    bare.linux!.cgroupsPath = 'minidocker/c4'
    const other = fakeV2()
    await createCgroup(bare, { root: other, self: V2_SELF })
    expect(existsSync(join(other, 'cgroup.subtree_control')), 'the root\'s cgroup.subtree_control, with no limits at all').toBe(false)
  })

  it('removal with the caller alone in /lonely/caller', async () => {
    const root = fakeV2()
    // The caller's /proc/self/cgroup names /lonely/caller; /lonely was there before the container.
    mkdirSync(join(root, 'lonely'))
    const spec = probeSpec([])
    spec.linux!.cgroupsPath = 'minidocker/c5'
    const cgroup = await createCgroup(spec, { root, self: '0::/lonely/caller\n' })
    await removeCgroup(cgroup)
    expect(existsSync(join(root, 'lonely/minidocker/c5')), 'the leaf is still there').toBe(false)
    expect(existsSync(join(root, 'lonely/minidocker')), 'lonely/minidocker, named by cgroupsPath and now empty, is still there: which directories are a container\'s to remove? (the chapter\'s "Removing it")').toBe(false)
    expect(existsSync(join(root, 'lonely')), 'lonely/, there before createCgroup, was removed by removeCgroup: whose directory is it? (the chapter\'s "Removing it")').toBe(true)
  })

  it('an update whose last write fails, on the fake tree', async () => {
    const root = fakeV2()
    const spec = limitedSpec([], { memory: { limit: 64 * MiB, swap: 128 * MiB }, cpu: { quota: 50000, period: 100000 } })
    spec.linux!.cgroupsPath = 'minidocker/c6'
    const cgroup = await createCgroup(spec, { root, self: V2_SELF })
    const leaf = cgroup.dirs.memory!
    const before = Object.fromEntries(['memory.max', 'memory.swap.max', 'cpu.max'].map((f) => [f, readFileSync(join(leaf, f), 'utf8')]))
    // A cpu.max that reads like any file and refuses every write, as a kernel refuses a value.
    rmSync(join(leaf, 'cpu.max'))
    symlinkSync('/proc/version', join(leaf, 'cpu.max'))
    before['cpu.max'] = readFileSync(join(leaf, 'cpu.max'), 'utf8')
    const error = await caught(() => updateCgroup(cgroup, { memory: { limit: 256 * MiB, swap: 512 * MiB }, cpu: { quota: 20000, period: 50000 } }))
    expect(error?.message, 'updateCgroup resolved although cpu.max refused its write').toBeDefined()
    expect(error.message, `the error of a refused update must name the file that refused (${error.message})`).toMatch(/cpu\.max/)
    for (const [file, text] of Object.entries(before))
      expect(readFileSync(join(leaf, file), 'utf8'), `${file} after an update that cpu.max refused: the container runs on with which limits? (the chapter's "Changing the limits of a running container")`).toBe(text)
  })
})

// The title names the host's version without calling chapter code while tests are collected:
// stat(1) names the filesystem mounted there, as `stat -fc %T /sys/fs/cgroup` does in a shell.
const fsType = (dir: string) => (existsSync(dir) ? execFileSync('stat', ['-fc', '%T', dir], { encoding: 'utf8' }).trim() : 'none')
const HOST_V2 = fsType(CGROUP_ROOT) === 'cgroup2fs'
const HOST_VERSION = HOST_V2 ? 'v2' : 'v1 (or hybrid)'
/** A cgroup2 tree: the whole hierarchy on a v2 host, root/unified on a hybrid one. */
const V2_TREE = [CGROUP_ROOT, join(CGROUP_ROOT, 'unified')].find((dir) => fsType(dir) === 'cgroup2fs')

describeKernel(`limits in a real cgroup (${HOST_VERSION} on this machine)`, () => {
  const ownPath = (controller: Controller) => readFileSync('/proc/self/cgroup', 'utf8').match(hierarchyLine(HOST_V2 ? '' : controller))![1]!

  it('a pids limit, with a relative cgroupsPath', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 64 } })
    const { cgroup } = await runLimited(spec, () => {})
    const base = HOST_V2 ? join(CGROUP_ROOT, dirname(ownPath('pids'))) : join(CGROUP_ROOT, 'memory', ownPath('memory'))
    expect(cgroup.dirs.memory!.startsWith(`${base}/`), `${cgroup.dirs.memory} is not below the caller's own cgroup ${base} (/proc/self/cgroup)`).toBe(true)
  })

  it('the probe\'s first step reads /proc/self/cgroup', async () => {
    const { cgroup, stdout } = await runLimited(limitedSpec(['cgroup', 'exit:0'], { pids: { limit: 64 } }))
    for (const { controller, seen, path } of wrongLines(probeValue<string>(stdout, 'cgroup'), expectedPaths(cgroup)))
      expect.fail(`the probe's first instruction ran in ${controller || 'v2'} cgroup ${seen}, not in the container's ${path}: was the process that execs in this hierarchy's cgroup when forkIntoCgroup resolved? (chapter text: "No window without limits")`)
  })

  it('a fork that resolves to undefined', async () => {
    const spec = limitedSpec(['cgroup', 'exit:0'], { pids: { limit: 64 } })
    let cgroup: Cgroup | undefined
    let run: Run | undefined
    await withCgroup(spec, async (cg) => {
      cgroup = cg
      run = await runCaptured(spec, (h) => forkIntoCgroup(h, cg, async () => undefined))
      return run.code
    })
    for (const { path } of wrongLines(probeValue<string>(run!.stdout, 'cgroup'), expectedPaths(cgroup!)))
      expect.fail(`fork resolved to undefined, and the probe ran outside ${path}: with nothing forked, which process execs it?`)
  })

  it(`the cgroup2 tree of this machine (${V2_TREE ?? 'none'}), no limits`, async () => {
    expect(V2_TREE, 'this machine mounts no cgroup2 tree, neither at /sys/fs/cgroup nor at /sys/fs/cgroup/unified').toBeDefined()
    const spec = limitedSpec(['cgroup', 'exit:0'], {}) // no controllers: a hybrid host's tree may offer none
    let cgroup: Cgroup | undefined
    let run: Run | undefined
    await withCgroup(spec, async (cg) => {
      cgroup = cg
      run = await runCaptured(spec, (h) => forkIntoCgroup(h, cg, () => enterNamespaces(h, spec)))
      return run.code
    }, { root: V2_TREE })
    expect(cgroup!.version, `the version of ${V2_TREE}, a cgroup2 mount`).toBe(2)
    const path = cgroup!.dirs.pids!.slice(V2_TREE!.length)
    for (const { seen } of wrongLines(probeValue<string>(run!.stdout, 'cgroup'), new Map([['', path]])))
      expect.fail(`the probe's first instruction ran in v2 cgroup ${seen}, not in ${path} of the v2 tree`)
    expect(existsSync(cgroup!.dirs.pids!), `${cgroup!.dirs.pids} is still there after the run`).toBe(false)
  })

  it('fork:20 under pids.max 8', async () => {
    const { stdout } = await runLimited(limitedSpec(['fork:20'], { pids: { limit: 8 } }))
    const forked = probeValue<number>(stdout, 'forked')
    const why = forked > 7
      ? 'the limit did not hold: was the process in the cgroup before exec?'
      : 'a process that is not the container\'s counts against its limit: which processes are in the cgroup for the whole run? (draw chapter 02\'s processes; the chapter\'s "No window without limits")'
    expect(forked, `PID 1 forked ${forked} children under pids.max 8 (PID 1 + 7 expected): ${why}`).toBe(7)
    expect(probeValue(stdout, 'error'), 'the errno of the fork past the limit').toBe('EAGAIN')
  })

  it('alloc:64 under a 16 MiB memory limit', async () => {
    const spec = limitedSpec(['alloc:64'], { memory: { limit: 16 * MiB, swap: 16 * MiB } })
    const { code, oomKilled: oom } = await runLimited(spec)
    expect(code, 'the exit code of alloc:64 under a 16 MiB limit').toBe(137)
    expect(oom, 'the run did not report the OOM kill: where does the kernel count it, and is that still there when you read it?').toBe(true)
  })

  it('alloc:4 under a 64 MiB memory limit', async () => {
    const { code, oomKilled: oom, stdout } = await runLimited(limitedSpec(['alloc:4'], { memory: { limit: 64 * MiB, swap: 64 * MiB } }))
    expect(code, 'the exit code').toBe(0)
    expect(probeValue(stdout, 'allocated_mib'), 'MiB allocated').toBe(4)
    expect(oom, 'oomKilled').toBe(false)
  })

  it('burn:1000 under a 20 ms / 100 ms quota', async () => {
    let usageMs = 0
    const spec = limitedSpec(['burn:1000'], { cpu: { quota: 20000, period: 100000 } })
    const { stdout } = await runLimited(spec, (cg) => {
      usageMs = cg.version === 1
        ? Number(readFileSync(join(cg.dirs.cpuacct!, 'cpuacct.usage'), 'utf8')) / 1e6
        : readKeyed(join(cg.dirs.cpu!, 'cpu.stat')).usage_usec! / 1e3
    })
    const share = usageMs / probeValue<number>(stdout, 'burned_ms')
    console.log(`cpu share under a 0.2 quota: ${share.toFixed(3)}`)
    // Generous bounds: other work on a shared machine can only lower the share, never raise it.
    expect(share, `the cgroup used ${usageMs.toFixed(0)} ms of CPU in 1000 ms: expected about 0.2 CPU — are cpu.cfs_period_us/cfs_quota_us (v1) or cpu.max (v2) written?`).toBeLessThan(0.35)
    expect(share, 'the cgroup\'s own CPU counter barely moved: is the probe in the cgroup before it execs?').toBeGreaterThan(0.05)
  })

  it('after the container exits', async () => {
    const spec = limitedSpec(['exit:3'], { pids: { limit: 8 } })
    spec.linux!.cgroupsPath += '/c' // a parent of this test's own: minidocker-test/ may hold other runs
    const { cgroup } = await runLimited(spec)
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there after the container exited`).toBe(false)
    for (const dir of dirsOf(cgroup)) expect(existsSync(dirname(dir)), `${dirname(dir)} (made for this cgroup) is still there`).toBe(false)
  })

  it('a start that fails with exec\'s error', async () => {
    let cgroup: Cgroup | undefined
    const spec = limitedSpec(['exit:0'], { pids: { limit: 8 } })
    const error = await caught(() => withCgroup(spec, async (cg) => {
      cgroup = cg
      throw new ContainerError('exec: "nothing": executable file not found in $PATH', 127)
    }))
    expect(error.message, 'the error withCgroup threw').toMatch(/executable file not found/)
    for (const dir of dirsOf(cgroup!)) expect(existsSync(dir), `${dir} is still there after a failed start`).toBe(false)
  })

  it('a CPU quota of 1 µs, below the kernel\'s minimum', async () => {
    const spec = limitedSpec(['exit:0'], { cpu: { quota: 1, period: 100000 } }) // the kernel's minimum quota is 1000
    const error = await caught(() => createCgroup(spec))
    expect(error?.message, 'the error must name the file that refused the value').toMatch(/cpu\.(cfs_quota_us|max)/)
    const leftovers = Object.values(cgroupDirs(spec.linux!.cgroupsPath!, cgroupVersion(), CGROUP_ROOT, readFileSync('/proc/self/cgroup', 'utf8')))
    for (const dir of leftovers) expect(existsSync(dir), `${dir} is left after createCgroup failed`).toBe(false)
  })

  it('every limit -1, on this machine\'s kernel', async () => {
    const spec = limitedSpec(['exit:0'], { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100000 }, pids: { limit: -1 } })
    const error = await caught(async () => removeCgroup(await createCgroup(spec)))
    expect(error?.message, `the kernel refused "no limit" (${error?.message}): each file documents its own word for it (Documentation/admin-guide/cgroup-v1/ or cgroup-v2.rst)`).toBeUndefined()
  })

  it('a 0.4 CPU limit (80 ms per 200 ms) below a parent limited to 0.5 CPU', async () => {
    const parent = limitedSpec(['exit:0'], { cpu: { quota: 50000, period: 100000 } })
    const child = limitedSpec(['exit:0'], { cpu: { quota: 80000, period: 200000 } })
    child.linux!.cgroupsPath = `${parent.linux!.cgroupsPath}/c`
    const outer = await createCgroup(parent)
    const error = await caught(async () => removeCgroup(await createCgroup(child)))
    await removeCgroup(outer)
    expect(error?.message, `a 0.4 CPU limit below a 0.5 CPU parent was refused (${error?.message}): what does the kernel check a new quota against, at the moment it is written? (kernel/sched/core.c, tg_set_cfs_bandwidth; runc's fs/cpu.go)`).toBeUndefined()
  })

  it('two containers below one parent, removed one after the other', async () => {
    const shared = testCgroupPath()
    const specs = ['a', 'b'].map((name) => {
      const spec = probeSpec([])
      spec.linux!.resources = { pids: { limit: 8 } }
      spec.linux!.cgroupsPath = `${shared}/${name}`
      return spec
    })
    const first = await createCgroup(specs[0]!)
    const second = await createCgroup(specs[1]!)
    const started = Date.now()
    const error = await caught(() => removeCgroup(first))
    const waited = Date.now() - started
    expect(error?.message, `removing the first container failed (${error?.message}) while the second still uses their shared parent: whose is that parent, and is a refusal there a failure? (the chapter's "Removing it")`).toBeUndefined()
    expect(waited, `removing the first container took ${waited} ms while the second still uses their shared parent: which of rmdir's refusals goes away by waiting? (the chapter's "Removing it")`).toBeLessThan(500)
    for (const dir of dirsOf(second)) expect(existsSync(dir), `${dir}, the other container's cgroup, is gone after the first one's removal`).toBe(true)
    await removeCgroup(second)
    for (const dir of dirsOf(second))
      expect(existsSync(dirname(dir)), `${dirname(dir)}, shared by both, is still there after both ended: which directories are each container's to remove? (the chapter's "Removing it")`).toBe(false)
  })

  it('removeCgroup while a process stays inside for 100 ms more', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 8 } })
    const cgroup = await createCgroup(spec)
    const helper = startHelper()
    await joinCgroup(cgroup, helper.pid)
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'sleep:100'], [])
    const error = await caught(() => removeCgroup(cgroup))
    expect(error?.message, `removeCgroup gave up (${error?.message}) while a process was still inside for 100 ms more: which of rmdir's refusals goes away by itself? (kernel/cgroup/cgroup.c, cgroup_destroy_locked)`).toBeUndefined()
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there after removeCgroup resolved`).toBe(false)
  })
})

describeKernel(`containers that share a parent at the same time (${HOST_VERSION} on this machine)`, () => {
  const RACE = 'the chapter\'s "Creating it, and undoing a failure" and "Removing it"'
  /** A spec with a pids limit for the container `name` below `parent`. */
  const sharing = (parent: string, name: string) => {
    const spec = probeSpec([])
    spec.linux!.resources = { pids: { limit: 8 } }
    spec.linux!.cgroupsPath = `${parent}/${name}`
    return spec
  }
  /** From now until the test ends, run `step` between the file-system steps of the code under test below `base`. */
  const between = (base: string, step: () => void) => {
    Object.assign(race.state, { below: `/${base}`, step })
    onCleanup(() => void Object.assign(race.state, { below: '', step: undefined }))
  }
  const stop = () => void (race.state.step = undefined)

  it('a shared parent that the last other container removes between the create\'s steps', async () => {
    const base = testCgroupPath()
    const other = await createCgroup(sharing(`${base}/shared`, 'b'))
    // Where the parents are in each hierarchy: below the caller's cgroup (v1) or beside it (v2).
    const parents = hierarchies().flatMap(({ mount, own }) => [own, dirname(own)].flatMap((b) => [join(mount, b, base, 'shared'), join(mount, b, base)]))
    let removals = 0
    // Container b leaves, the last one out: its cgroup goes, then the parents it shared with this
    // one, each while it is empty; and again at later steps, twenty removals at most, as further
    // containers that come and go would.
    between(base, () => {
      for (const dir of [...dirsOf(other), ...parents]) {
        if (removals >= 20) return
        try {
          rmdirSync(dir)
          removals++
        } catch {
          // in use, or not there
        }
      }
    })
    const error = await caught(() => createCgroup(sharing(`${base}/shared`, 'a')))
    stop()
    expect(error?.message, `createCgroup failed (${error?.message}) while another container, the last of those below the same parent, removed that parent: what can happen to a parent between two of your steps, and what does a step that finds it gone do? (${RACE})`).toBeUndefined()
    expect(removals, 'no parent was ever removed between the steps of createCgroup: does it make its directories through node:fs?').toBeGreaterThan(0)
  })

  it('containers that come and go below one parent while one is created, joined and removed', async () => {
    const base = testCgroupPath()
    const parent = `${base}/shared`
    const others: [string, Cgroup][] = []
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']) others.push([name, await createCgroup(sharing(parent, name))])
    const failures: string[] = []
    const settled: Promise<unknown>[] = []
    const arrived: [string, Cgroup | undefined][] = []
    let script: ('leaves' | 'arrives')[] = ['leaves', 'leaves', 'leaves']
    // At each step of the code under test, the script's next container leaves (or arrives).
    between(base, () => {
      const action = script.shift()
      if (action === 'leaves') {
        const [name, cgroup] = others.shift()!
        for (const dir of dirsOf(cgroup).filter((d) => !existsSync(d)))
          failures.push(`${dir}, container ${name}'s cgroup, was gone while ${name} still ran: whose directories may a removal take? (${RACE})`)
        settled.push(removeCgroup(cgroup).catch((e: Error) => failures.push(`removing container ${name} failed (${e.message}) while others came and went below its parent: which of rmdir's answers are a failure for a parent you share? (${RACE})`)))
      } else if (action === 'arrives') {
        const name = `d${arrived.length + 1}`
        const entry: [string, Cgroup | undefined] = [name, undefined]
        arrived.push(entry)
        settled.push(createCgroup(sharing(parent, name)).then((cgroup) => void (entry[1] = cgroup), (e: Error) =>
          failures.push(`creating container ${name} failed (${e.message}) while another was removed below the same parent: what can happen to a parent between two of your steps? (${RACE})`)))
      }
    })
    let a: Cgroup | undefined
    const failed = await caught(async () => void (a = await createCgroup(sharing(parent, 'a'))))
    expect(failed?.message, `createCgroup of container a failed (${failed?.message}) while others left the same parent: what can happen to a parent between two of your steps? (${RACE})`).toBeUndefined()
    for (const dir of dirsOf(a!)) expect(existsSync(dir), `${dir}, container a's cgroup, is not there after its createCgroup resolved, while others left the same parent: whose directories may a removal take? (${RACE})`).toBe(true)
    const helper = startHelper()
    await joinCgroup(a!, helper.pid)
    for (const { controller, seen, path } of wrongLines(readFileSync(`/proc/${helper.pid}/cgroup`, 'utf8'), expectedPaths(a!)))
      expect.fail(`a process joined to container a shows ${seen} for ${controller || 'v2'}, not ${path}, after others left the same parent (${RACE})`)
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'exit:0'], [])
    // Its own leaf empty again, so that what happens to the parents depends on the others alone.
    for (let i = 0; i < 300 && readFileSync(join(a!.dirs.pids!, 'cgroup.procs'), 'utf8').trim() !== ''; i++) await sleep(10)
    script = ['leaves', 'leaves', 'leaves', 'arrives', 'arrives']
    const error = await caught(() => removeCgroup(a!))
    stop()
    await Promise.all(settled)
    for (const failure of failures) expect.fail(failure)
    expect(error?.message, `removing container a failed (${error?.message}) while others came and went below the same parent: which of rmdir's answers are a failure for a parent you share? (${RACE})`).toBeUndefined()
    for (const dir of dirsOf(a!)) expect(existsSync(dir), `${dir}, container a's cgroup, is still there after removeCgroup resolved`).toBe(false)
    for (const [name, cgroup] of arrived) {
      for (const dir of dirsOf(cgroup!)) expect(existsSync(dir), `${dir}, container ${name}'s cgroup, made while container a was removed, is gone: whose directories may a removal take? (${RACE})`).toBe(true)
      await removeCgroup(cgroup!)
    }
    for (const leaf of dirsOf(a!))
      for (const dir of [dirname(leaf), dirname(dirname(leaf))])
        expect(existsSync(dir), `${dir} is still there after every container below it was removed: which directories does the last one out remove, whoever made them? (${RACE})`).toBe(false)
  })
})

/** The limit files of a cgroup, as its kernel shows them: those of this version that exist. */
function limitsOf(cgroup: Cgroup): Record<string, string> {
  const files: [Controller, string][] = cgroup.version === 1
    ? [['memory', 'memory.limit_in_bytes'], ['memory', 'memory.memsw.limit_in_bytes'], ['cpu', 'cpu.cfs_period_us'], ['cpu', 'cpu.cfs_quota_us'], ['pids', 'pids.max']]
    : [['memory', 'memory.max'], ['memory', 'memory.swap.max'], ['cpu', 'cpu.max'], ['pids', 'pids.max']]
  const existing = files.map(([c, file]) => join(cgroup.dirs[c]!, file)).filter((path) => existsSync(path))
  return Object.fromEntries(existing.map((path) => [path.slice(path.lastIndexOf('/') + 1), readFileSync(path, 'utf8').trim()]))
}

/** Resources in a few words, for messages. */
function inWords({ memory, cpu, pids }: Resources): string {
  const mib = (n: number) => `${n / MiB} MiB`
  return [
    memory?.limit && `memory ${mib(memory.limit)}`, memory?.swap && `memory+swap ${mib(memory.swap)}`,
    cpu?.quota && `quota ${cpu.quota / 1000} ms`, cpu?.period && `period ${cpu.period / 1000} ms`, pids?.limit && `pids ${pids.limit}`,
  ].filter(Boolean).join(', ')
}

describeKernel(`changing the limits of a running container (${HOST_VERSION} on this machine)`, () => {
  /** A spec for the cgroup at `path` with `resources`. */
  const at = (path: string, resources: Resources) => {
    const spec = probeSpec([])
    spec.linux!.resources = resources
    spec.linux!.cgroupsPath = path
    return spec
  }

  /**
   * A cgroup created with `before` and updated to `after`, and one created with `after` beside
   * it, below a parent created with `parent`: the update must leave what a fresh cgroup gets.
   */
  async function expectUpdate(before: Resources, after: Resources, parent: Resources = {}) {
    const base = testCgroupPath()
    const outer = await createCgroup(at(base, parent))
    const live = await createCgroup(at(`${base}/live`, before))
    const fresh = await createCgroup(at(`${base}/fresh`, after))
    const where = parent.cpu ? ` below a parent with ${inWords(parent)}` : ''
    const error = await caught(() => updateCgroup(live, after))
    expect(error?.message, `updating ${inWords(before)} to ${inWords(after)}${where} was refused (${error?.message}): which limits are in force at each of your writes, on a cgroup that is not new? (the chapter's "Changing the limits of a running container")`).toBeUndefined()
    const [seen, wanted] = [limitsOf(live), limitsOf(fresh)]
    for (const file of Object.keys(wanted))
      expect(seen[file], `${file} after updating ${inWords(before)} to ${inWords(after)}${where} reads ${seen[file]}, where a cgroup created with the new limits reads ${wanted[file]}`).toBe(wanted[file])
    for (const cgroup of [live, fresh, outer]) await removeCgroup(cgroup)
  }

  const memory = (limit: number, swap: number): Resources => ({ memory: { limit: limit * MiB, swap: swap * MiB } })
  const cpu = (quota: number, period: number): Resources => ({ cpu: { quota: quota * 1000, period: period * 1000 } })

  it('memory 64 MiB with 128 MiB memory+swap, raised to 256 MiB with 512 MiB', () => expectUpdate(memory(64, 128), memory(256, 512)))
  it('memory 64 MiB with 128 MiB memory+swap, lowered to 16 MiB with 32 MiB', () => expectUpdate(memory(64, 128), memory(16, 32)))
  it('a 50 ms quota per 100 ms period, changed to 20 ms per 50 ms below a 0.5 CPU parent', () => expectUpdate(cpu(50, 100), cpu(20, 50), cpu(50, 100)))
  it('a 20 ms quota per 50 ms period, changed to 50 ms per 100 ms below a 0.5 CPU parent', () => expectUpdate(cpu(20, 50), cpu(50, 100), cpu(50, 100)))
  it('memory, CPU and pids changed at once, with a process inside', async () => {
    const before: Resources = { ...memory(64, 128), ...cpu(50, 100), pids: { limit: 32 } }
    const after: Resources = { ...memory(256, 512), ...cpu(20, 50), pids: { limit: 16 } }
    const base = testCgroupPath()
    const live = await createCgroup(at(`${base}/live`, before))
    const fresh = await createCgroup(at(`${base}/fresh`, after))
    const helper = startHelper()
    await joinCgroup(live, helper.pid)
    const error = await caught(() => updateCgroup(live, after))
    expect(error?.message, `updating ${inWords(before)} to ${inWords(after)} was refused (${error?.message})`).toBeUndefined()
    const [seen, wanted] = [limitsOf(live), limitsOf(fresh)]
    for (const file of Object.keys(wanted)) expect(seen[file], `${file} after the update`).toBe(wanted[file])
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'exit:0'], [])
    for (const cgroup of [live, fresh]) await removeCgroup(cgroup)
  })

  it('an update the kernel refuses half-way: a quota under its minimum', async () => {
    const before: Resources = { ...memory(64, 128), ...cpu(50, 100), pids: { limit: 32 } }
    const after: Resources = { ...memory(16, 32), cpu: { quota: 500, period: 50000 }, pids: { limit: 16 } }
    const live = await createCgroup(at(testCgroupPath(), before))
    const old = limitsOf(live)
    const error = await caught(() => updateCgroup(live, after))
    expect(error?.message, `updating to a quota of 500 µs, under the kernel's minimum, resolved: what did the kernel answer to that write, and where did its answer go?`).toBeDefined()
    expect(error.message, `the error of a refused update must name the file and the value refused (${error.message})`).toMatch(/500.*cpu\.(cfs_quota_us|max)|cpu\.(cfs_quota_us|max).*500/)
    const now = limitsOf(live)
    for (const file of Object.keys(old))
      expect(now[file], `${file} reads ${now[file]} after an update the kernel refused, and read ${old[file]} before it: the container runs on with which limits? (the chapter's "Changing the limits of a running container")`).toBe(old[file])
    await removeCgroup(live)
  })
})
