/**
 * Real cgroups in tests: a cgroupsPath per test, and a cleanup that removes whatever the code
 * under test made for it, wherever in a hierarchy it put it, even when that code is broken or
 * the test failed.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { onCleanup } from './files.ts'
import { hierarchies, procsFiles, thawAndKill } from './hierarchies.ts'

/**
 * The parent of every test cgroup of this process. One per process, since the code under test
 * may be wrong about whose cgroups it removes (a removal that empties its parents of children,
 * say): then it takes only what this process's tests made, never a cgroup of a test running
 * beside it in another process, which would then pass or fail for it.
 */
export const TEST_CGROUP_PARENT = `minidocker-test-${process.pid}`

/** Whether `pid` is a child, grandchild, ... of this process. */
function descendsFromUs(pid: number): boolean {
  for (let p = pid; p > 1; ) {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (p === process.pid) return true
  }
  return false
}

/**
 * Whether `pid` is one the tests started: a descendant of this process, or a container's
 * process rooted in one of the tests' temp folders (an orphan, reparented away from us, as the
 * chains of a fork storm are).
 */
function startedByTests(pid: number): boolean {
  if (descendsFromUs(pid)) return true
  return readlinkSync(`/proc/${pid}/root`).startsWith(join(tmpdir(), 'minidocker-'))
}

/**
 * Remove `dir` and everything below it with find(1), after emptying each cgroup: a process the
 * tests started is killed; any other (this one, or one moved in by a wrong PID) is moved back to
 * where this process started, never killed. Both are done again for up to 3 s, while killed
 * processes finish exiting and processes still forking leave children behind. The cgroups each
 * process to kill is in are thawed first: a paused container's processes (v1's freezer) would
 * never act on the SIGKILL; one moved out takes the state of the cgroup it joins.
 */
async function removeTree(dir: string, own: string, mount: string): Promise<void> {
  for (let round = 0; existsSync(dir); round++) {
    for (const procs of procsFiles(dir)) {
      for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number)) {
        try {
          if (startedByTests(pid)) thawAndKill(pid)
          else writeFileSync(join(mount, own, 'cgroup.procs'), String(pid))
        } catch {
          // gone meanwhile
        }
      }
    }
    const run = await execa('find', [dir, '-depth', '-type', 'd', '-delete'], { reject: false, stdin: 'ignore' })
    if (!existsSync(dir)) return
    if (round === 300) throw new Error(`test cleanup cannot remove the cgroup ${dir}: ${run.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * A cgroupsPath for the current test, `minidocker-test-PID/RANDOM`. After the test, its directories
 * are removed in every hierarchy (removeTestCgroup), and minidocker-test-PID too when no other test uses it.
 */
export function testCgroupPath(): string {
  const name = randomBytes(6).toString('hex')
  onCleanup(() => removeTestCgroup(`${TEST_CGROUP_PARENT}/${name}`))
  return `${TEST_CGROUP_PARENT}/${name}`
}

/** Remove what the code under test made for testCgroupPath()'s `path`, wherever in each hierarchy it put it; throws if it cannot. */
export async function removeTestCgroup(path: string): Promise<void> {
  for (const { mount, own } of hierarchies()) {
    for (const base of new Set(['/', own, dirname(own)])) {
      await removeTree(join(mount, base, path), own, mount)
      // still used by another test, or never made here: then it stays
      const parent = join(mount, base, dirname(path))
      if (existsSync(parent)) await execa('rmdir', [parent], { reject: false, stdin: 'ignore' })
    }
  }
}

/** This process's path in the hierarchy holding `controller` ("" is v2's), from /proc/self/cgroup. */
function ownIn(controller: string): string {
  const lines = [...readFileSync('/proc/self/cgroup', 'utf8').matchAll(/^\d+:([^:\n]*):(.*)$/gm)]
  const line = lines.find(([, names]) => (controller === '' ? names === '' : names!.split(',').includes(controller)))
  if (!line) throw new Error(`no ${controller || 'v2'} line in /proc/self/cgroup`)
  return line[2]!
}

/**
 * Real cgroups the test writes itself, below testCgroupPath's (`dirs.path`): `dirs(sub)` makes
 * `sub` (with its parents) for each of `controllers` and gives its directory by controller. On v1 they go below
 * this process's own cgroup in each hierarchy; on v2 beside it, each level above enabling the
 * controllers for its children, since v2 gives a child no controller its parent did not enable.
 */
export function testCgroupDirs(root: string, version: 1 | 2, controllers: string[]): ((sub?: string) => Record<string, string>) & { path: string } {
  const path = testCgroupPath()
  return Object.assign((sub = '') => {
    if (version === 1) {
      const dirs = controllers.map((c) => [c, join(root, c, ownIn(c), path, sub)] as const)
      for (const [, dir] of dirs) mkdirSync(dir, { recursive: true })
      return Object.fromEntries(dirs)
    }
    const leaf = join(root, dirname(ownIn('')), path, sub)
    mkdirSync(leaf, { recursive: true })
    for (let dir = root; dir !== leaf; dir = join(dir, leaf.slice(dir.length + 1).split('/')[0]!)) {
      const file = join(dir, 'cgroup.subtree_control')
      const enabled = readFileSync(file, 'utf8').split(/\s+/)
      const missing = controllers.filter((c) => !enabled.includes(c))
      if (missing.length) writeFileSync(file, missing.map((c) => `+${c}`).join(' '))
    }
    return Object.fromEntries(controllers.map((c) => [c, leaf]))
  }, { path })
}
