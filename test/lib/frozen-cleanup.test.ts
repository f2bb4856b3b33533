/**
 * test/support/cgroups.ts's cleanup (removeTestCgroup, after every test that took a
 * testCgroupPath) of a cgroup whose process is frozen, as a paused container's are: a task
 * frozen by v1's freezer never acts on SIGKILL, so the cleanup must thaw before it kills, and
 * thaw the parent that froze it too. Here the process is frozen by its cgroup's parent.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { removeTestCgroup, testCgroupDirs } from '../support/cgroups.ts'
import { describeKernel } from '../support/kernel.ts'

const ROOT = '/sys/fs/cgroup'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describeKernel('the test cgroups\' cleanup', () => {
  it('removes a cgroup whose process a frozen parent holds', async () => {
    const v2 = existsSync(join(ROOT, 'cgroup.controllers'))
    const dirs = testCgroupDirs(ROOT, v2 ? 2 : 1, v2 ? ['pids'] : ['freezer', 'pids'])
    const parent = dirs()
    const inner = dirs('inner')
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' })
    const ended = new Promise<NodeJS.Signals | null>((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)))
    for (const dir of new Set(Object.values(inner))) writeFileSync(join(dir, 'cgroup.procs'), String(sleeper.pid))
    const freezer = v2 ? parent.pids! : parent.freezer!
    writeFileSync(join(freezer, v2 ? 'cgroup.freeze' : 'freezer.state'), v2 ? '1' : 'FROZEN')
    const innerFreezer = v2 ? inner.pids! : inner.freezer!
    const frozen = () => (v2 ? readFileSync(join(innerFreezer, 'cgroup.events'), 'utf8').includes('frozen 1') : readFileSync(join(innerFreezer, 'freezer.state'), 'utf8').trim() === 'FROZEN')
    for (let i = 0; i < 100 && !frozen(); i++) await sleep(20)
    expect(frozen(), 'the process\'s cgroup froze with its parent').toBe(true)
    if (!v2) {
      // the premise: v1's freezer holds a SIGKILL off
      process.kill(sleeper.pid!, 'SIGKILL')
      const signal = await Promise.race([ended, sleep(500).then(() => 'still running')])
      expect(signal, 'a frozen v1 task ended by SIGKILL').toBe('still running')
    }
    await removeTestCgroup(dirs.path)
    expect(await Promise.race([ended, sleep(5000).then(() => 'still running')]), 'the frozen process after the cleanup').toBe('SIGKILL')
    for (const dir of new Set([...Object.values(parent), ...Object.values(inner)])) expect(existsSync(dir), `${dir} after the cleanup`).toBe(false)
  })
})
