import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, vi } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import {
  CGROUP_ROOT, cgroupDirs, cgroupVersion, createCgroup, forkIntoCgroup, joinCgroup, oomKilled, readKeyed, removeCgroup,
  resourceFiles, updateCgroup, V1_CONTROLLERS, withCgroup, type Cgroup, type Controller,
} from '#ch/04-cgroups/cgroups.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import { testCgroupDirs, testCgroupPath } from '../support/cgroups.ts'
import { probeSpec, runCaptured, type Run } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { hierarchies } from '../support/hierarchies.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'

const MiB = 1024 * 1024

/**
 * The race tests put other containers' steps between the steps of the code under test: while
 * `race.step` is set, a file-system call (node:fs or node:fs/promises) on a path at or below a
 * directory named `race.below` first runs `race.step`, which makes no such step of its own.
 */
const race = await vi.hoisted(async () => {
  const { interposer } = await import('../support/interpose.ts')
  const calls = ['mkdir', 'rmdir', 'rm', 'stat', 'lstat', 'readdir', 'readFile', 'writeFile', 'access', 'open']
  return { ...interposer(), calls }
})
vi.mock('node:fs', async (importOriginal) =>
  race.watch(await importOriginal<typeof import('node:fs')>(), [...race.calls, ...race.calls.map((c) => `${c}Sync`), 'existsSync']))
vi.mock('node:fs/promises', async (importOriginal) => race.watch(await importOriginal<typeof import('node:fs/promises')>(), race.calls))

/** From now until the test ends, run `step` between the file-system steps of the code under test below `base`. */
function between(base: string, step: () => void): void {
  Object.assign(race.state, { below: `/${base}`, step })
  onCleanup(() => void Object.assign(race.state, { below: '', step: undefined }))
}
const stop = () => void (race.state.step = undefined)

/**
 * From now until the test ends, the memory cgroup `leaf` of the fake tree at `root` is as a kernel
 * without swap accounting makes it: its swap file `file` is not there, and a write to it fails
 * (as it does in a kernel's cgroup), where a plain directory would make the file.
 */
function swapNotCounted(root: string, leaf: string, file: string): void {
  between(root.slice(1), () => {
    if (existsSync(leaf) && !lstatSync(join(leaf, file), { throwIfNoEntry: false })) symlinkSync(join(root, 'nowhere', file), join(leaf, file))
  })
}

/** A probe spec with limits, in a cgroup of its own below minidocker-test-PID/, removed after the test. */
function limitedSpec(steps: string[], resources: Resources): Spec {
  const spec = probeSpec(steps)
  spec.linux!.resources = resources
  spec.linux!.cgroupsPath = testCgroupPath()
  return spec
}

/** A probe spec for the cgroup at `path` with `resources`. */
function at(path: string, resources: Resources): Spec {
  const spec = probeSpec([])
  spec.linux!.resources = resources
  spec.linux!.cgroupsPath = path
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

/**
 * Compare the /proc/PID/cgroup text a process showed against the paths it must be in, by
 * controller (as expectedPaths gives them): one entry for each path no line of the text shows.
 */
function wrongLines(text: string, expected: Map<string, string>): { controller: string; seen: string; path: string }[] {
  const lines = text.split('\n').filter(Boolean)
  return [...expected].flatMap(([controller, path]) => {
    // Checked from the known answer's end, so that no parser is given here.
    const shows = (line: string) => line.endsWith(`:${path}`) &&
      (controller === '' ? line === `0::${path}` : line.slice(0, -path.length - 1).split(':').at(-1)!.split(',').includes(controller))
    return lines.some(shows) ? [] : [{ controller, seen: `"${text.trim().replaceAll('\n', ' | ')}"`, path }]
  })
}

/** The test process's own cgroup in the hierarchy mounted at `hierarchy`, found as the kernel lists members, not from /proc/self/cgroup. */
function ownCgroupIn(hierarchy: string): string {
  const search = (dir: string): string | undefined => {
    const procs = join(dir, 'cgroup.procs')
    if (existsSync(procs) && readFileSync(procs, 'utf8').split('\n').includes(String(process.pid))) return dir
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const found = entry.isDirectory() ? search(join(dir, entry.name)) : undefined
      if (found) return found
    }
    return undefined
  }
  return search(hierarchy) ?? expect.fail(`the test process ${process.pid} is in no cgroup.procs below ${hierarchy}`)
}

/** Where a process in `cgroup` appears in /proc/PID/cgroup, by controller ("" on v2). */
function expectedPaths(cgroup: Cgroup): Map<string, string> {
  const entries = Object.entries(cgroup.dirs).map(([c, dir]) =>
    cgroup.version === 2 ? ['', dir!.slice(CGROUP_ROOT.length)] as const : [c, dir!.slice(join(CGROUP_ROOT, c).length)] as const)
  return new Map(entries)
}

/**
 * withCgroup of a run whose process (a helper that runs sleep:20000) joins the cgroup by `enter`,
 * and whose run then ends by `end` (a return or a throw); then whether the process ended.
 */
async function holdingRun(spec: Spec, enter: (cgroup: Cgroup, pid: number) => Promise<void>, end: () => number) {
  const helper = startHelper()
  let cgroup: Cgroup | undefined
  const error = await caught(() => withCgroup(spec, async (cg) => {
    cgroup = cg
    await enter(cg, helper.pid)
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'sleep:20000'], [])
    return end()
  }))
  const ended = await Promise.race([helper.exited.then(() => true), sleep(3000).then(() => false)])
  return { error, cgroup: cgroup!, helper, ended }
}

/** Every directory of a cgroup, for "is it gone?" checks. */
const dirsOf = (cgroup: Cgroup) => [...new Set(Object.values(cgroup.dirs))]

const V2_OWN = '/user.slice/user-0.slice/session-1.scope'
const V2_SELF = `0::${V2_OWN}\n`

/** Where the text poses the questions behind the kernel's refusals. */
const FILES = 'the chapter\'s "From linux.resources to files"'

/** The files' names and values, whatever the order. */
const byName = (files: [Controller, string, string][]) => Object.fromEntries(files.map(([, file, value]) => [file, value]))

// The titles name the host's version without calling chapter code while tests are collected:
// stat(1) names the filesystem mounted there, as `stat -fc %T /sys/fs/cgroup` does in a shell.
const fsType = (dir: string) => (existsSync(dir) ? execFileSync('stat', ['-fc', '%T', dir], { encoding: 'utf8' }).trim() : 'none')
const HOST_V2 = fsType(CGROUP_ROOT) === 'cgroup2fs'
const HOST_VERSION = HOST_V2 ? 'v2' : 'v1 (or hybrid)'
/** A cgroup2 tree: the whole hierarchy on a v2 host, root/unified on a hybrid one. */
const V2_TREE = [CGROUP_ROOT, join(CGROUP_ROOT, 'unified')].find((dir) => fsType(dir) === 'cgroup2fs')

/** The version of this machine's kernel's hierarchies with controllers: v1 on a hybrid host. */
const KERNEL = HOST_V2 ? 2 : 1

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

  it('the caller\'s own cgroup holds the caller', async () => {
    const root = fakeV2()
    writeFileSync(join(root, V2_OWN, 'cgroup.procs'), `${process.pid}\n`)
    const spec = limitedSpec([], { memory: { limit: 64 * MiB }, pids: { limit: 32 } })
    spec.linux!.cgroupsPath = 'minidocker/c1'
    const cgroup = await createCgroup(spec, { root, self: V2_SELF })
    // The kernel's rule, as cgroup-v2.rst states it, asked of every directory the create wrote to.
    const busy = (dir: string): string[] => {
      const here = existsSync(join(dir, 'cgroup.procs')) && readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '' &&
        existsSync(join(dir, 'cgroup.subtree_control')) && readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim() !== '' ? [dir] : []
      return [...here, ...readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => busy(join(dir, e.name)))]
    }
    for (const dir of busy(join(root, 'user.slice')))
      expect.fail(`createCgroup put the container at ${cgroup.dirs.pids} and wrote "${readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim()}" to the cgroup.subtree_control of ${dir}, whose cgroup.procs lists the caller: what does a v2 kernel answer to that write, and where could the limits be set instead? (cgroup-v2.rst, "No Internal Process Constraint")`)
  })

  it('memory, swap, CPU and pids limits at minidocker/c1', async () => {
    const root = fakeV2()
    const spec = limitedSpec([], { memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 32 } })
    spec.linux!.cgroupsPath = 'minidocker/c1'
    const cgroup = await createCgroup(spec, { root, self: V2_SELF })
    // Where cgroupDirs puts it (its own tests are above), and the level cgroupsPath starts from.
    const leaf = cgroupDirs('minidocker/c1', 2, root, V2_SELF).memory!
    const read = (path: string) => {
      const file = join(dirname(dirname(leaf)), path)
      return existsSync(file) ? readFileSync(file, 'utf8').trim() : `(${path} was never written)`
    }
    expect(cgroup.version).toBe(2)
    expect(cgroup.dirs.memory).toBe(leaf)
    for (const parent of ['cgroup.subtree_control', 'minidocker/cgroup.subtree_control'])
      expect(read(parent).split(' ').sort(), `${parent}, with limits on memory, swap, CPU and pids: what did you write there? (cgroup-v2.rst, "Enabling and Disabling")`).toEqual(['+cpu', '+memory', '+pids'])
    // The values themselves are resourceFiles' (judged above): here, that each reached the leaf.
    for (const [file, value] of Object.entries(byName(resourceFiles(spec.linux!.resources!, 2))))
      expect(read(`minidocker/c1/${file}`), `${file} of the container's cgroup`).toBe(value)
    await joinCgroup(cgroup, 4242)
    expect(read('minidocker/c1/cgroup.procs'), 'cgroup.procs after joining PID 4242').toBe('4242')
    writeFileSync(join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n')
    expect(await oomKilled(cgroup), 'oomKilled, with oom_kill 1 in memory.events').toBe(true)
  })

  it('parents that already enable some controllers', async () => {
    const root = fakeV2()
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

  /** createCgroup and removeCgroup of `cgroupsPath` on a fake tree, the caller alone in /lonely/caller (/lonely there before). */
  async function aloneInLonely(cgroupsPath: string): Promise<{ root: string; cgroup: Cgroup }> {
    const root = fakeV2()
    mkdirSync(join(root, 'lonely'))
    const spec = probeSpec([])
    spec.linux!.cgroupsPath = cgroupsPath
    const cgroup = await createCgroup(spec, { root, self: '0::/lonely/caller\n' })
    await removeCgroup(cgroup)
    return { root, cgroup }
  }

  it('removal with the caller alone in /lonely/caller', async () => {
    const { root } = await aloneInLonely('minidocker/c5')
    expect(existsSync(join(root, 'lonely/minidocker/c5')), 'the leaf is still there').toBe(false)
    expect(existsSync(join(root, 'lonely/minidocker')), 'lonely/minidocker, named by cgroupsPath and now empty, is still there: which directories are a container\'s to remove? (the chapter\'s "Removing it")').toBe(false)
    expect(existsSync(join(root, 'lonely')), 'lonely/, there before createCgroup, was removed by removeCgroup: whose directory is it? (the chapter\'s "Removing it")').toBe(true)
  })

  it('removal of a cgroupsPath that goes down and back up with ..', async () => {
    const path = 'tmp/x/../../minidocker/c7'
    const { root, cgroup } = await aloneInLonely(path)
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir}, the leaf, is still there`).toBe(false)
    expect(existsSync(join(root, 'lonely')), `lonely/, there before createCgroup, was removed by removeCgroup of cgroupsPath ${path}: which directories did this create make, and how many levels lie between the leaf and the base? (the chapter's "Removing it")`).toBe(true)
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
  it('an update that gives a CPU period alone, on the fake tree', async () => {
    const root = fakeV2()
    const made = (path: string, resources: Resources) => createCgroup(at(path, resources), { root, self: V2_SELF })
    const live = await made('minidocker/live', { cpu: { quota: 50000, period: 100000 } })
    const fresh = await made('minidocker/fresh', { cpu: { quota: 50000, period: 200000 } })
    await updateCgroup(live, { cpu: { period: 200000 } })
    const read = (cgroup: Cgroup) => readFileSync(join(cgroup.dirs.cpu!, 'cpu.max'), 'utf8').trim()
    expect(read(live), `cpu.max of a cgroup created with a 50 ms quota per 100 ms and then given a 200 ms period alone reads "${read(live)}", where one created with 50 ms per 200 ms reads "${read(fresh)}": what does the container run with now, and what did the update ask to change? (the chapter's "Changing the limits of a running container")`).toBe(read(fresh))
  })

  it('an update that gives a memory limit alone, on the fake tree', async () => {
    const root = fakeV2()
    const made = (path: string, resources: Resources) => createCgroup(at(path, resources), { root, self: V2_SELF })
    const live = await made('minidocker/live', { memory: { limit: 64 * MiB, swap: 128 * MiB } })
    const fresh = await made('minidocker/fresh', { memory: { limit: 96 * MiB, swap: 128 * MiB } })
    const read = (cgroup: Cgroup) => ['memory.max', 'memory.swap.max'].map((file) => `${file} ${readFileSync(join(cgroup.dirs.memory!, file), 'utf8').trim()}`).join(', ')
    await updateCgroup(live, { memory: { limit: 96 * MiB } })
    expect(read(live), `a cgroup created with 64 MiB of memory and 128 MiB of memory+swap, then given a 96 MiB memory limit alone, reads ${read(live)}, where one created with 96 MiB and 128 MiB reads ${read(fresh)}: how much may the container now hold in memory and swap together, and what did the update ask to change? (the chapter's "Changing the limits of a running container")`).toBe(read(fresh))
    const was = read(live)
    const error = await caught(() => updateCgroup(live, { memory: { limit: 192 * MiB } }))
    expect(error, `a 192 MiB memory limit alone, on that cgroup, ${error ? `failed with "${error.message}"` : 'resolved'} and left ${read(live)}: what would a v1 kernel answer to the same update, with its memory+swap file at 128 MiB, and what must the caller give for it to mean anything? (the chapter's "Changing the limits of a running container")`).toBeInstanceOf(ContainerError)
    expect(read(live), `after the 192 MiB update was refused (${error?.message})`).toBe(was)
  })

  it('a memory limit with memory+swap -1, on a kernel that accounts no swap', async () => {
    const root = fakeV2()
    const spec = limitedSpec([], { memory: { limit: 64 * MiB, swap: -1 } })
    spec.linux!.cgroupsPath = 'minidocker/c8'
    const leaf = cgroupDirs('minidocker/c8', 2, root, V2_SELF).memory!
    swapNotCounted(root, leaf, 'memory.swap.max')
    let cgroup: Cgroup | undefined
    const error = await caught(async () => void (cgroup = await createCgroup(spec, { root, self: V2_SELF })))
    expect(error?.message, `createCgroup of 64 MiB of memory with memory+swap -1 failed (${error?.message}) where the kernel accounts no swap, so that its memory cgroups have no swap file: what did -1 ask for, and what does such a kernel give the container anyway? (${FILES})`).toBeUndefined()
    const limit = join(leaf, 'memory.max')
    expect(existsSync(limit) ? readFileSync(limit, 'utf8').trim() : 'never written', 'memory.max of the container\'s cgroup').toBe(byName(resourceFiles(spec.linux!.resources!, 2))['memory.max'])
    const raised: Resources = { memory: { limit: 128 * MiB, swap: -1 } }
    const update = await caught(() => updateCgroup(cgroup!, raised))
    stop()
    expect(update?.message, `updating to 128 MiB of memory with memory+swap -1 failed (${update?.message}) on the same kernel, which accounts no swap: which of the files you read or wrote is not there? (${FILES})`).toBeUndefined()
    expect(readFileSync(limit, 'utf8').trim(), 'memory.max after the update').toBe(byName(resourceFiles(raised, 2))['memory.max'])
  })
})

describe('cgroup v1, on a directory laid out like one', () => {
  const TWO_NAMES = 'the chapter\'s "When the leaf is already there"'
  /** The caller in /batch of every hierarchy. */
  const SELF = '8:pids:/batch\n4:memory:/batch\n2:cpu,cpuacct:/batch\n0::/\n'

  /**
   * A fake v1 root with memory and pids, and cpu and cpuacct either mounted apart or, as most
   * distributions mount them, as one hierarchy at cpu,cpuacct that the names cpu and cpuacct lead to.
   */
  function fakeV1(together: boolean): string {
    const root = tempDir('fake-cgroup1-')
    const hierarchies = together ? ['memory', 'pids', 'cpu,cpuacct'] : ['memory', 'pids', 'cpu', 'cpuacct']
    for (const name of hierarchies) mkdirSync(join(root, name, 'batch'), { recursive: true })
    if (together) for (const name of ['cpu', 'cpuacct']) symlinkSync('cpu,cpuacct', join(root, name))
    return root
  }

  /** What rmdir of a kernel's cgroup takes with it: the files a plain directory would still hold. */
  function dropFiles(cgroup: Cgroup): void {
    for (const dir of dirsOf(cgroup)) {
      if (!existsSync(dir)) continue
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (!entry.isDirectory()) rmSync(join(dir, entry.name))
    }
  }

  const spec = (path: string) => {
    const made = probeSpec([])
    made.linux!.resources = { memory: { limit: 64 * MiB }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 32 } }
    made.linux!.cgroupsPath = path
    return made
  }

  it('cpu and cpuacct mounted as one hierarchy under two names', async () => {
    const root = fakeV1(true)
    const error = await caught(() => createCgroup(spec('minidocker/c1'), { root, self: SELF }))
    expect(error?.message, `createCgroup failed (${error?.message}) where cpu and cpuacct are one hierarchy that both names lead to (ls -l /sys/fs/cgroup on most distributions): which of the directories you found there were made by someone else, and how can you tell? (${TWO_NAMES})`).toBeUndefined()
    const cgroup = await createCgroup(spec('minidocker/c2'), { root, self: SELF })
    const quota = join(root, 'cpu,cpuacct/batch/minidocker/c2/cpu.cfs_quota_us')
    expect(existsSync(quota) ? readFileSync(quota, 'utf8').trim() : 'never written', 'cpu.cfs_quota_us of the container\'s cgroup in the cpu,cpuacct hierarchy').toBe('50000')
    dropFiles(cgroup)
    const removal = await caught(() => removeCgroup(cgroup))
    expect(removal?.message, `removing a cgroup whose cpu and cpuacct directories are one directory under two names failed (${removal?.message}): what did your removal meet at the second name? (the chapter's "Removing it")`).toBeUndefined()
    for (const h of ['memory', 'pids', 'cpu,cpuacct']) {
      expect(existsSync(join(root, h, 'batch/minidocker/c2')), `${h}/batch/minidocker/c2 is still there after removeCgroup`).toBe(false)
      expect(existsSync(join(root, h, 'batch/minidocker/c1')), `${h}/batch/minidocker/c1, the other container's cgroup, was removed with c2`).toBe(true)
    }
  })

  it('a leftover leaf in cpuacct alone, cpu and cpuacct mounted apart', async () => {
    const root = fakeV1(false)
    const left = join(root, 'cpuacct/batch/minidocker/c1')
    mkdirSync(left, { recursive: true })
    const error = await caught(() => createCgroup(spec('minidocker/c1'), { root, self: SELF }))
    expect(error, `createCgroup ${error ? `failed with "${error.message}", not a ContainerError,` : 'resolved'} where ${left} was there before it, in a hierarchy of its own, and the memory, pids and cpu leaves were not: who made each of them, and what did your create make of it? (${TWO_NAMES})`).toBeInstanceOf(ContainerError)
    expect(existsSync(left), `${left}, there before createCgroup, is gone`).toBe(true)
    for (const h of ['memory', 'pids', 'cpu']) expect(existsSync(join(root, h, 'batch/minidocker/c1')), `${h}/batch/minidocker/c1, made by the refused create, is still there`).toBe(false)
  })
  it('memory 64 MiB with memory+swap -1, and with memory+swap 128 MiB, on a kernel that accounts no swap', async () => {
    const ask = (path: string, swap: number) => {
      const made = spec(path)
      made.linux!.resources = { memory: { limit: 64 * MiB, swap } }
      return made
    }
    const root = fakeV1(false)
    swapNotCounted(root, join(root, 'memory/batch/minidocker/c1'), 'memory.memsw.limit_in_bytes')
    const error = await caught(() => createCgroup(ask('minidocker/c1', -1), { root, self: SELF }))
    stop()
    expect(error?.message, `createCgroup of 64 MiB of memory with memory+swap -1 failed (${error?.message}) where the kernel accounts no swap, so that its memory cgroups have no memory+swap file: what did -1 ask for, and what does such a kernel give the container anyway? (${FILES})`).toBeUndefined()
    const limit = join(root, 'memory/batch/minidocker/c1/memory.limit_in_bytes')
    expect(existsSync(limit) ? readFileSync(limit, 'utf8').trim() : 'never written', 'memory.limit_in_bytes of the container\'s cgroup').toBe(String(64 * MiB))
    const other = fakeV1(false)
    swapNotCounted(other, join(other, 'memory/batch/minidocker/c2'), 'memory.memsw.limit_in_bytes')
    const limited = await caught(() => createCgroup(ask('minidocker/c2', 128 * MiB), { root: other, self: SELF }))
    stop()
    expect(limited, `createCgroup of 64 MiB of memory with 128 MiB of memory+swap resolved where the kernel accounts no swap: how much swap may the container now use, and who will learn that it was not the limit asked for? (${FILES})`).toBeDefined()
  })
})

describeKernel(`limits in a real cgroup (${HOST_VERSION} on this machine)`, () => {

  it('a pids limit, with a relative cgroupsPath', async () => {
    const spec = limitedSpec(['exit:0'], { pids: { limit: 64 } })
    const { cgroup } = await runLimited(spec, () => {})
    const own = ownCgroupIn(HOST_V2 ? CGROUP_ROOT : join(CGROUP_ROOT, 'memory'))
    // v2: within the caller's top-level slice; whether limits can be set there the kernel judges on writing them.
    const base = HOST_V2 ? join(CGROUP_ROOT, own.slice(CGROUP_ROOT.length).split('/')[1]!) : own
    expect(cgroup.dirs.memory!.startsWith(`${base}/`), `${cgroup.dirs.memory} is not below ${base}, where the kernel lists the test process: whose limits still hold over the container? (/proc/self/cgroup)`).toBe(true)
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
      ? 'did the limit hold: was the process in the cgroup before exec?'
      : 'which processes are in the cgroup for the whole run, and which of them are the container\'s? (draw chapter 02\'s processes; the chapter\'s "No window without limits")'
    expect(forked, `PID 1 forked ${forked} children under pids.max 8: ${why}`).toBe(7)
    expect(probeValue(stdout, 'error'), 'the errno of the fork past the limit').toBe('EAGAIN')
  })

  it('alloc:64 under a 16 MiB memory limit', async () => {
    const spec = limitedSpec(['alloc:64'], { memory: { limit: 16 * MiB, swap: 16 * MiB } })
    const { code, oomKilled: oom } = await runLimited(spec)
    expect(code, 'the exit code of alloc:64 under a 16 MiB limit').toBe(137)
    expect(oom, 'the run did not report the OOM kill, though the kernel killed a process of the cgroup: where does the kernel count it, and what did your withCgroup do before it asked? (the chapter\'s "OOM, and noticing it")').toBe(true)
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
    expect(share, `the cgroup used ${usageMs.toFixed(0)} ms of CPU in 1000 ms: asked for 20 ms in every 100 ms: which of your writes did the kernel enforce, and was the probe under them from its first instruction? (${FILES})`).toBeLessThan(0.35)
    expect(share, 'the cgroup\'s own CPU counter barely moved: is the probe in the cgroup before it execs?').toBeGreaterThan(0.05)
  })

  it('after the container exits', async () => {
    const spec = limitedSpec(['exit:3'], { pids: { limit: 8 } })
    spec.linux!.cgroupsPath += '/c' // a parent of this test's own: minidocker-test-PID/ holds other tests' cgroups
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

  const OVER = 'the chapter\'s "When is a container over?"'
  it('PID 1 without a PID namespace of its own, whose descendants run on after it exits', async () => {
    // As `docker run --pid host`: PID 1's exit takes nothing else with it.
    const spec = limitedSpec(['storm:3000', 'exit:0'], { pids: { limit: 32 } })
    spec.linux!.namespaces = spec.linux!.namespaces!.filter(({ type }) => type !== 'pid')
    let cgroup: Cgroup | undefined
    let code: number | undefined
    const error = await caught(() => withCgroup(spec, async (cg) => {
      cgroup = cg
      code = (await runCaptured(spec, (h) => forkIntoCgroup(h, cg, () => enterNamespaces(h, spec)))).code
      return code
    }))
    const what = `the container's PID 1 exited (${code}) while processes it had forked still ran in its cgroup (a spec with no PID namespace of its own)`
    expect(error?.message, `withCgroup failed (${error?.message}): ${what}. What was still in the cgroup when you removed it, and whose was it to end? (${OVER})`).toBeUndefined()
    for (const dir of dirsOf(cgroup!)) expect(existsSync(dir), `${dir} is still there after withCgroup resolved: ${what} (${OVER})`).toBe(false)
  })

  it('a start that fails while the container\'s process is already in its cgroup', async () => {
    const { error, cgroup, helper, ended } = await holdingRun(limitedSpec([], { pids: { limit: 8 } }), joinCgroup, () => {
      throw new ContainerError('error running hook #0: exit status 1', 125)
    })
    expect(error?.message, `withCgroup's error, where the run failed with "error running hook #0" after its process had joined the cgroup and was still running (${error?.message}): which error is the caller's answer, and what stood in the way of the other one? (${OVER})`).toMatch(/error running hook #0/)
    for (const dir of dirsOf(cgroup!)) expect(existsSync(dir), `${dir} is still there after a failed start whose process was in it (${OVER})`).toBe(false)
    expect(ended, `the container's process (PID ${helper.pid}) still runs after its start failed and withCgroup returned: is a container that failed to start over? (${OVER})`).toBe(true)
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
    expect(error?.message, `a 0.4 CPU limit below a 0.5 CPU parent was refused (${error?.message}): what does the kernel check a new quota against, at the moment it is written? (kernel/sched/core.c, tg_set_cfs_bandwidth)`).toBeUndefined()
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
    for (const dir of dirsOf(second)) expect(existsSync(dir), `${dir}, the other container's cgroup, is gone after the first one's removal`).toBe(true)
    expect(waited, `removing the first container took ${waited} ms while the second still uses their shared parent: what in the tree did its time depend on, and for how long would it? (the chapter's "Removing it")`).toBeLessThan(500)
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
    expect(error?.message, `removeCgroup gave up (${error?.message}) while a process was still inside for 100 ms more: what was rmdir refusing, and for how long? (kernel/cgroup/cgroup.c, cgroup_destroy_locked)`).toBeUndefined()
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there after removeCgroup resolved`).toBe(false)
  })
})

describeKernel(`a container that makes cgroups of its own (${HOST_VERSION} on this machine)`, () => {
  // As a container running systemd, or a runtime of its own, does inside the cgroup it was given.
  const inner = (cgroup: Cgroup) => dirsOf(cgroup).map((dir) => join(dir, 'init.scope'))

  it('removeCgroup of a cgroup that holds an empty cgroup of the container\'s', async () => {
    const cgroup = await createCgroup(limitedSpec(['exit:0'], { pids: { limit: 8 } }))
    for (const dir of inner(cgroup)) mkdirSync(join(dir, 'payload'), { recursive: true })
    const error = await caught(() => removeCgroup(cgroup))
    const what = 'the container had made init.scope/payload inside its cgroup and left them empty'
    expect(error?.message, `removeCgroup failed (${error?.message}): ${what}. What was rmdir refusing, whose are those directories, and would waiting have changed anything? (the chapter's "Removing it")`).toBeUndefined()
    for (const dir of dirsOf(cgroup)) expect(existsSync(dir), `${dir} is still there after removeCgroup resolved: ${what}`).toBe(false)
  })

  it('withCgroup of a run whose process sits in a cgroup of the container\'s', async () => {
    const { error, cgroup, helper, ended } = await holdingRun(limitedSpec([], { pids: { limit: 8 } }), async (cg, pid) => {
      for (const dir of inner(cg)) mkdirSync(dir)
      await joinCgroup({ ...cg, dirs: Object.fromEntries(Object.entries(cg.dirs).map(([c, dir]) => [c, join(dir, 'init.scope')])) }, pid)
    }, () => 0)
    const what = `PID 1 exited while a process of the container (PID ${helper.pid}) ran on in init.scope, a cgroup the container had made inside its own`
    expect(error?.message, `withCgroup failed (${error?.message}): ${what}. What does a cgroup's cgroup.procs list, and what did your removal meet? (man 7 cgroups; the chapter's "When is a container over?")`).toBeUndefined()
    expect(ended, `${what}, and it still runs after withCgroup resolved: is the container over? (the chapter's "When is a container over?")`).toBe(true)
    for (const dir of dirsOf(cgroup!)) expect(existsSync(dir), `${dir} is still there after withCgroup resolved: ${what}`).toBe(false)
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
        settled.push(removeCgroup(cgroup).catch((e: Error) => failures.push(`removing container ${name} failed (${e.message}) while others came and went below its parent: what did its removal meet there? (${RACE})`)))
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
    expect(error?.message, `removing container a failed (${error?.message}) while others came and went below the same parent: what did your removal meet there? (${RACE})`).toBeUndefined()
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

describeKernel(`a leaf that is there already (${HOST_VERSION} on this machine)`, () => {
  const LEAF = 'the chapter\'s "When the leaf is already there"'
  const CONTROLLERS = KERNEL === 1 ? ['memory', 'cpu', 'cpuacct', 'pids'] : ['memory', 'cpu', 'pids']
  /** A spec with memory and pids limits at `path`. */
  const asking = (path: string) => {
    const spec = probeSpec([])
    spec.linux!.resources = { memory: { limit: 64 * MiB }, pids: { limit: 64 } }
    spec.linux!.cgroupsPath = path
    return spec
  }
  /** Where `path`'s leaves are on this machine (cgroupDirs has tests of its own above). */
  const leavesOf = (path: string) => [...new Set(Object.values(cgroupDirs(path, KERNEL, CGROUP_ROOT, readFileSync('/proc/self/cgroup', 'utf8'))))]
  /** What a cgroup's limit and freeze files read, for "was it touched?" checks. */
  const settings = (dir: string) => Object.fromEntries(['pids.max', 'memory.limit_in_bytes', 'memory.max', 'cgroup.freeze', 'cgroup.procs']
    .filter((file) => existsSync(join(dir, file))).map((file) => [file, readFileSync(join(dir, file), 'utf8').trim()]))

  it('a leaf left by a run that was killed: empty, with limits of its own (v2: frozen too)', async () => {
    // On v1 it is in the pids hierarchy alone, as a run killed half-way through its create leaves it.
    const dirs = testCgroupDirs(CGROUP_ROOT, KERNEL, ['pids'])
    const left = dirs('left').pids!
    writeFileSync(join(left, 'pids.max'), '5')
    if (KERNEL === 2) writeFileSync(join(left, 'cgroup.freeze'), '1')
    const before = settings(left)
    const path = `${dirs.path}/left`
    const error = await caught(() => createCgroup(asking(path)))
    expect(error, `createCgroup ${error ? `failed with "${error.message}", not a ContainerError,` : 'resolved'} with ${left} there already: empty, pids.max 5, left by a run that was killed (${LEAF})`).toBeInstanceOf(ContainerError)
    expect(error.message, `createCgroup refused with "${error.message}", with ${left} there already: which directory would the caller look at, and could it tell from this? (${LEAF})`).toContain(left)
    expect(existsSync(left), `${left}, there before createCgroup, is gone after createCgroup refused it: which directories may a create's undo remove? (${LEAF})`).toBe(true)
    expect(settings(left), `${left}, there before createCgroup, was written to by a create that refused it`).toEqual(before)
    for (const leaf of leavesOf(path).filter((dir) => dir !== left))
      expect(existsSync(leaf), `${leaf}, made by a create that then found ${left} there and refused, is still there: what must a failed create take with it? (${LEAF})`).toBe(false)
  })

  it('a leaf with another container\'s process in it', async () => {
    const dirs = testCgroupDirs(CGROUP_ROOT, KERNEL, CONTROLLERS)
    const other = dirs('busy')
    const leaves = [...new Set(Object.values(other))]
    writeFileSync(join(other.pids!, 'pids.max'), '7')
    const helper = startHelper()
    for (const dir of leaves) writeFileSync(join(dir, 'cgroup.procs'), String(helper.pid))
    const before = leaves.map(settings)
    const count = readFileSync(join(other.pids!, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length
    const error = await caught(() => createCgroup(asking(`${dirs.path}/busy`)))
    expect(error, `createCgroup ${error ? `failed with "${error.message}", not a ContainerError,` : 'resolved'} on ${other.pids}, where another container's process runs: two containers would share one cgroup, and each one's limits (${LEAF})`).toBeInstanceOf(ContainerError)
    const names = leaves.some((dir) => error.message.includes(dir)) && (error.message.includes(String(helper.pid)) || new RegExp(`\\b${count}\\b`).test(error.message))
    expect(names, `createCgroup refused with "${error.message}", where the kernel lists ${count} process(es), PID ${helper.pid}, in ${leaves.join(' and ')}: can the caller tell from it which directory is in the way and whether a container still runs there?`).toBe(true)
    expect(leaves.map(settings), 'the other container\'s cgroup, its limits and its process after the refused create: whose are they to change or remove?').toEqual(before)
  })

  it('two creates with one cgroupsPath at the same moment', async () => {
    // The second starts at each of the first one's file-system calls in turn.
    for (let step = 0; step < 6; step++) {
      const base = testCgroupPath()
      const path = `${base}/c`
      let second: Promise<Cgroup> | undefined
      let calls = 0
      between(base, () => void (calls++ === step && (second = createCgroup(asking(path)))))
      const first = createCgroup(asking(path))
      await first.catch(() => {})
      stop()
      const when = second ? `the second started at the first one's file-system call ${step + 1}` : 'the second started after the first'
      second ??= createCgroup(asking(path))
      const results = await Promise.allSettled([first, second])
      for (const result of results) if (result.status === 'rejected' && result.reason instanceof NotImplementedError) throw result.reason
      const won = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
      const lost = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []))
      expect(won.length, `${won.length} of two creates with one cgroupsPath got the cgroup (${when}${lost.length ? `; ${lost.map((e) => e.message).join('; ')}` : ''}): two containers would share one cgroup (${LEAF})`).toBe(1)
      expect(lost[0], `the create that did not get the cgroup (${when}) came out with ${lost[0] ? `"${lost[0].message}"` : 'nothing'}: what does its caller learn of why, and of what to do? (${LEAF})`).toBeInstanceOf(ContainerError)
      for (const dir of dirsOf(won[0]!)) expect(existsSync(dir), `${dir}, the cgroup of the create that got it, is gone after the other one was refused (${when}): which directories may a refused create's undo take? (${LEAF})`).toBe(true)
      await removeCgroup(won[0]!)
    }
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
  /**
   * A cgroup created with `before` and updated to `after`, and one created with `after` beside
   * it, below a parent created with `parent`: the update must leave what a fresh cgroup gets.
   */
  async function expectUpdate(before: Resources, after: Resources, parent: Resources = {}, whole: Resources = after) {
    const base = testCgroupPath()
    const outer = await createCgroup(at(base, parent))
    const live = await createCgroup(at(`${base}/live`, before))
    const fresh = await createCgroup(at(`${base}/fresh`, whole))
    const where = parent.cpu ? ` below a parent with ${inWords(parent)}` : ''
    const error = await caught(() => updateCgroup(live, after))
    expect(error?.message, `updating ${inWords(before)} to ${inWords(after)}${where} was refused (${error?.message}): which limits are in force at each of your writes, on a cgroup that is not new? (the chapter's "Changing the limits of a running container")`).toBeUndefined()
    const [seen, wanted] = [limitsOf(live), limitsOf(fresh)]
    for (const file of Object.keys(wanted))
      expect(seen[file], `${file} after updating ${inWords(before)} to ${inWords(after)}${where} reads ${seen[file]}, where a cgroup created with ${inWords(whole)} reads ${wanted[file]}`).toBe(wanted[file])
    for (const cgroup of [live, fresh, outer]) await removeCgroup(cgroup)
  }

  const memory = (limit: number, swap: number): Resources => ({ memory: { limit: limit * MiB, swap: swap * MiB } })
  const cpu = (quota: number, period: number): Resources => ({ cpu: { quota: quota * 1000, period: period * 1000 } })

  it('memory 64 MiB with 128 MiB memory+swap, raised to 256 MiB with 512 MiB', () => expectUpdate(memory(64, 128), memory(256, 512)))
  it('memory 64 MiB with 128 MiB memory+swap, lowered to 16 MiB with 32 MiB', () => expectUpdate(memory(64, 128), memory(16, 32)))
  it('a 50 ms quota per 100 ms period, changed to 20 ms per 50 ms below a 0.5 CPU parent', () => expectUpdate(cpu(50, 100), cpu(20, 50), cpu(50, 100)))
  it('a 20 ms quota per 50 ms period, changed to 50 ms per 100 ms below a 0.5 CPU parent', () => expectUpdate(cpu(20, 50), cpu(50, 100), cpu(50, 100)))
  it('a 50 ms quota per 100 ms period, given a 200 ms period alone', () => expectUpdate(cpu(50, 100), { cpu: { period: 200000 } }, {}, cpu(50, 200)))
  it('memory 64 MiB with 128 MiB memory+swap, given a 96 MiB memory limit alone', () => expectUpdate(memory(64, 128), { memory: { limit: 96 * MiB } }, {}, memory(96, 128)))
  it('an update with every value 0, then one with a memory limit and a swap of 0', async () => {
    const before: Resources = { ...memory(64, 128), ...cpu(50, 100), pids: { limit: 32 } }
    const live = await createCgroup(at(testCgroupPath(), before))
    const old = limitsOf(live)
    const zeros: Resources = { memory: { limit: 0, swap: 0 }, cpu: { quota: 0, period: 0, shares: 0 }, pids: { limit: 0 } }
    const error = await caught(() => updateCgroup(live, zeros))
    const now = limitsOf(live)
    for (const file of Object.keys(old))
      expect(error ? error.message : now[file], `${file} read ${old[file]} before an update whose every value was 0, and ${error ? `the update failed (${error.message})` : `reads ${now[file]} after it`}: what did that update leave the container with? (runtime-spec config-linux.md; ${FILES})`).toBe(old[file])
    await updateCgroup(live, { memory: { limit: 96 * MiB, swap: 0 } })
    // Without swap accounting there is no swap file to ask. What memory and swap may hold together:
    // v1's memsw file says it, v2's swap file holds the swap alone.
    const swapFile = Object.keys(old).find((file) => file.includes('sw'))
    const together = (limits: Record<string, string>) => (live.version === 1 ? Number(limits[swapFile!]) : Number(limits['memory.max']) + Number(limits[swapFile!]))
    const after = limitsOf(live)
    if (swapFile) expect(together(after), `${swapFile} read ${old[swapFile]} before an update to 96 MiB of memory with a swap of 0, and reads ${after[swapFile]} after it: how much may the container now hold in memory and swap together, and what did the caller mean by a swap of 0? (runtime-spec config-linux.md, "Memory")`).toBe(together(old))
    await removeCgroup(live)
  })

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

  const UNDO = 'the chapter\'s "When setting back is refused too"'
  /** Sleep without leaving the call: a step between the calls of the code under test cannot await. */
  const pause = (ms: number) => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

  it('an update refused half-way while the container\'s memory use grows into the raised limit', async () => {
    // No swap, so that nothing the probe holds can be swapped out to make room; a CPU limit of
    // its own, so that v2's cpu.max is there to be refused.
    const before = { ...memory(32, 32), ...cpu(50, 100) }
    const after: Resources = { ...memory(96, 96), cpu: { quota: 500, period: 100000 } }
    const base = testCgroupPath()
    const live = await createCgroup(at(base, before))
    const old = limitsOf(live)
    const [limit, usage, events] = (live.version === 1 ? ['memory.limit_in_bytes', 'memory.usage_in_bytes', 'memory.oom_control'] : ['memory.max', 'memory.current', 'memory.events'])
      .map((file) => join(live.dirs.memory!, file)) as [string, string, string]
    const helper = startHelper({ stdout: 'pipe' })
    let printed = ''
    const waiting = new Promise<void>((resolve) => helper.process.stdout!.on('data', (chunk: Buffer) => {
      printed += chunk.toString()
      if (printed.includes('"waiting"')) resolve()
    }))
    await joinCgroup(live, helper.pid)
    await helper.exec(PROBE_PATH, [PROBE_PATH, 'alloc:8', 'wait-signal', 'alloc:40', 'wait-signal'], [])
    const ended = await Promise.race([waiting.then(() => undefined), helper.exited])
    if (ended) expect.fail(`the probe ended before it held its memory (${JSON.stringify(ended)}): ${printed}`)
    // The container takes 40 MiB more as soon as it may: when a memory limit above the old one is in force.
    let grew = false
    between(base, () => {
      if (grew || !(Number(readFileSync(limit, 'utf8')) > 32 * MiB)) return
      grew = true
      helper.kill('SIGUSR1')
      for (let i = 0; i < 1000 && Number(readFileSync(usage, 'utf8')) < 40 * MiB; i++) pause(5)
    })
    const error = await caught(() => updateCgroup(live, after))
    stop()
    const where = grew ? ', and the container took 40 MiB more once your raised memory limit let it,' : ''
    expect(error?.message, `updating to a quota of 500 µs, under the kernel's minimum, resolved: what did the kernel answer to that write, and where did its answer go?`).toBeDefined()
    expect(readKeyed(events).oom_kill ?? 0, `the container was OOM-killed during an update the kernel refused${where}: what did your update leave the container with? (${UNDO})`).toBe(0)
    const now = limitsOf(live)
    for (const file of Object.keys(old))
      expect(now[file], `${file} reads ${now[file]} after an update the kernel refused${where} and read ${old[file]} before: the container used more memory meanwhile: what did setting back meet there? (${UNDO})`).toBe(old[file])
    expect(error.message, `the error of a refused update must name the file and the value refused (${error.message})`).toMatch(/500.*cpu\.(cfs_quota_us|max)|cpu\.(cfs_quota_us|max).*500/)
  })

  // Only v1 checks a CPU quota against the parent's: v2 caps it instead, and refuses no setting back.
  if (KERNEL === 1) {
    it('an update refused half-way whose setting back the kernel refuses too: the parent\'s CPU limit lowered meanwhile', async () => {
      const base = testCgroupPath()
      const outer = await createCgroup(at(base, cpu(50, 100)))
      const before: Resources = { ...memory(64, 128), ...cpu(50, 100) }
      const after: Resources = { memory: { limit: 48 * MiB }, cpu: { quota: 500, period: 200000 } }
      const live = await createCgroup(at(`${base}/live`, before))
      const old = limitsOf(live)
      // Once the longer period is in force, someone else lowers the parent to 0.3 CPU: the child's
      // 50 ms per 200 ms fits under it, its old 50 ms per 100 ms no longer does.
      let lowered = false
      between(base, () => {
        if (lowered || readFileSync(join(live.dirs.cpu!, 'cpu.cfs_period_us'), 'utf8').trim() !== '200000') return
        writeFileSync(join(outer.dirs.cpu!, 'cpu.cfs_quota_us'), '30000')
        lowered = true
      })
      const error = await caught(() => updateCgroup(live, after))
      stop()
      expect(error?.message, `updating to a quota of 500 µs, under the kernel's minimum, resolved: what did the kernel answer to that write, and where did its answer go?`).toBeDefined()
      expect(lowered, 'the update was refused before a 200 ms period was ever in force, so the parent was never lowered between its writes (the chapter\'s "Changing the limits of a running container")').toBe(true)
      expect(error.message, `the update was refused twice, first at the 500 µs quota, then at setting a file back, and its error says "${error.message}": which of the two refusals tells the caller what to change in its request? (${UNDO})`).toMatch(/500.*cpu\.cfs_quota_us|cpu\.cfs_quota_us.*500/)
      const now = limitsOf(live)
      for (const file of Object.keys(old).filter((f) => now[f] !== old[f]))
        expect([file, now[file]].every((text) => error.message.includes(text)), `${file} reads ${now[file]} after an update the kernel refused, and read ${old[file]} before, but the error (${error.message}) does not say that ${file} is ${now[file]} now: the parent's limit was lowered meanwhile: what does the caller now believe the container's limits are? (${UNDO})`).toBe(true)
    })
  }
})
