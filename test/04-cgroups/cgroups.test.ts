import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import {
  CGROUP_ROOT, cgroupDirs, cgroupVersion, createCgroup, joinCgroup, oomKilled, readKeyed, resourceFiles,
  withCgroup, type Cgroup, type Controller,
} from '#ch/04-cgroups/cgroups.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import { probeSpec, runCaptured, type Run } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeValue } from '../support/probe.ts'

const MiB = 1024 * 1024

/** A probe spec with limits, in a cgroup of its own below minidocker-test/. */
function limitedSpec(steps: string[], resources: Resources): Spec {
  const spec = probeSpec(steps)
  spec.linux!.resources = resources
  spec.linux!.cgroupsPath = `minidocker-test/${randomBytes(6).toString('hex')}`
  return spec
}

/** Run `spec` as minidocker does: namespaces (02), join the cgroup while the helper waits, exec. */
async function runLimited(spec: Spec, whileInside: (cgroup: Cgroup) => void = () => {}) {
  let run: Run | undefined
  let cgroup: Cgroup | undefined
  const exit = await withCgroup(spec, async (cg) => {
    cgroup = cg
    run = await runCaptured(spec, async (h) => joinCgroup(cg, await enterNamespaces(h, spec)))
    whileInside(cg)
    return run.code
  })
  return { ...exit, ...run!, cgroup: cgroup! }
}

/** Every directory of a cgroup, for "is it gone?" checks. */
const dirsOf = (cgroup: Cgroup) => [...new Set(Object.values(cgroup.dirs))]

const V1_SELF = '9:name=systemd:/\n8:pids:/\n4:memory:/user/1000\n2:cpu,cpuacct:/batch\n0::/\n'
const V2_SELF = '0::/user.slice/user-0.slice/session-1.scope\n'

describe('cgroupDirs', () => {
  it('nests a relative path under the caller\'s own cgroup of each v1 hierarchy', () => {
    expect(cgroupDirs('minidocker/c1', 1, '/cg', V1_SELF)).toEqual({
      memory: '/cg/memory/user/1000/minidocker/c1',
      cpu: '/cg/cpu/batch/minidocker/c1',
      cpuacct: '/cg/cpuacct/batch/minidocker/c1',
      pids: '/cg/pids/minidocker/c1',
    })
  })

  it('on v2 nests below the parent of the caller\'s cgroup, which may not hold processes', () => {
    const dir = '/cg/user.slice/user-0.slice/minidocker/c1'
    expect(cgroupDirs('minidocker/c1', 2, '/cg', V2_SELF)).toEqual({ memory: dir, cpu: dir, pids: dir })
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
    expect(resourceFiles(resources, 1)).toEqual([
      ['memory', 'memory.limit_in_bytes', String(64 * MiB)],
      ['memory', 'memory.memsw.limit_in_bytes', String(64 * MiB)],
      ['cpu', 'cpu.cfs_period_us', '100000'],
      ['cpu', 'cpu.cfs_quota_us', '20000'],
      ['pids', 'pids.max', '32'],
    ])
  })

  it('writes v2\'s files: memory.max, swap alone in memory.swap.max, "quota period" in cpu.max', () => {
    expect(resourceFiles(resources, 2)).toEqual([
      ['memory', 'memory.max', String(64 * MiB)],
      ['memory', 'memory.swap.max', '0'],
      ['cpu', 'cpu.max', '20000 100000'],
      ['pids', 'pids.max', '32'],
    ])
  })

  it('writes nothing for resources that are not set, and "max" for an unlimited pids limit', () => {
    expect(resourceFiles({}, 2)).toEqual([])
    expect(resourceFiles({ pids: { limit: 0 } }, 1)).toEqual([['pids', 'pids.max', 'max']])
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
    const read = (path: string) => readFileSync(join(root, 'user.slice/user-0.slice', path), 'utf8').trim()
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
const HOST_VERSION = existsSync(join(CGROUP_ROOT, 'cgroup.controllers')) ? 'v2' : 'v1 (or hybrid)'

describeKernel(`limits in a real cgroup (${HOST_VERSION} on this machine)`, () => {
  const ownPath = (controller: Controller) => {
    const self = readFileSync('/proc/self/cgroup', 'utf8')
    const line = self.split('\n').find((l) => (cgroupVersion() === 2 ? l.startsWith('0::') : l.split(':')[1]!.split(',').includes(controller)))!
    return line.split(':')[2]!
  }

  it('nests under the caller\'s own cgroup and has the process inside before it execs', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 64 } })
    const { cgroup } = await runLimited(spec, () => {})
    const base = cgroupVersion() === 2 ? join(CGROUP_ROOT, dirname(ownPath('pids'))) : join(CGROUP_ROOT, 'memory', ownPath('memory'))
    expect(cgroup.dirs.memory!.startsWith(`${base}/`), `${cgroup.dirs.memory} is not below the caller's own cgroup ${base}: read /proc/self/cgroup`).toBe(true)
  })

  it('has PID 1 in the cgroup as soon as joinCgroup resolves, while the helper still waits', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 64 } })
    let members: string[] = []
    let pid = 0
    await withCgroup(spec, async (cg) => {
      const run = await runCaptured(spec, async (h) => {
        pid = await enterNamespaces(h, spec)
        await joinCgroup(cg, pid)
        members = readFileSync(join(cg.dirs.pids!, 'cgroup.procs'), 'utf8').split('\n')
      })
      return run.code
    })
    expect(members, `host PID ${pid} must be in cgroup.procs before exec, so it never runs unlimited`).toContain(String(pid))
  })

  it('OOM-kills a process that allocates past the memory limit, and says so', async () => {
    const spec = limitedSpec(['alloc:64'], { memory: { limit: 16 * MiB, swap: 16 * MiB } })
    const { code, oomKilled: oom } = await runLimited(spec)
    expect(code, 'a process killed by the OOM killer dies of SIGKILL: 128 + 9').toBe(137)
    expect(oom, 'the run must report the OOM kill (memory.oom_control or memory.events: oom_kill)').toBe(true)
  })

  it('does not report an OOM kill for a process within its limit', async () => {
    const { code, oomKilled: oom, stdout } = await runLimited(limitedSpec(['alloc:4'], { memory: { limit: 64 * MiB, swap: 64 * MiB } }))
    expect(code).toBe(0)
    expect(probeValue(stdout, 'allocated_mib')).toBe(4)
    expect(oom).toBe(false)
  })

  it('makes fork fail past the pids limit', async () => {
    const { stdout } = await runLimited(limitedSpec(['fork:64'], { pids: { limit: 16 } }))
    const forked = probeValue<number>(stdout, 'forked')
    expect(forked, `the probe forked ${forked} of 64 children under pids.max 16: was the process in the cgroup before exec?`).toBeLessThan(16)
    expect(probeValue(stdout, 'error'), 'fork past pids.max fails with EAGAIN').toBe('EAGAIN')
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
    expect(error.message, 'the error must name the file that refused the value').toMatch(/cpu\.(cfs_quota_us|max)/)
    const leftovers = Object.values(cgroupDirs(spec.linux!.cgroupsPath!, cgroupVersion(), CGROUP_ROOT, readFileSync('/proc/self/cgroup', 'utf8')))
    for (const dir of leftovers) expect(existsSync(dir), `${dir} is left after createCgroup failed`).toBe(false)
  })
})
