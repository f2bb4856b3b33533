/**
 * What a `minirunc create` leaves when it is killed half-way, or loses a race: the command's own
 * code (crasher.ts) killed with SIGKILL right before each of its helper requests in turn, then
 * `state` and `delete --force` as a shim does them after a crash; and two creates of one ID at
 * once, their file-system calls under --root taken in step. Each create runs under its own hold
 * (native/build/hold, a subreaper), so every process it leaves is found below it.
 */
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import type { Spec } from '../../lib/oci.ts'
import type { ContainerRecord } from '../../lib/runtime.ts'
import { CGROUP_ROOT } from '../../lib/cgroup.ts'
import { alive, waitFor } from '../support/container.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { hierarchies } from '../support/hierarchies.ts'
import { describeKernel } from '../support/kernel.ts'
import { descendantsOf } from '../support/netns.ts'
import { probeLines } from '../support/probe.ts'
import { minirunc, pidKeeper, probeBundle, rethrowNotImplemented } from '../support/runtime.ts'

const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))

/** A bundle of few steps (its own namespaces, /proc, a cgroupsPath), a state root, and crasher.ts runs under holds. */
function setup() {
  const dir = tempDir()
  const root = join(dir, 'state')
  const bundle = probeBundle(join(dir, 'bundle'), ['pid', 'sleep:60000'], (spec) => (spec.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]))
  const keeper = pidKeeper()
  onCleanup(() => keeper.release())
  onCleanup(async () => {
    for (const id of existsSync(root) ? readdirSync(root) : []) await minirunc(['--root', root, 'delete', '--force', id])
  })
  const rt = (...args: string[]) => minirunc(['--root', root, ...args])
  /** crasher.ts with `args`, its output (and its container's) to `output`; the exit code and what it printed */
  const crasher = async (args: string[], output: string) => {
    const fd = openSync(output, 'a')
    try {
      // run() starts its hold before it first waits: the next one is this run's.
      const hold = keeper.holders().length
      const code = await keeper.run([process.execPath, '-e', `require(${JSON.stringify(START)}).start('crasher', 'test/09-runtime/crasher.ts')`, ...args], fd, bundle, 60_000)
      const printed = readFileSync(output, 'utf8')
      rethrowNotImplemented(printed)
      return { code, printed, hold: keeper.holders()[hold]! }
    } finally {
      closeSync(fd)
    }
  }
  /** a new cgroupsPath in config.json, for the next create */
  const newCgroup = () => {
    const cgroupsPath = testCgroupPath()
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec
    spec.linux!.cgroupsPath = cgroupsPath
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec))
    return cgroupsPath
  }
  return { dir, root, bundle, rt, crasher, newCgroup }
}

/** The directories of cgroupsPath `path` in every hierarchy, wherever a runtime may have made them (below /, or below this process's cgroup or its parent). */
function cgroupDirsLeft(path: string): string[] {
  return hierarchies().flatMap(({ mount, own }) => [...new Set(['/', own, join(own, '..')])].map((base) => join(mount, base, path))).filter((dir) => existsSync(dir))
}

/** The living processes below `pid`, with their command lines. */
function livingBelow(pid: number): string[] {
  return descendantsOf([pid]).filter(alive).map((p) => {
    try {
      return `${p} (${readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()})`
    } catch {
      return String(p)
    }
  })
}

/**
 * After a create killed with SIGKILL (`when` says where), what a shim does next: `state`, then
 * `delete --force`; nothing may be left of it, in ROOT, in the cgroups or below its hold.
 */
async function checkNothingLeft(t: ReturnType<typeof setup>, id: string, killed: { code: number; printed: string; hold: number }, when: string, cgroupsPath: string) {
  expect(killed.code, `${when} exited otherwise than by the SIGKILL: ${killed.printed}`).toBe(137)
  const state = await t.rt('state', id)
  expect(state.code === 0 || /container does not exist/.test(state.stderr), `state after ${when}: ${state.stderr}`).toBe(true)
  const there = existsSync(join(t.root, id)) ? `ROOT/${id} was there` : `ROOT/${id} was not there yet`
  const deleted = await t.rt('delete', '--force', id)
  expect(deleted.code, `delete --force after ${when} (${there}): ${deleted.stderr}. What must already be on disk for it to act, at every moment of create, and what does a shim that runs delete --force after a failed create expect of an ID the runtime has no record of? (the text's "create"; runc's delete.go)`).toBe(0)
  expect(existsSync(join(t.root, id)), `ROOT/${id} still there after ${when}, then delete --force (it holds ${existsSync(join(t.root, id)) ? readdirSync(join(t.root, id)).join(', ') || 'nothing' : ''}): which command could ever remove it? (the text's "create")`).toBe(false)
  expect(await waitFor(() => livingBelow(killed.hold).length === 0, 3000), `processes alive 3 s after ${when}, then delete --force: ${livingBelow(killed.hold).join(', ')}. Who could still find them, and by what?`).toBe(true)
  expect(cgroupDirsLeft(cgroupsPath), `cgroups left after ${when}, then delete --force: what named them to delete, and since when? (the text's "create")`).toEqual([])
}

describeKernel('minirunc: a create that does not finish', () => {
  it('create killed with SIGKILL right before each of its helper requests in turn, then state and delete --force', async () => {
    const t = setup()
    // A whole create first, to learn its requests.
    t.newCgroup()
    const report = join(t.dir, 'requests.json')
    const whole = await t.crasher(['die', '-1', report, '--root', t.root, 'create', '--bundle', t.bundle, 'whole'], join(t.dir, 'whole.out'))
    expect(whole.code, `create of a bundle that works: ${whole.printed}`).toBe(0)
    const requests = JSON.parse(readFileSync(report, 'utf8')) as string[]
    expect((await t.rt('delete', '--force', 'whole')).code).toBe(0)
    for (const [k, request] of requests.entries()) {
      const id = `k${k}`
      const cgroupsPath = t.newCgroup()
      const killed = await t.crasher(['die', String(k), report, '--root', t.root, 'create', '--bundle', t.bundle, id], join(t.dir, `${id}.out`))
      await checkNothingLeft(t, id, killed, `create killed right before its helper request ${k} of ${requests.length} (${request})`, cgroupsPath)
    }
  }, 900_000) // one create and delete per helper request: over 300 s under a shared machine's load

  it('create killed with SIGKILL right after each of its file-system changes in turn, then state and delete --force', async () => {
    const t = setup()
    // Until a create has made fewer changes than the kill waits for, and finishes.
    for (let n = 1; ; n++) {
      expect(n, 'a create that still had not finished after 60 file-system changes').toBeLessThanOrEqual(60)
      const id = `f${n}`
      const cgroupsPath = t.newCgroup()
      const killed = await t.crasher(['dieafter', String(n), '--root', t.root, 'create', '--bundle', t.bundle, id], join(t.dir, `${id}.out`))
      if (killed.code === 0) {
        expect((await t.rt('delete', '--force', id)).code, `delete --force of ${id}, a create that finished`).toBe(0)
        break
      }
      await checkNothingLeft(t, id, killed, `create killed right after its file-system change ${n} (a file or directory made, renamed or removed)`, cgroupsPath)
    }
  }, 600_000) // some twenty creates, each killed and cleaned after: over three minutes under load

  it('pause of a running container killed with SIGKILL right after each of its first three file-system changes, then delete --force', async () => {
    const t = setup()
    const report = join(t.dir, 'requests.json')
    // Three containers at once, the pause of the Nth killed right after its Nth change.
    const bundles = [1, 2, 3].map((n) => {
      const cgroupsPath = t.newCgroup()
      const bundle = join(t.dir, `bundle${n}`)
      cpSync(t.bundle, bundle, { recursive: true })
      return { n, id: `p${n}`, cgroupsPath, bundle }
    })
    await Promise.all(bundles.map(async ({ n, id, cgroupsPath, bundle }) => {
      const created = await t.crasher(['die', '-1', report, '--root', t.root, 'create', '--bundle', bundle, id], join(t.dir, `${id}.out`))
      expect(created.code, `create of ${id}: ${created.printed}`).toBe(0)
      expect((await t.rt('start', id)).code, `start of ${id}`).toBe(0)
      const pid = Number(JSON.parse((await t.rt('state', id)).stdout).pid)
      // The container's directory in every hierarchy, at the path its cgroups have (a freezer's included).
      const { cgroup } = JSON.parse(readFileSync(join(t.root, id, 'state.json'), 'utf8')) as ContainerRecord
      const [used, own] = Object.entries(cgroup!.dirs)[0]!
      const path = cgroup!.version === 1 ? relative(join(CGROUP_ROOT, used), own!) : relative(CGROUP_ROOT, own!)
      const dirsLeft = () => [...new Set([...cgroupDirsLeft(cgroupsPath), ...hierarchies().map(({ mount }) => join(mount, path)).filter((dir) => existsSync(dir))])]
      // After the forced deletes (cleanups run last first): what a runtime left of it, and the
      // parents it may have made, each as far as it is empty.
      onCleanup(() => {
        for (const { mount } of hierarchies()) for (let dir = join(mount, path); dir.startsWith(`${mount}/`); dir = dirname(dir)) try { rmdirSync(dir) } catch { break }
      })
      const killed = await t.crasher(['dieafter', String(n), '--root', t.root, 'pause', id], join(t.dir, `${id}.pause.out`))
      const when = killed.code === 0 ? `a pause that finished within ${n} file-system changes` : `pause killed right after its file-system change ${n} (a file or directory made, renamed or removed)`
      expect([0, 137], `${when} exited otherwise than by the SIGKILL: ${killed.printed}`).toContain(killed.code)
      const deleted = await t.rt('delete', '--force', id)
      expect(deleted.code, `delete --force after ${when}: ${deleted.stderr}`).toBe(0)
      expect(await waitFor(() => !alive(pid), 5000), `the container's process still alive 5 s after ${when}, then delete --force`).toBe(true)
      expect(existsSync(join(t.root, id)), `ROOT/${id} still there after ${when}, then delete --force`).toBe(false)
      expect(dirsLeft(), `cgroups left after ${when}, then delete --force: what named them to delete, and since when? (the text's "pause and resume")`).toEqual([])
    }))
  }, 180_000)

  it('two creates of one ID at once, their file-system calls under --root taken in step', async () => {
    const t = setup()
    const cgroupsPath = t.newCgroup()
    const sync = join(t.dir, 'sync')
    mkdirSync(sync)
    const runs = await Promise.all(['a', 'b'].map((name) =>
      t.crasher(['lockstep', sync, name, t.root, '--root', t.root, 'create', '--bundle', t.bundle, '--pid-file', join(t.dir, `${name}.pid`), 'c1'], join(t.dir, `${name}.out`))))
    const said = runs.map((r, i) => `create ${'ab'[i]} exited ${r.code}: ${r.printed.trim() || '(nothing)'}`).join('; ')
    const winners = runs.filter((r) => r.code === 0)
    expect(winners.length, `creates of c1 that succeeded, of two that checked before either acted (${said}): what decides which one wins, in one step? (the text's "create")`).toBe(1)
    const [winner, loser] = runs[0]!.code === 0 ? [0, 1] : [1, 0]
    expect(runs[loser]!.printed, `the losing create's words (${said}): what told it the ID was taken, and what decides which one wins, in one step? (the text's "create")`).toMatch(/container with id exists: c1/)
    expect(existsSync(join(t.dir, `${'ab'[loser]}.pid`)), 'the losing create wrote its --pid-file').toBe(false)
    expect(await waitFor(() => livingBelow(runs[loser]!.hold).length === 0, 3000), `processes the losing create left: ${livingBelow(runs[loser]!.hold).join(', ')}`).toBe(true)
    const pid = Number(readFileSync(join(t.dir, `${'ab'[winner]}.pid`), 'utf8'))
    const state = await t.rt('state', 'c1')
    expect(state.code, `state c1 after the race: ${state.stderr}. What did the loser touch on its way out?`).toBe(0)
    expect(JSON.parse(state.stdout), 'state c1 after the race, against the winner\'s --pid-file').toMatchObject({ status: 'created', pid })
    expect((await t.rt('start', 'c1')).code, 'start c1 after the race').toBe(0)
    expect(await waitFor(() => probeLines(readFileSync(join(t.dir, `${'ab'[winner]}.out`), 'utf8')).length > 0, 5000), 'the winner\'s program printed nothing within 5 s of start').toBe(true)
    expect((await t.rt('delete', '--force', 'c1')).code).toBe(0)
    expect(existsSync(join(t.root, 'c1')), 'ROOT/c1 after delete --force').toBe(false)
    expect(cgroupDirsLeft(cgroupsPath), 'cgroups left after delete --force of the winner').toEqual([])
  }, 120_000)
})
