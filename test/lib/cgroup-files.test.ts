/**
 * lib/cgroup-files.ts (given code, chapter 04): where a container's cgroup goes, and which files
 * its linux.resources become, judged by the kernel of this machine where a kernel can judge them.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CGROUP_ROOT, V1_CONTROLLERS, type Controller } from '../../lib/cgroup.ts'
import { cgroupDirs, resourceFiles } from '../../lib/cgroup-files.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Resources } from '../../lib/oci.ts'
import { testCgroupDirs } from '../support/cgroups.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'

const MiB = 1024 * 1024

/** A caller placed differently in each v1 hierarchy: [hierarchy ID, controllers, its cgroup there]. */
const V1_PLACES: [number, string, string][] = [[9, 'name=systemd', '/'], [8, 'pids', '/'], [6, 'cpuset', '/pinned'], [4, 'memory', '/user/1000'], [2, 'cpu,cpuacct', '/batch'], [0, '', '/']]
const V1_SELF = `${V1_PLACES.map((fields) => fields.join(':')).join('\n')}\n`
const V2_OWN = '/user.slice/user-0.slice/session-1.scope'
const V2_SELF = `0::${V2_OWN}\n`
/** The caller's own cgroup for `controller` ("" for v2), from the test's own data. */
const ownIn = (self: string, controller: string) =>
  self === V2_SELF ? V2_OWN : V1_PLACES.find(([, controllers]) => controllers.split(',').includes(controller))![2]

describe('cgroupDirs', () => {
  it('v1: a relative cgroupsPath, the caller in a different cgroup in each hierarchy', () => {
    const dirs = cgroupDirs('minidocker/c1', 1, '/cg', V1_SELF)
    expect(Object.keys(dirs).sort(), 'the controllers of the v1 directories').toEqual([...V1_CONTROLLERS].sort())
    for (const [controller, dir] of Object.entries(dirs)) {
      const own = join('/cg', controller, ownIn(V1_SELF, controller))
      expect(dir, `v1 ${controller} directory for minidocker/c1, the caller in ${own}: where is the caller in each hierarchy, and whose limits must still hold? (/proc/self/cgroup; the chapter's "Where the container's cgroup goes")`).toBe(join(own, 'minidocker/c1'))
    }
  })

  it('v1 and v2: a caller whose own cgroup path holds a colon', () => {
    // A runtime with the cgroupfs driver, given a systemd-style cgroupsPath, makes it as one directory.
    const own = '/system.slice:docker:4b1d'
    const v1 = `8:pids:${own}\n4:memory:${own}\n2:cpu,cpuacct:${own}\n0::/\n`
    for (const [controller, dir] of Object.entries(cgroupDirs('minidocker/c1', 1, '/cg', v1))) {
      const line = v1.split('\n').find((l) => l.includes(`:${controller}:`) || l.includes(`${controller},`))
      expect(dir!.startsWith(`${join('/cg', controller, own)}/`), `v1: the container's ${controller} cgroup at ${dir} is not below the caller's own ${controller} cgroup, whose line in /proc/self/cgroup is "${line}": what does each field of that line hold? (man 7 cgroups, "/proc/[pid]/cgroup")`).toBe(true)
    }
    const v2 = `0::${own}/init.scope\n`
    const dir = cgroupDirs('minidocker/c1', 2, '/cg', v2).pids!
    expect(dir.startsWith(`${join('/cg', own)}/`), `v2: the container's cgroup is at ${dir}, from the caller's line "${v2.trim()}": what does each field of that line hold? (man 7 cgroups, "/proc/[pid]/cgroup")`).toBe(true)
  })

  it('a cgroupsPath that climbs with ..', () => {
    for (const [version, self] of [[1, V1_SELF], [2, V2_SELF]] as const) {
      for (const [controller, dir] of Object.entries(cgroupDirs('../../../../escape', version, '/cg', self))) {
        const within = version === 1 ? join('/cg', controller, ownIn(self, controller)) : join('/cg', ownIn(self, '').split('/')[1]!)
        expect(dir!.startsWith(join(within, '/')), `v${version}: cgroupsPath ../../../../escape put the ${controller} cgroup at ${dir}, outside the caller's ${within}: whose limits hold there? Can you join any path a config.json holds as it is? (the chapter's "Where the container's cgroup goes")`).toBe(true)
      }
      for (const [controller, dir] of Object.entries(cgroupDirs('/../../../etc', version, '/cg', self))) {
        const hierarchy = version === 1 ? join('/cg', controller) : '/cg'
        expect(dir!.startsWith(join(hierarchy, '/')), `v${version}: cgroupsPath /../../../etc put the ${controller} cgroup at ${dir}, outside the hierarchy ${hierarchy}: whose limits hold there? Can you join any path a config.json holds as it is? (the chapter's "Where the container's cgroup goes")`).toBe(true)
      }
    }
  })

  it('v2: a relative cgroupsPath, the caller in a session scope', () => {
    const dirs = cgroupDirs('minidocker/c1', 2, '/cg', V2_SELF)
    expect(Object.keys(dirs).sort(), 'the controllers of the v2 directories: which of them does v2 have? (cgroup-v2.rst, "Controllers")').toEqual(['cpu', 'memory', 'pids'])
    expect(new Set(Object.values(dirs)).size, `the v2 directories for minidocker/c1: ${JSON.stringify(dirs)}: how many trees does v2 have?`).toBe(1)
    // Whether limits can be set there is the fake tree's test below ("the caller's own cgroup holds the caller").
    const slice = join('/cg', V2_OWN.split('/')[1]!)
    expect(dirs.pids!.startsWith(`${slice}/`) && dirs.pids!.endsWith('/minidocker/c1'), `the v2 directory for minidocker/c1 is ${dirs.pids}, the caller in ${V2_OWN}: are the limits put on the caller still over it? (the chapter\'s "Where the container\'s cgroup goes")`).toBe(true)
  })

  it('an absolute cgroupsPath, /docker/c1', () => {
    expect(cgroupDirs('/docker/c1', 1, '/cg', V1_SELF).memory, 'v1, the memory directory for /docker/c1').toBe('/cg/memory/docker/c1')
    expect(cgroupDirs('/docker/c1', 2, '/cg', V2_SELF).pids, 'v2, the directory for /docker/c1').toBe('/cg/docker/c1')
  })

  it('a cgroupsPath of "..", ".", "/", "a/.." or "/x/.."', async () => {
    for (const path of ['..', '.', '/', 'a/..', '/x/..']) {
      for (const [version, self] of [[1, V1_SELF], [2, V2_SELF]] as const) {
        const error = await caught(() => cgroupDirs(path, version, '/cg', self))
        const dirs = error ? undefined : Object.values(cgroupDirs(path, version, '/cg', self))
        expect(error, `v${version}: cgroupsPath "${path}" gave ${JSON.stringify(dirs)}: which directories are those, who made them, and what would createCgroup's leaf and removeCgroup's rmdir be there? (the chapter's "Where the container's cgroup goes")`).toBeInstanceOf(ContainerError)
      }
    }
  })

  it('v1, a /proc/self/cgroup with no memory line', async () => {
    expect(await caught(() => cgroupDirs('x', 1, '/cg', '0::/\n')), 'no memory line: a ContainerError, not a crash').toBeInstanceOf(ContainerError)
  })
})

/** Where the text poses the questions behind the kernel's refusals. */
const FILES = 'the chapter\'s "From linux.resources to files"'

/** The files' names and values, whatever the order. */
const byName = (files: [Controller, string, string][]) => Object.fromEntries(files.map(([, file, value]) => [file, value]))
const writesOf = (files: [Controller, string, string][]) => files.map(([, f, v]) => `${f} ${v}`).join(', ')

describe('resourceFiles', () => {
  const resources: Resources = { memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 20000, period: 100000 }, pids: { limit: 32 } }

  it('v1: memory, swap, a CPU quota and period, pids', () => {
    // What each file does is the kernel's to judge (the tests below write them into real cgroups);
    // here, only that each limit reaches a file of its own controller's hierarchy.
    const files = resourceFiles(resources, 1)
    const wrong = files.filter(([controller, file]) => !file.startsWith(`${controller}.`))
    expect(wrong, `v1 files named outside their controller's hierarchy, where the kernel shows no such file: ${writesOf(wrong)} (${FILES})`).toEqual([])
    expect(new Set(files.map(([c]) => c)), `the v1 controllers of ${writesOf(files)} for memory, swap, a CPU quota and period and pids: which hierarchy holds each limit? (${FILES})`).toEqual(new Set(['memory', 'cpu', 'pids']))
    expect(files.length, `v1 writes ${writesOf(files)} for five limits (memory, memory+swap, quota, period, pids): does each one have a file of its own?`).toBe(5)
  })

  it('v2: memory, swap, a CPU quota and period, pids', () => {
    const files = resourceFiles(resources, 2)
    const why = 'what does OCI\'s memory.swap count, and what does each v2 file take? (runtime-spec config-linux.md, "Memory"; cgroup-v2.rst, "Memory Interface Files", "CPU Interface Files", "PID Interface Files")'
    // Whatever the order: no v2 write depends on another.
    const expected = ['memory memory.max', 'memory memory.swap.max', 'cpu cpu.max', 'pids pids.max']
    expect(files.map(([c, file]) => `${c} ${file}`).sort(), `v2's controllers and files for ${JSON.stringify(resources)}: ${why}`).toEqual(expected.sort())
    const got = byName(files)
    const says = (file: string) => `v2: ${file} gets "${got[file]}" for ${JSON.stringify(resources)}: ${why}`
    expect(got['memory.max'], says('memory.max')).toBe(String(resources.memory!.limit))
    // What the container may hold in memory and swap together, as the kernel adds up the two v2 files.
    const together = /^\d+$/.test(got['memory.swap.max'] ?? '') ? Number(got['memory.max']) + Number(got['memory.swap.max']) : NaN
    expect(together, says('memory.swap.max')).toBe(resources.memory!.swap)
    expect(got['cpu.max']?.split(' ').map(Number), says('cpu.max')).toEqual([resources.cpu!.quota, resources.cpu!.period])
    expect(got['pids.max'], says('pids.max')).toBe(String(resources.pids!.limit))
  })

  it('a CPU quota alone, and a CPU period alone', () => {
    expect(resourceFiles({ cpu: { quota: 20000 } }, 1), 'v1, quota 20000 and no period').toEqual([['cpu', 'cpu.cfs_quota_us', '20000']])
    expect(resourceFiles({ cpu: { period: 200000 } }, 1), 'v1, period 200000 and no quota').toEqual([['cpu', 'cpu.cfs_period_us', '200000']])
    // The container's period is whatever an earlier create or update left: 50 ms, say.
    const quotaOnly = resourceFiles({ cpu: { quota: 20000 } }, 2)
    // What cpu.max holds after a write, as the kernel parses one: a quota, then a period if given.
    const holds = (written: string | undefined, was: string) => {
      const [quota, period, ...rest] = written?.split(' ') ?? []
      return quota && rest.length === 0 ? `${quota} ${period ?? was.split(' ')[1]}` : `(refused: "${written}")`
    }
    const was = '50000 50000'
    const now = holds(byName(quotaOnly)['cpu.max'], was)
    expect(quotaOnly.length === 1 ? now : writesOf(quotaOnly), `v2, quota 20000 and no period, for a container whose cpu.max an earlier update made "${was}": ${writesOf(quotaOnly)} leaves cpu.max holding "${now}": what does the container run with after that write? (cgroup-v2.rst, "cpu.max")`).toBe(holds('20000', was))
    const periodOnly = resourceFiles({ cpu: { period: 200000 } }, 2)
    expect(periodOnly.map(([c, file]) => `${c} ${file}`), 'v2, period 200000 and no quota: which file?').toEqual(['cpu cpu.max'])
  })

  it('CPU shares 1024 on v1; shares 2, 1024 and 262144 on v2', () => {
    expect(resourceFiles({ cpu: { shares: 1024 } }, 1), 'v1, shares 1024').toEqual([['cpu', 'cpu.shares', '1024']])
    const weights = [2, 1024, 262144].map((shares) => byName(resourceFiles({ cpu: { shares } }, 2))['cpu.weight'])
    // Judged by properties, not by one mapping: several are in use, and each keeps these.
    const numbers = weights.map((weight) => (/^\d+$/.test(weight ?? '') ? Number(weight) : NaN))
    const ask = `cpu.weight for shares 2, 1024 and 262144 (the least, the default and the most v1 takes) is ${JSON.stringify(weights)}: what did each request ask of the scheduler, and what does each version's kernel take? (scheduler/sched-design-CFS.rst; cgroup-v2.rst, "cpu.weight")`
    expect(numbers.every((n, i) => n >= 1 && n <= 10000 && (i === 0 || n > numbers[i - 1]!)), ask).toBe(true)
  })

  it('a swap with no memory limit, with a memory limit of -1, and below the memory limit', async () => {
    for (const memory of [{ swap: 64 * MiB }, { limit: -1, swap: 64 * MiB }, { limit: 64 * MiB, swap: 32 * MiB }]) {
      for (const version of [1, 2] as const) {
        const error = await caught(() => resourceFiles({ memory }, version))
        const what = `v${version}, memory ${JSON.stringify(memory)}`
        expect(error, `${what} got no ContainerError: what could a kernel make of it, in any order of writes? (runtime-spec config-linux.md, "Memory"; ${FILES})`).toBeInstanceOf(ContainerError)
        expect(error.message, `${what} was refused with "${error.message}": which of the request's values would the caller have to change, and could it tell from that?`).toMatch(/swap/i)
      }
    }
  })
})

// The title names the host's version without calling chapter code while tests are collected:

const fsType = (dir: string) => (existsSync(dir) ? execFileSync('stat', ['-fc', '%T', dir], { encoding: 'utf8' }).trim() : 'none')
const HOST_V2 = fsType(CGROUP_ROOT) === 'cgroup2fs'
/** The version of this machine's kernel's hierarchies with controllers: v1 on a hybrid host. */
const KERNEL = HOST_V2 ? 2 : 1
const UNLIMITED: Resources = { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100000 }, pids: { limit: -1 } }

/**
 * This machine's kernel's answer to `files`, written one after the other as listed into a new
 * cgroup whose parent first gets the writes `parent`: the first refusal (its errno, the file and
 * the value, after the writes before it), or what each file written then reads, beside what it
 * reads in a sibling nobody wrote to.
 */
function kernelAnswer(files: [Controller, string, string][], parent: [Controller, string, string][] = []): { refused?: string; shown: Record<string, string>; untouched: Record<string, string> } {
  const dirs = testCgroupDirs(CGROUP_ROOT, KERNEL, ['memory', 'cpu', 'pids'])
  const [outer, inner, untouched] = [dirs(), dirs('c'), dirs('untouched')]
  for (const [controller, file, value] of parent) writeFileSync(join(outer[controller]!, file), value)
  const read = (at: Record<string, string>) => Object.fromEntries(files.map(([c, file]) => [file, readFileSync(join(at[c]!, file), 'utf8').trim()]))
  for (const [i, [controller, file, value]] of files.entries()) {
    // only a file of the new cgroup itself: a wrong name must not reach another cgroup
    if (!inner[controller] || file.includes('/')) return { refused: `${controller} ${file} is no file of a v${KERNEL} cgroup`, shown: {}, untouched: {} }
    try {
      writeFileSync(join(inner[controller], file), value)
    } catch (error) {
      const after = i > 0 ? ` (after ${writesOf(files.slice(0, i))})` : ''
      return { refused: `a v${KERNEL} kernel answers ${(error as NodeJS.ErrnoException).code} to "${value}" in ${file}${after}`, shown: {}, untouched: {} }
    }
  }
  return { refused: undefined, shown: read(inner), untouched: read(untouched) }
}

describeKernel(`resourceFiles' writes, answered by this machine's kernel (v${KERNEL})`, () => {
  it(`v${KERNEL}: memory, swap, a CPU quota and period, pids, in a new cgroup`, () => {
    const files = resourceFiles({ memory: { limit: 64 * MiB, swap: 64 * MiB }, cpu: { quota: 20000, period: 100000 }, pids: { limit: 32 } }, KERNEL)
    const { refused, shown } = kernelAnswer(files)
    expect(refused, `${refused}: which word does each file take, and what does the kernel check each write against? (${FILES})`).toBeUndefined()
    expect(shown, `what the kernel shows after ${writesOf(files)}`).toEqual(byName(files))
  })

  it(`v${KERNEL}: -1 for every limit`, () => {
    const files = resourceFiles(UNLIMITED, KERNEL)
    const { refused, shown, untouched } = kernelAnswer(files)
    expect(refused, `${refused}: which word for "no limit" does that file take? Each controller's document says its own (${FILES})`).toBeUndefined()
    for (const [file, text] of Object.entries(untouched))
      expect(shown[file], `-1 asks for no limit, but after ${writesOf(files)} ${file} reads ${shown[file]}, where a cgroup nobody limited reads ${text}`).toBe(text)
  })

  it(`v${KERNEL}: a memory limit of 64 MiB and a swap of -1`, () => {
    const files = resourceFiles({ memory: { limit: 64 * MiB, swap: -1 } }, KERNEL)
    const { refused, shown, untouched } = kernelAnswer(files)
    expect(refused, `${refused}: what does the swap file take for "no limit"? (${FILES})`).toBeUndefined()
    const swap = KERNEL === 1 ? 'memory.memsw.limit_in_bytes' : 'memory.swap.max'
    expect(files.length, `v${KERNEL}, a memory limit and a swap of -1: ${writesOf(files)}`).toBe(2)
    expect(shown[swap], `after ${writesOf(files)}, ${swap} reads ${shown[swap]}, where a cgroup with no swap limit reads ${untouched[swap]}: what does the swap file take for "no limit"?`).toBe(untouched[swap])
  })

  it(`v${KERNEL}: 80 ms per 200 ms below a parent limited to 0.5 CPU`, () => {
    const files = resourceFiles({ cpu: { quota: 80000, period: 200000 } }, KERNEL)
    const { refused, shown } = kernelAnswer(files, [KERNEL === 1 ? ['cpu', 'cpu.cfs_quota_us', '50000'] : ['cpu', 'cpu.max', '50000 100000']])
    expect(refused, `${refused}, below a parent limited to 0.5 CPU: what does the kernel check a new quota or period against, at the moment it is written? (${FILES}; kernel/sched/core.c, tg_set_cfs_bandwidth)`).toBeUndefined()
    expect(shown, `what the kernel shows after ${writesOf(files)}`).toEqual(byName(files))
  })

  it(`v${KERNEL}: memory 16 MiB, memory+swap 32 MiB`, () => {
    const files = resourceFiles({ memory: { limit: 16 * MiB, swap: 32 * MiB } }, KERNEL)
    const { refused, shown } = kernelAnswer(files)
    expect(refused, `${refused}: which limits did the cgroup hold at that write, and which rule of the kernel's documentation ties the memory files together? (${FILES})`).toBeUndefined()
    expect(shown, `what the kernel shows after ${writesOf(files)}`).toEqual(byName(files))
  })
})

/**
 * What this machine's kernel shows in pids.max of a cgroup made now, which nobody limited: the
 * kernel's own word for a pids limit that is not set, on either version.
 */
function unsetPidsMax(): string {
  const dirs = testCgroupDirs(CGROUP_ROOT, KERNEL, ['pids'])()
  return readFileSync(join(dirs.pids!, 'pids.max'), 'utf8').trim()
}

// v2's words checked against what this kernel shows, not against stored answers: a hybrid host's
// cgroup2 tree has none of the controllers, so its words are asked of a v1 file that shares them.
describeKernel('v2\'s words, asked of this machine\'s kernel', () => {
  const NO_LIMIT = 'is that what cgroup-v2.rst says that file takes for "no limit"? Each interface file documents its own, and this kernel shows one of them in a cgroup nobody limited (cgroup-v2.rst, "Memory Interface Files", "CPU Interface Files", "PID Interface Files")'

  it('v2: -1 for every limit, and a swap of -1', () => {
    const word = unsetPidsMax()
    const all = byName(resourceFiles(UNLIMITED, 2))
    const swapOnly = byName(resourceFiles({ memory: { limit: 64 * MiB, swap: -1 } }, 2))
    const wanted: [string, Record<string, string>, string, (value: string | undefined) => boolean][] = [
      ['every limit -1', all, 'memory.max', (v) => v === word], ['every limit -1', all, 'memory.swap.max', (v) => v === word],
      ['every limit -1', all, 'pids.max', (v) => v === word],
      // a quota of no limit, and the period asked for
      ['every limit -1', all, 'cpu.max', (v) => v?.split(' ')[0] === word && v.split(' ')[1] === String(UNLIMITED.cpu!.period)],
      ['memory 64 MiB and a swap of -1', swapOnly, 'memory.swap.max', (v) => v === word],
    ]
    for (const [what, files, file, right] of wanted)
      expect(right(files[file]), `v2, ${what}: ${file} gets ${files[file] === undefined ? 'nothing' : `"${files[file]}"`}: ${NO_LIMIT}`).toBe(true)
  })

  it('v2, a CPU period alone', () => {
    // Beside the same period with a quota of -1, whose word the test above asks of the kernel.
    const value = byName(resourceFiles({ cpu: { period: 200000 } }, 2))['cpu.max']
    const unlimited = byName(resourceFiles({ cpu: { quota: -1, period: 200000 } }, 2))['cpu.max']
    expect(value, `v2, period 200000 and no quota: cpu.max gets "${value}", where a quota of -1 with that period gets "${unlimited}": what does a new container's cgroup run with after that write? (cgroup-v2.rst, "cpu.max")`).toBe(unlimited)
  })

  it('CPU shares 1 and 300000 on v2', () => {
    const dirs = testCgroupDirs(CGROUP_ROOT, KERNEL, ['cpu'])
    for (const shares of [1, 300000]) {
      const weight = byName(resourceFiles({ cpu: { shares } }, 2))['cpu.weight']
      const ask = `v2, shares ${shares}: cpu.weight gets "${weight}": what would the same request give a container on v1, and what does v2's kernel answer to that weight? (cgroup-v2.rst, "Weights"; kernel/sched/core.c)`
      const dir = dirs(`s${shares}`).cpu!
      if (KERNEL === 1) {
        // Judged against what this v1 kernel shows for the same request.
        writeFileSync(join(dir, 'cpu.shares'), String(shares))
        const shown = Number(readFileSync(join(dir, 'cpu.shares'), 'utf8'))
        const same = byName(resourceFiles({ cpu: { shares: shown } }, 2))['cpu.weight']
        expect(weight, `${ask} (the v1 kernel, given cpu.shares ${shares}, shows ${shown}, for which cpu.weight gets "${same}")`).toBe(same)
      } else {
        const { refused } = kernelAnswer([['cpu', 'cpu.weight', weight ?? '']])
        expect(refused, `${refused}: ${ask}`).toBeUndefined()
      }
    }
  })
})
