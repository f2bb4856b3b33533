import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import {
  CGROUP_ROOT, cgroupDirs, cgroupVersion, createCgroup, forkIntoCgroup, joinCgroup, oomKilled, readKeyed, removeCgroup,
  resourceFiles, withCgroup, type Cgroup, type Controller,
} from '#ch/04-cgroups/cgroups.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { probeSpec, runCaptured, type Run } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'

const MiB = 1024 * 1024

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

/** Each hierarchy's path in a /proc/PID/cgroup text, by controller; v2's line under "". */
function parseCgroups(text: string): Map<string, string> {
  const paths = new Map<string, string>()
  for (const line of text.split('\n').filter(Boolean)) {
    const [, controllers, ...path] = line.split(':')
    for (const c of controllers === '' ? [''] : controllers!.split(',')) paths.set(c, path.join(':'))
  }
  return paths
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
  it('nests a relative path under the caller\'s own cgroup of each v1 hierarchy', () => {
    expect(cgroupDirs('minidocker/c1', 1, '/cg', V1_SELF), 'a relative cgroupsPath goes below the caller\'s own cgroup of each hierarchy (its line of /proc/self/cgroup), never at the root').toEqual({
      memory: '/cg/memory/user/1000/minidocker/c1',
      cpu: '/cg/cpu/batch/minidocker/c1',
      cpuacct: '/cg/cpuacct/batch/minidocker/c1',
      pids: '/cg/pids/minidocker/c1',
    })
  })

  it('on v2 nests where the caller\'s limits hold and controllers can be handed down', () => {
    const dir = '/cg/user.slice/user-0.slice/minidocker/c1'
    const dirs = cgroupDirs('minidocker/c1', 2, '/cg', V2_SELF)
    expect(Object.keys(dirs).sort(), 'v2 has memory, cpu and pids but no cpuacct controller (its cpu controller counts CPU time in cpu.stat): a cpuacct entry would name a controller v2 lacks').toEqual(['cpu', 'memory', 'pids'])
    expect(dirs, 'v2: the caller\'s own cgroup holds processes and so may not enable controllers for children (no internal processes), and the container\'s must stay within the caller\'s limits: where does runc\'s fs2/defaultpath.go nest it?').toEqual({ memory: dir, cpu: dir, pids: dir })
  })

  it('takes an absolute cgroupsPath from the root of the hierarchy', () => {
    expect(cgroupDirs('/docker/c1', 1, '/cg', V1_SELF).memory).toBe('/cg/memory/docker/c1')
    expect(cgroupDirs('/docker/c1', 2, '/cg', V2_SELF).pids).toBe('/cg/docker/c1')
  })

  it('says so when /proc/self/cgroup has no line for a controller', async () => {
    expect(await caught(() => cgroupDirs('x', 1, '/cg', '0::/\n')), 'no memory line: a ContainerError, not a crash').toBeInstanceOf(ContainerError)
  })
})

/** The limits a kernel holds after a run of writes; Infinity is "no limit". */
interface Limits { memory: number; memsw: number; swap: number; quota: number; period: number; pids: number }

/**
 * What a kernel makes of resourceFiles' writes, in their order: each file's parser, and on v1 the
 * checks across files (mm/memcontrol.c keeps memory+swap at or above memory after every write;
 * kernel/sched/core.c checks a new quota against the period in force and the parent's share of
 * CPU). Resolves to the first refusal, or to the limits set.
 */
function kernelModel(version: 1 | 2, files: [Controller, string, string][], parentCpu = Infinity): { refused?: string; limits: Limits } {
  const limits: Limits = { memory: Infinity, memsw: Infinity, swap: Infinity, quota: Infinity, period: 100000, pids: Infinity }
  const written: string[] = []
  const bytesOrNone = (n: number) => (n === Infinity ? 'no limit' : String(n))
  const number = (value: string, none: string) => (value === none ? Infinity : /^\d+$/.test(value) ? Number(value) : NaN)
  for (const [, file, value] of files) {
    const refuse = (why: string) => ({
      refused: `a v${version} kernel refuses "${value}" in ${file} with EINVAL${written.length ? ` (after ${written.join(', ')})` : ''}: ${why}`,
      limits,
    })
    const docs = version === 1 ? 'Documentation/admin-guide/cgroup-v1/' : 'Documentation/admin-guide/cgroup-v2.rst'
    if (file === 'memory.limit_in_bytes' || file === 'memory.memsw.limit_in_bytes') {
      const bytes = number(value, '-1')
      if (Number.isNaN(bytes)) return refuse(`it takes a number of bytes, or this file's own word for "no limit": see ${docs}memory.rst`)
      const next = { ...limits, [file === 'memory.limit_in_bytes' ? 'memory' : 'memsw']: bytes }
      if (next.memsw < next.memory) return refuse(`memory+swap may never be below memory, after any single write (memory ${limits.memory}, memory+swap ${limits.memsw} before it): ${docs}memory.rst, "memsw"`)
      Object.assign(limits, next)
    } else if (file === 'cpu.cfs_period_us' || file === 'cpu.cfs_quota_us') {
      const us = number(value, '-1')
      if (Number.isNaN(us) || us < 1000) return refuse(`it takes microseconds, at least 1000, or this file's own word for "no limit": see Documentation/scheduler/sched-bwc.rst`)
      const next = { ...limits, [file === 'cpu.cfs_period_us' ? 'period' : 'quota']: us }
      // No quota of its own is fine: the cgroup is then held to its parent's.
      if (next.quota !== Infinity && next.quota / next.period > parentCpu)
        return refuse(`the parent may use ${parentCpu} CPU, and ${next.quota} µs per the period in force (${next.period} µs) is more: a new quota is checked against the period the cgroup has at that moment (kernel/sched/core.c, tg_set_cfs_bandwidth; runc's fs/cpu.go)`)
      Object.assign(limits, next)
    } else if (file === 'memory.max' || file === 'memory.swap.max') {
      const bytes = number(value, 'max')
      if (Number.isNaN(bytes)) return refuse(`it takes a number of bytes or this file's word for "no limit": see ${docs}, "${file}"`)
      limits[file === 'memory.max' ? 'memory' : 'swap'] = bytes
    } else if (file === 'cpu.max') {
      const [quota = '', period = '100000', extra] = value.split(' ')
      const us = number(quota, 'max')
      if (Number.isNaN(us) || !/^\d+$/.test(period) || extra !== undefined) return refuse(`it takes "QUOTA PERIOD", with this file's word for "no limit" as the quota: see ${docs}, "cpu.max"`)
      Object.assign(limits, { quota: us, period: Number(period) })
    } else if (file === 'pids.max') {
      const max = number(value, 'max')
      if (Number.isNaN(max)) return refuse(`it takes a count, or this file's own word for "no limit": see ${version === 1 ? `${docs}pids.rst` : `${docs}, "pids.max"`}`)
      limits.pids = max
    } else if (file === 'cpu.shares' || file === 'cpu.weight') {
      if (!/^\d+$/.test(value)) return refuse('it takes a number')
    } else return refuse(`a v${version} cgroup has no file ${file}`)
    written.push(`${file} ${value}`)
  }
  return { limits }
}

/** The files' names and values, whatever the order. */
const byName = (files: [Controller, string, string][]) => Object.fromEntries(files.map(([, file, value]) => [file, value]))

describe('resourceFiles', () => {
  const resources: Resources = { memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 20000, period: 100000 }, pids: { limit: 32 } }
  const unlimited: Resources = { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100000 }, pids: { limit: -1 } }

  it('writes v1\'s files, in an order a v1 kernel accepts', () => {
    const files = resourceFiles(resources, 1)
    expect(byName(files), 'v1 has a file per limit, named after its controller (chapter text, "From linux.resources to files")').toEqual({
      'memory.limit_in_bytes': String(64 * MiB),
      'memory.memsw.limit_in_bytes': String(64 * MiB),
      'cpu.cfs_period_us': '100000',
      'cpu.cfs_quota_us': '20000',
      'pids.max': '32',
    })
    const { refused } = kernelModel(1, files)
    expect(refused, refused).toBeUndefined()
  })

  it('writes v2\'s files: memory.max, swap alone in memory.swap.max, "quota period" in cpu.max', () => {
    expect(resourceFiles(resources, 2), 'OCI\'s swap counts memory + swap, v2\'s memory.swap.max the swap alone; cpu.max holds quota and period').toEqual([
      ['memory', 'memory.max', String(64 * MiB)],
      ['memory', 'memory.swap.max', '0'],
      ['cpu', 'cpu.max', '20000 100000'],
      ['pids', 'pids.max', '32'],
    ])
  })

  it('writes nothing for resources that are not set', () => {
    expect(resourceFiles({}, 1)).toEqual([])
    expect(resourceFiles({}, 2)).toEqual([])
    const zeros: Resources = { memory: { limit: 0, swap: 0 }, cpu: { quota: 0, period: 0, shares: 0 }, pids: { limit: 0 } }
    for (const version of [1, 2] as const)
      expect(resourceFiles({ memory: { limit: 64 * MiB, swap: 0 } }, version).map(([, file]) => file), `v${version}: a swap of 0 is not set (runc writes no swap file for it), not "no limit"`).toEqual([version === 1 ? 'memory.limit_in_bytes' : 'memory.max'])
    for (const version of [1, 2] as const)
      expect(resourceFiles(zeros, version), `v${version}: OCI's 0 is "not set", as runc reads it (fs/ and fs2/ write a value only when it is not 0): nothing to write`).toEqual([])
    expect(resourceFiles({ memory: { limit: -1, swap: -1 }, cpu: { quota: -1 } }, 1), 'v1 spells "no limit" -1 in the memory and cpu files').toEqual([
      ['memory', 'memory.limit_in_bytes', '-1'],
      ['memory', 'memory.memsw.limit_in_bytes', '-1'],
      ['cpu', 'cpu.cfs_quota_us', '-1'],
    ])
    expect(resourceFiles({ memory: { limit: 64 * MiB, swap: -1 } }, 2), 'an OCI swap of -1 is unlimited swap: "max"').toEqual([
      ['memory', 'memory.max', String(64 * MiB)],
      ['memory', 'memory.swap.max', 'max'],
    ])
  })

  it('writes only the CPU value that is set, as runc does', () => {
    expect(resourceFiles({ cpu: { quota: 20000 } }, 1), 'v1: a quota without a period writes cpu.cfs_quota_us alone').toEqual([['cpu', 'cpu.cfs_quota_us', '20000']])
    expect(resourceFiles({ cpu: { period: 200000 } }, 1), 'v1: a period without a quota writes cpu.cfs_period_us alone').toEqual([['cpu', 'cpu.cfs_period_us', '200000']])
    expect(resourceFiles({ cpu: { quota: 20000 } }, 2), 'v2: a quota without a period is "QUOTA" alone in cpu.max, so the kernel keeps the period it has (runc\'s fs2/cpu.go)').toEqual([['cpu', 'cpu.max', '20000']])
    expect(resourceFiles({ cpu: { period: 200000 } }, 2), 'v2: a period without a quota is "max PERIOD" in cpu.max (runc\'s fs2/cpu.go)').toEqual([['cpu', 'cpu.max', 'max 200000']])
  })

  it('turns v1 shares into a v2 weight', () => {
    expect(resourceFiles({ cpu: { shares: 1024 } }, 1)).toEqual([['cpu', 'cpu.shares', '1024']])
    const weights = [2, 1024, 262144].map((shares) => byName(resourceFiles({ cpu: { shares } }, 2))['cpu.weight'])
    expect(weights, 'shares 2, 1024 and 262144 as cpu.weight: v1\'s range [2, 262144] maps linearly onto v2\'s [1, 10000], rounded down (runc\'s ConvertCPUSharesToCgroupV2Value); writing the shares unchanged gives a weight v2 reads differently or refuses').toEqual(['1', '39', '10000'])
  })

  for (const version of [1, 2] as const) {
    it(`spells "no limit" in each v${version} file as that file takes it`, () => {
      const files = resourceFiles(unlimited, version)
      const { refused, limits } = kernelModel(version, files)
      expect(refused, refused).toBeUndefined()
      for (const limit of ['memory', version === 1 ? 'memsw' : 'swap', 'quota', 'pids'] as const)
        expect(limits[limit], `a limit of -1 means no limit, but after ${files.map(([, f, v]) => `${f} ${v}`).join(', ')} the ${limit} limit is ${limits[limit]}`).toBe(Infinity)
    })
  }

  it('sets a v1 CPU limit below a parent that has one, in an order the kernel accepts', () => {
    // 80 ms per 200 ms is 0.4 CPU, below a parent's 0.5; the cgroup starts with a 100 ms period.
    const { refused, limits } = kernelModel(1, resourceFiles({ cpu: { quota: 80000, period: 200000 } }, 1), 0.5)
    expect(refused, refused).toBeUndefined()
    expect(limits.quota / limits.period).toBe(0.4)
  })

  it('sets memory and memory+swap on v1 in an order the kernel accepts', () => {
    const { refused } = kernelModel(1, resourceFiles({ memory: { limit: 16 * MiB, swap: 32 * MiB } }, 1))
    expect(refused, refused).toBeUndefined()
  })

  it('refuses a swap limit without a memory limit or below it, as runc does', async () => {
    for (const memory of [{ swap: 64 * MiB }, { limit: -1, swap: 64 * MiB }, { limit: 64 * MiB, swap: 32 * MiB }]) {
      for (const version of [1, 2] as const) {
        const error = await caught(() => resourceFiles({ memory }, version))
        const what = `v${version}, memory ${JSON.stringify(memory)}`
        expect(error, `${what}: OCI's memory.swap counts memory + swap, so it needs a memory limit it is not below (runc: "unable to set swap limit without memory limit"); expected a ContainerError`).toBeInstanceOf(ContainerError)
        expect(error.message, `${what}: the error must name both memory.swap and memory.limit`).toMatch(/memory\.swap.*memory\.limit|memory\.limit.*memory\.swap/)
      }
    }
  })
})

describe('cgroup v2, on a directory laid out like one', () => {
  /** A fake cgroup2 root: the files the kernel would show, as plain files. */
  function fakeV2(): string {
    const root = tempDir('fake-cgroup2-')
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n')
    mkdirSync(join(root, 'user.slice/user-0.slice/session-1.scope'), { recursive: true })
    return root
  }

  it('is detected as v2, and a plain directory as v1', () => {
    expect(cgroupVersion(fakeV2())).toBe(2)
    expect(cgroupVersion(tempDir())).toBe(1)
  })

  it('creates the cgroup, enables controllers on each parent and writes the limits', async () => {
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
      expect(read(parent).split(' ').sort(), `${parent}: each parent must enable the controllers its children use`).toEqual(['+cpu', '+memory', '+pids'])
    expect(read('minidocker/c1/memory.max')).toBe(String(64 * MiB))
    expect(read('minidocker/c1/memory.swap.max')).toBe('0')
    expect(read('minidocker/c1/cpu.max')).toBe('50000 100000')
    expect(read('minidocker/c1/pids.max')).toBe('32')
    await joinCgroup(cgroup, 4242)
    expect(read('minidocker/c1/cgroup.procs'), 'joining writes the PID to cgroup.procs').toBe('4242')
    writeFileSync(join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n')
    expect(await oomKilled(cgroup), 'memory.events counts oom_kill').toBe(true)
  })

  it('enables controllers from the root down, adding only what each level lacks', async () => {
    const root = fakeV2()
    // The kernel lists enabled controllers without "+"; a file we never wrote keeps its text.
    writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu memory pids\n')
    writeFileSync(join(root, 'user.slice/cgroup.subtree_control'), 'memory\n')
    const spec = limitedSpec([], { memory: { limit: 64 * MiB }, pids: { limit: 32 } })
    spec.linux!.cgroupsPath = 'minidocker/c2'
    await createCgroup(spec, { root, self: V2_SELF })
    const read = (dir: string) => readFileSync(join(root, dir, 'cgroup.subtree_control'), 'utf8').trim()
    expect(read('.'), 'the root already enables memory and pids: leave it alone').toBe('cpu memory pids')
    expect(read('user.slice'), 'user.slice lacks pids: write "+pids" (and only that) to its cgroup.subtree_control').toBe('+pids')
    expect(read('user.slice/user-0.slice').split(' ').sort(), 'a parent below must enable both').toEqual(['+memory', '+pids'])
  })

  it('enables only the controllers the limits use, and none for no limits', async () => {
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
      expect(subtree(dir), `${dir}/cgroup.subtree_control: only pids is limited, so only pids is enabled (an enabled controller costs every sibling, and a hybrid host's cgroup2 tree has none to offer)`).toBe('+pids')
    const bare = probeSpec([])
    bare.linux!.cgroupsPath = 'minidocker/c4'
    const other = fakeV2()
    await createCgroup(bare, { root: other, self: V2_SELF })
    expect(existsSync(join(other, 'cgroup.subtree_control')), 'no limits, no controller to enable: cgroup.subtree_control must stay unwritten').toBe(false)
  })

  it('removes what cgroupsPath names and never the base it nested in, even when that is empty', async () => {
    const root = fakeV2()
    // The caller says it is in /lonely/caller: the base is /lonely, which is not the container's.
    mkdirSync(join(root, 'lonely'))
    const spec = probeSpec([])
    spec.linux!.cgroupsPath = 'minidocker/c5'
    const cgroup = await createCgroup(spec, { root, self: '0::/lonely/caller\n' })
    await removeCgroup(cgroup)
    expect(existsSync(join(root, 'lonely/minidocker/c5')), 'the leaf is still there').toBe(false)
    expect(existsSync(join(root, 'lonely/minidocker')), 'lonely/minidocker, named by cgroupsPath and now empty, is still there: the last container out removes the parents its cgroupsPath names').toBe(false)
    expect(existsSync(join(root, 'lonely')), 'lonely/ was removed: it is the base the cgroup was nested in (someone else\'s cgroup), and removal must stop below it').toBe(true)
  })
})

// The title names the host's version without calling chapter code while tests are collected.
const HOST_V2 = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))
const HOST_VERSION = HOST_V2 ? 'v2' : 'v1 (or hybrid)'
/** A cgroup2 tree: the whole hierarchy on a v2 host, root/unified on a hybrid one. */
const V2_TREE = [CGROUP_ROOT, join(CGROUP_ROOT, 'unified')].find((dir) => existsSync(join(dir, 'cgroup.controllers')))

describeKernel(`limits in a real cgroup (${HOST_VERSION} on this machine)`, () => {
  const ownPath = (controller: Controller) => {
    const self = readFileSync('/proc/self/cgroup', 'utf8')
    const line = self.split('\n').find((l) => (HOST_V2 ? l.startsWith('0::') : l.split(':')[1]!.split(',').includes(controller)))!
    return line.split(':')[2]!
  }

  it('nests under the caller\'s own cgroup and has the process inside before it execs', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 64 } })
    const { cgroup } = await runLimited(spec, () => {})
    const base = HOST_V2 ? join(CGROUP_ROOT, dirname(ownPath('pids'))) : join(CGROUP_ROOT, 'memory', ownPath('memory'))
    expect(cgroup.dirs.memory!.startsWith(`${base}/`), `${cgroup.dirs.memory} is not below the caller's own cgroup ${base}: read /proc/self/cgroup`).toBe(true)
  })

  it('has the container\'s process in its cgroup from its first instruction', async () => {
    const { cgroup, stdout } = await runLimited(limitedSpec(['cgroup', 'exit:0'], { pids: { limit: 64 } }))
    const seen = parseCgroups(probeValue<string>(stdout, 'cgroup'))
    for (const [controller, path] of expectedPaths(cgroup)) {
      expect(seen.get(controller), `the probe's first instruction ran in ${controller || 'v2'} cgroup ${seen.get(controller)}, not in the container's ${path}: was the process that execs in this hierarchy's cgroup when forkIntoCgroup resolved? (chapter text: "No window without limits")`).toBe(path)
    }
  })

  it('has the helper itself in the cgroup when nothing was forked, since it is the one that execs', async () => {
    const spec = limitedSpec(['cgroup', 'exit:0'], { pids: { limit: 64 } })
    let cgroup: Cgroup | undefined
    let run: Run | undefined
    await withCgroup(spec, async (cg) => {
      cgroup = cg
      run = await runCaptured(spec, (h) => forkIntoCgroup(h, cg, async () => undefined))
      return run.code
    })
    const seen = parseCgroups(probeValue<string>(run!.stdout, 'cgroup'))
    for (const [controller, path] of expectedPaths(cgroup!))
      expect(seen.get(controller), `fork resolved to undefined: nothing was forked, and the process that execs the probe ran outside ${path}`).toBe(path)
  })

  it(`joins a real cgroup2 tree as well (${V2_TREE ?? 'none on this machine'}), and removes it`, async () => {
    expect(V2_TREE, 'this machine mounts no cgroup2 tree, neither at /sys/fs/cgroup nor at /sys/fs/cgroup/unified').toBeDefined()
    const spec = limitedSpec(['cgroup', 'exit:0'], {}) // no controllers: a hybrid host's tree may offer none
    let cgroup: Cgroup | undefined
    let run: Run | undefined
    await withCgroup(spec, async (cg) => {
      cgroup = cg
      run = await runCaptured(spec, (h) => forkIntoCgroup(h, cg, () => enterNamespaces(h, spec)))
      return run.code
    }, { root: V2_TREE })
    expect(cgroup!.version, `${V2_TREE} holds cgroup.controllers: it is a v2 tree`).toBe(2)
    const path = cgroup!.dirs.pids!.slice(V2_TREE!.length)
    expect(parseCgroups(probeValue<string>(run!.stdout, 'cgroup')).get(''), `the probe's first instruction must run in ${path} of the v2 tree`).toBe(path)
    expect(existsSync(cgroup!.dirs.pids!), `${cgroup!.dirs.pids} is still there after the run`).toBe(false)
  })

  it('gives the container the 8 processes pids.max 8 allows, no more and no fewer', async () => {
    const { stdout } = await runLimited(limitedSpec(['fork:20'], { pids: { limit: 8 } }))
    const forked = probeValue<number>(stdout, 'forked')
    const why = forked > 7
      ? 'the limit did not hold: was the process in the cgroup before exec?'
      : 'a process that is not the container\'s counts against its limit: is the helper\'s relay (helper.pid, which stays on the host\'s side for the whole run) in the cgroup?'
    expect(forked, `PID 1 forked ${forked} children under pids.max 8 (PID 1 + 7 expected): ${why}`).toBe(7)
    expect(probeValue(stdout, 'error'), 'fork past pids.max fails with EAGAIN').toBe('EAGAIN')
  })

  it('OOM-kills a process that allocates past the memory limit, and says so', async () => {
    const spec = limitedSpec(['alloc:64'], { memory: { limit: 16 * MiB, swap: 16 * MiB } })
    const { code, oomKilled: oom } = await runLimited(spec)
    expect(code, 'a process killed by the OOM killer dies of SIGKILL: 128 + 9').toBe(137)
    expect(oom, 'the run did not report the OOM kill: the kernel counts OOM kills in a file of the cgroup, which goes when the cgroup is removed').toBe(true)
  })

  it('does not report an OOM kill for a process within its limit', async () => {
    const { code, oomKilled: oom, stdout } = await runLimited(limitedSpec(['alloc:4'], { memory: { limit: 64 * MiB, swap: 64 * MiB } }))
    expect(code).toBe(0)
    expect(probeValue(stdout, 'allocated_mib')).toBe(4)
    expect(oom).toBe(false)
  })

  it('holds a busy process to about 0.2 CPU under a 20 ms / 100 ms quota', async () => {
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
    expect(share, 'the cgroup\'s own CPU counter barely moved: is the probe in the cgroup (cgroup.procs) before exec?').toBeGreaterThan(0.05)
  })

  it('is removed after the container exits', async () => {
    const spec = limitedSpec(['exit:3'], { pids: { limit: 8 } })
    spec.linux!.cgroupsPath += '/c' // a parent of this test's own: minidocker-test/ may hold other runs
    const { cgroup } = await runLimited(spec)
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there: rmdir it after the container exits`).toBe(false)
    for (const dir of dirsOf(cgroup)) expect(existsSync(dirname(dir)), `${dirname(dir)} (made for this cgroup) is still there`).toBe(false)
  })

  it('is removed after a failed start, and the error comes through', async () => {
    let cgroup: Cgroup | undefined
    const spec = limitedSpec(['exit:0'], { pids: { limit: 8 } })
    const error = await caught(() => withCgroup(spec, async (cg) => {
      cgroup = cg
      throw new ContainerError('exec: "nothing": executable file not found in $PATH', 127)
    }))
    expect(error.message).toMatch(/executable file not found/)
    for (const dir of dirsOf(cgroup!)) expect(existsSync(dir), `${dir} survived a failed start: remove the cgroup in a finally`).toBe(false)
  })

  it('cleans up when a limit cannot be written, naming the file', async () => {
    const spec = limitedSpec(['exit:0'], { cpu: { quota: 1, period: 100000 } }) // the kernel's minimum quota is 1000
    const error = await caught(() => createCgroup(spec))
    expect(error?.message, 'the error must name the file that refused the value').toMatch(/cpu\.(cfs_quota_us|max)/)
    const leftovers = Object.values(cgroupDirs(spec.linux!.cgroupsPath!, cgroupVersion(), CGROUP_ROOT, readFileSync('/proc/self/cgroup', 'utf8')))
    for (const dir of leftovers) expect(existsSync(dir), `${dir} is left after createCgroup failed: remove what was made before rethrowing`).toBe(false)
  })

  it('accepts "no limit" in every file, spelled as this kernel version wants it', async () => {
    const spec = limitedSpec(['exit:0'], { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100000 }, pids: { limit: -1 } })
    const error = await caught(async () => removeCgroup(await createCgroup(spec)))
    expect(error?.message, `the kernel refused "no limit" (${error?.message}): each file documents its own word for it (Documentation/admin-guide/cgroup-v1/ or cgroup-v2.rst)`).toBeUndefined()
  })

  it('sets a 0.4 CPU limit (80 ms per 200 ms) below a parent limited to 0.5 CPU', async () => {
    const parent = limitedSpec(['exit:0'], { cpu: { quota: 50000, period: 100000 } })
    const child = limitedSpec(['exit:0'], { cpu: { quota: 80000, period: 200000 } })
    child.linux!.cgroupsPath = `${parent.linux!.cgroupsPath}/c`
    const outer = await createCgroup(parent)
    const error = await caught(async () => removeCgroup(await createCgroup(child)))
    await removeCgroup(outer)
    expect(error?.message, `a 0.4 CPU limit below a 0.5 CPU parent was refused (${error?.message}): what does the kernel check a new quota against, at the moment it is written? (kernel/sched/core.c, tg_set_cfs_bandwidth; runc's fs/cpu.go)`).toBeUndefined()
  })

  it('lets two containers share a parent: neither removes or waits on the other\'s, and the last one out removes it', async () => {
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
    expect(error?.message, `removing the first container failed while the second still uses their shared parent (${error?.message}): a parent another container uses is not this one's to remove, and that is no error`).toBeUndefined()
    expect(waited, `removing the first container took ${waited} ms: a parent in use by another container will not empty by waiting; only a leaf is worth retrying`).toBeLessThan(500)
    for (const dir of dirsOf(second)) expect(existsSync(dir), `${dir}, the other container's cgroup, is gone: removal must never take what another container uses`).toBe(true)
    await removeCgroup(second)
    for (const dir of dirsOf(second))
      expect(existsSync(dirname(dir)), `${dirname(dir)}, shared by both, is still there after both ended: the last container out removes the parents its cgroupsPath names, also when another container made them`).toBe(false)
  })

  it('waits for the last process to leave, then removes the cgroup', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 8 } })
    const cgroup = await createCgroup(spec)
    const helper = startHelper()
    await joinCgroup(cgroup, helper.pid)
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'sleep:100'], [])
    const error = await caught(() => removeCgroup(cgroup))
    expect(error?.message, `removeCgroup gave up (${error?.message}) while a process was still inside for 100 ms more: a container's last processes take a moment to leave`).toBeUndefined()
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there after removeCgroup resolved`).toBe(false)
  })
})
