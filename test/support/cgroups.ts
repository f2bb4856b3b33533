/**
 * Real cgroups in tests: a cgroupsPath per test, and a cleanup that removes whatever the code
 * under test made for it, wherever it put it (below the caller's own cgroup, below its parent,
 * or wrongly at a hierarchy's root), even when that code is broken or the test failed.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { onCleanup } from './files.ts'
import { hierarchies } from './hierarchies.ts'

/** The parent of every test cgroup, below the base it is nested in. */
export const TEST_CGROUP_PARENT = 'minidocker-test'

/** Whether `pid` is a child, grandchild, ... of this process. */
function descendsFromUs(pid: number): boolean {
  for (let p = pid; p > 1; ) {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (p === process.pid) return true
  }
  return false
}

/** rmdir `dir` and everything below it, deepest first, after emptying each cgroup. */
async function removeTree(dir: string, own: string, mount: string): Promise<void> {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeTree(join(dir, entry.name), own, mount)
  }
  const procs = join(dir, 'cgroup.procs')
  for (const pid of existsSync(procs) ? readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number) : []) {
    try {
      // A process the test started is killed; any other (this one, or one moved in by a wrong
      // PID) is moved back to where this process started, never killed.
      if (descendsFromUs(pid)) process.kill(pid, 'SIGKILL')
      else writeFileSync(join(mount, own, 'cgroup.procs'), String(pid))
    } catch {
      // gone meanwhile
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return rmdirSync(dir)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (attempt === 300) throw new Error(`test cleanup cannot remove the cgroup ${dir}: ${code}`)
      await sleep(10)
    }
  }
}

/**
 * A cgroupsPath for the current test, `minidocker-test/RANDOM`. After the test, its directories
 * are removed in every hierarchy, and minidocker-test too when no other test uses it.
 */
export function testCgroupPath(): string {
  const name = randomBytes(6).toString('hex')
  onCleanup(async () => {
    for (const { mount, own } of hierarchies()) {
      for (const base of new Set(['/', own, dirname(own)])) {
        const parent = join(mount, base, TEST_CGROUP_PARENT)
        await removeTree(join(parent, name), own, mount)
        try {
          rmdirSync(parent)
        } catch {
          // still used by another test, or never made here
        }
      }
    }
  })
  return `${TEST_CGROUP_PARENT}/${name}`
}
