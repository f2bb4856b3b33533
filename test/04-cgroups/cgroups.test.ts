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

  it('on v2 nests below the parent of the caller\'s cgroup, which may not hold processes', () => {
    const dir = '/cg/user.slice/user-0.slice/minidocker/c1'
    expect(cgroupDirs('minidocker/c1', 2, '/cg', V2_SELF), 'v2: below the PARENT of the caller\'s cgroup, which holds processes and so may not enable controllers for children (no internal processes)').toEqual({ memory: dir, cpu: dir, pids: dir })
  })

  it('takes an absolute cgroupsPath from the root of the hierarchy', () => {
    expect(cgroupDirs('/docker/c1', 1, '/cg', V1_SELF).memory).toBe('/cg/memory/docker/c1')
    expect(cgroupDirs('/docker/c1', 2, '/cg', V2_SELF).pids).toBe('/cg/docker/c1')
  })

  it('says so when /proc/self/cgroup has no line for a controller', async () => {
    expect(await caught(() => cgroupDirs('x', 1, '/cg', '0::/\n')), 'no memory line: a ContainerError, not a crash').toBeInstanceOf(ContainerError)
  })
})

describe('resourceFiles', () => {
  const resources: Resources = { memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 20000, period: 100000 }, pids: { limit: 32 } }

  it('writes v1\'s files, period before quota and memory before memory+swap', () => {
    expect(resourceFiles(resources, 1), 'v1 writes the period before the quota (a quota is checked against the current period)').toEqual([
      ['memory', 'memory.limit_in_bytes', String(64 * MiB)],
      ['memory', 'memory.memsw.limit_in_bytes', String(64 * MiB)],
      ['cpu', 'cpu.cfs_period_us', '100000'],
      ['cpu', 'cpu.cfs_quota_us', '20000'],
      ['pids', 'pids.max', '32'],
    ])
  })

  it('writes v2\'s files: memory.max, swap alone in memory.swap.max, "quota period" in cpu.max', () => {
    expect(resourceFiles(resources, 2), 'OCI\'s swap counts memory + swap, v2\'s memory.swap.max the swap alone (swap - limit); cpu.max is "QUOTA PERIOD"').toEqual([
      ['memory', 'memory.max', String(64 * MiB)],
      ['memory', 'memory.swap.max', '0'],
      ['cpu', 'cpu.max', '20000 100000'],
      ['pids', 'pids.max', '32'],
    ])
  })

  it('writes nothing for resources that are not set, and "max" for an unlimited pids limit', () => {
    expect(resourceFiles({}, 2)).toEqual([])
    expect(resourceFiles({ pids: { limit: 0 } }, 1)).toEqual([['pids', 'pids.max', 'max']])
  })

  it('spells "no limit" as the kernel wants it: -1 in v1\'s memory and CPU files, max on v2 and in pids.max', () => {
    const unlimited: Resources = { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100000 }, pids: { limit: -1 } }
    expect(resourceFiles(unlimited, 1), 'v1 refuses "max" in memory.limit_in_bytes, memory.memsw.limit_in_bytes and cpu.cfs_quota_us (EINVAL): no limit is -1 there, while pids.max takes "max" (and refuses -1)').toEqual([
      ['memory', 'memory.limit_in_bytes', '-1'],
      ['memory', 'memory.memsw.limit_in_bytes', '-1'],
      ['cpu', 'cpu.cfs_period_us', '100000'],
      ['cpu', 'cpu.cfs_quota_us', '-1'],
      ['pids', 'pids.max', 'max'],
    ])
    expect(resourceFiles(unlimited, 2), 'v2 spells no limit "max" in every file (memory.swap.max included), never -1').toEqual([
      ['memory', 'memory.max', 'max'],
      ['memory', 'memory.swap.max', 'max'],
      ['cpu', 'cpu.max', 'max 100000'],
      ['pids', 'pids.max', 'max'],
    ])
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

  it('is detected as v2 by its cgroup.controllers', () => {
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
      expect(seen.get(controller), `the probe's first instruction ran in ${controller || 'v2'} cgroup ${seen.get(controller)}, not in the container's ${path}: did forkIntoCgroup join the PID fork() returned (not the helper's relay), in every hierarchy, before it resolved?`).toBe(path)
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
      expect(seen.get(controller), `fork resolved to undefined, so helper.pid execs: it must be in ${path} before forkIntoCgroup resolves`).toBe(path)
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

  it('leaves the helper\'s relay outside: under pids.max 8 the container holds exactly 8 processes', async () => {
    const { stdout } = await runLimited(limitedSpec(['fork:20'], { pids: { limit: 8 } }))
    const forked = probeValue<number>(stdout, 'forked')
    const why = forked > 7
      ? 'the limit did not hold: was the process in the cgroup before exec?'
      : 'a process that is not the container\'s counts against its limit: is the helper\'s relay (helper.pid, which stays on the host\'s side for the whole run) in the cgroup? Join only the PID fork() returned'
    expect(forked, `PID 1 forked ${forked} children under pids.max 8 (PID 1 + 7 expected): ${why}`).toBe(7)
    expect(probeValue(stdout, 'error'), 'fork past pids.max fails with EAGAIN').toBe('EAGAIN')
  })

  it('OOM-kills a process that allocates past the memory limit, and says so', async () => {
    const spec = limitedSpec(['alloc:64'], { memory: { limit: 16 * MiB, swap: 16 * MiB } })
    const { code, oomKilled: oom } = await runLimited(spec)
    expect(code, 'a process killed by the OOM killer dies of SIGKILL: 128 + 9').toBe(137)
    expect(oom, 'the run must report the OOM kill: read oom_kill (memory.oom_control on v1, memory.events on v2) while the cgroup still exists, before it is removed').toBe(true)
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
    const { cgroup } = await runLimited(limitedSpec(['exit:3'], { pids: { limit: 8 } }))
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
    expect(error?.message, 'the kernel refused "no limit": v1 spells it -1 in memory.limit_in_bytes, memory.memsw.limit_in_bytes and cpu.cfs_quota_us, v2 spells it max; pids.max says max on both').toBeUndefined()
  })

  it('sets a CPU limit below a parent that has one (v1: the period before the quota)', async () => {
    const parent = limitedSpec(['exit:0'], { cpu: { quota: 50000, period: 100000 } })
    const child = limitedSpec(['exit:0'], { cpu: { quota: 80000, period: 200000 } })
    child.linux!.cgroupsPath = `${parent.linux!.cgroupsPath}/c`
    const outer = await createCgroup(parent)
    // 0.4 CPU fits the parent's 0.5, but 80 ms per the default 100 ms period would not (EINVAL).
    const error = await caught(async () => removeCgroup(await createCgroup(child)))
    await removeCgroup(outer)
    expect(error?.message, 'a 0.4 CPU limit below a 0.5 CPU parent was refused: on v1, write cpu.cfs_period_us before cpu.cfs_quota_us, or the new quota is checked against the old 100 ms period').toBeUndefined()
  })

  it('waits for the last process to leave before removing the cgroup (rmdir fails with EBUSY until then)', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 8 } })
    const cgroup = await createCgroup(spec)
    const helper = startHelper()
    await joinCgroup(cgroup, helper.pid)
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'sleep:100'], [])
    const error = await caught(() => removeCgroup(cgroup))
    expect(error?.message, 'removeCgroup gave up while a process was still inside for 100 ms more: retry rmdir on EBUSY for about a second').toBeUndefined()
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there after removeCgroup resolved`).toBe(false)
  })
})
