/**
 * minirunc on its own, as a person at a terminal (or the runtime-tools suite) drives it: the
 * life cycle create → start → kill → delete with runc's state directory and exec.fifo, the
 * state JSON, hooks with the state on their stdin, and refusals in runc's words that leave
 * nothing behind.
 */
import { execFileSync, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import type { Spec } from '../../lib/oci.ts'
import type { ContainerRecord } from '../../lib/runtime.ts'
import { V1_CONTROLLERS } from '../../lib/cgroup.ts'
import { alive, processState, waitFor } from '../support/container.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { cpuTicks, cpuUsedIn, MINIRUNC, minirunc, pidKeeper, INHERITED_FD, probeBundle, rethrowNotImplemented, runsAgainWithin } from '../support/runtime.ts'

const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))

/** A state root and a bundle for one test; every container left in the root is force-deleted after it. */
function setup(steps: string[], edit?: (spec: Spec) => void) {
  const dir = tempDir()
  const root = join(dir, 'state')
  const bundle = probeBundle(join(dir, 'bundle'), steps, edit)
  const log = join(dir, 'log.json')
  const output = join(dir, 'output')
  // What create and exec leave behind is kept by `keeper` until the forced deletes are done.
  const keeper = pidKeeper()
  onCleanup(() => keeper.release())
  onCleanup(async () => {
    for (const id of existsSync(root) ? readdirSync(root) : []) await minirunc(['--root', root, 'delete', '--force', id])
  })
  const rt = (...args: string[]) => minirunc(['--root', root, '--log', log, '--log-format', 'json', ...args], { cwd: bundle })
  /** create with the container's stdout and stderr going to a file, as a shim gives it fifos */
  const create = (id: string, ...flags: string[]) => minirunc(['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', bundle, ...flags, id], { output, keeper })
  /** create as above, minirunc started with `fd` open as fd INHERITED_FD */
  const createWith = (fd: number, id: string) => minirunc(['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', bundle, id], { output, keeper, inherited: fd })
  const state = async (id: string) => {
    const r = await rt('state', id)
    expect(r.code, `state ${id} failed: ${r.stderr}`).toBe(0)
    return JSON.parse(r.stdout) as { status: string; pid: number; id: string; bundle: string; ociVersion: string; annotations: object }
  }
  const logLines = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; msg: string; time: string }) : [])
  const out = () => (existsSync(output) ? readFileSync(output, 'utf8') : '')
  /** exec --detach, its output to the same file: the exec'd process keeps it open */
  const execDetached = (id: string, ...args: string[]) => minirunc(['--root', root, '--log', log, '--log-format', 'json', 'exec', '--detach', id, ...args], { output, keeper })
  return { dir, root, bundle, keeper, rt, create, createWith, execDetached, state, logLines, out }
}

let runcCount = 0

/**
 * The same kind of bundle under the real runc, with a state root of its own, its create run as
 * setup()'s is (output to a file, under a keeper of dead PIDs): what a test compares minirunc with.
 * The ID is one the cleanup checks know.
 */
function runcSetup(steps: string[], edit?: (spec: Spec) => void) {
  const dir = tempDir()
  const root = join(dir, 'state')
  const bundle = probeBundle(join(dir, 'bundle'), steps, edit)
  const output = join(dir, 'output')
  const id = `minidocker-test-runc-${process.pid}-${runcCount++}`
  const keeper = pidKeeper()
  onCleanup(() => keeper.release())
  const rt = async (...args: string[]) => {
    const r = await execa('runc', ['--root', root, ...args], { reject: false, stdin: 'ignore', timeout: 60_000 })
    return { code: r.exitCode ?? 128 + 9, stdout: String(r.stdout), stderr: String(r.stderr) }
  }
  onCleanup(async () => {
    const file = join(root, id, 'state.json')
    if (!existsSync(file)) return
    // runc 1.1.5's delete --force waits in vain for a frozen init to die: thaw it first, by hand
    // too, should a pause have given up half-way and left the freezer FROZEN.
    await rt('resume', id)
    const freezer = (JSON.parse(readFileSync(file, 'utf8')) as { cgroup_paths?: Record<string, string> }).cgroup_paths?.freezer
    if (freezer && existsSync(join(freezer, 'freezer.state'))) writeFileSync(join(freezer, 'freezer.state'), 'THAWED')
    await rt('delete', '--force', id)
  })
  /** runc create; with `inherited`, runc started with that fd open as fd INHERITED_FD */
  const create = async (inherited?: number) => {
    const fd = openSync(output, 'a')
    try {
      return await keeper.run(['runc', '--root', root, 'create', '--bundle', bundle, id], fd, bundle, 60_000, inherited)
    } finally {
      closeSync(fd)
    }
  }
  const state = async () => JSON.parse((await rt('state', id)).stdout) as { status: string; pid: number }
  const out = () => (existsSync(output) ? readFileSync(output, 'utf8') : '')
  return { id, root, rt, create, state, out, bundle }
}

/** How process `pid`, a zombie its keeper holds, ended: its wait status (proc(5), /proc/PID/stat, exit_code). */
function waitStatus(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[49])
}

/** Change BUNDLE/config.json after the bundle is made (for what needs the bundle's own path). */
function editConfig(bundle: string, edit: (spec: Spec) => void): void {
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec
  edit(spec)
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec))
}

/** The cgroup directories named by a /proc/PID/cgroup text (v1 lines and v2's "0::"). */
function cgroupDirs(text: string): string[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [, controllers, path] = line.split(':')
    const mount = controllers === '' ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controllers!.replace(/^name=/, '')}`
    return join(mount, path!)
  }).filter((dir) => dir.includes('minidocker-test') && existsSync(dirname(dir)))
}

/** The cgroup v1 hierarchies mounted in this mount namespace: each mount point and its controllers (a named one's `name=...` too), from /proc/self/mountinfo. */
function cgroupMounts(): Map<string, string[]> {
  const found = new Map<string, string[]>()
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ')
    const [fstype, , options] = (after ?? '').split(' ')
    if (fstype === 'cgroup') found.set(before!.split(' ')[4]!, options!.split(',').filter((o) => !['rw', 'ro'].includes(o) && !o.includes('=') || o.startsWith('name=')))
  }
  return found
}

/** The cgroup directories a /proc/PID/cgroup text names whose last element is `name`. */
function cgroupDirsOf(text: string, name: string): string[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [, controllers, path] = line.split(':')
    const mount = controllers === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${controllers!.replace(/^name=/, '')}`
    return join(existsSync('/sys/fs/cgroup/cgroup.controllers') && controllers === '' ? '/sys/fs/cgroup' : mount, path!)
  }).filter((dir) => dir.endsWith(`/${name}`) && existsSync(dir))
}

/**
 * Move process `pid` into a cgroup `sub` made below its own in each hierarchy chapter 04 uses,
 * as systemd or a nested runtime inside a container does with its own cgroup; the cgroups made
 * are emptied and removed after the test, whatever the runtimes left.
 */
function moveBelow(pid: number, subs: string[]): void {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean)) {
    const [, controllers, path] = line.split(':')
    const used = v2 ? controllers === '' : controllers!.split(',').some((c) => (V1_CONTROLLERS as string[]).includes(c))
    if (!used) continue
    const sub = join(v2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controllers}`, path!, 'sub')
    mkdirSync(sub)
    subs.push(sub)
    writeFileSync(join(sub, 'cgroup.procs'), String(pid))
  }
}

/** Registered before the test's containers: runs after their deletes, and removes what moveBelow made. */
function removeOnCleanup(subs: string[]): void {
  onCleanup(async () => {
    for (const sub of subs.reverse()) {
      if (!existsSync(sub)) continue
      for (const pid of readFileSync(join(sub, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) try { process.kill(Number(pid), 'SIGKILL') } catch { /* gone */ }
      await waitFor(() => { try { rmdirSync(sub) } catch {} return !existsSync(sub) }, 5000)
    }
  })
}

/**
 * setup() and runcSetup() of the same program and edit, ours with a cgroupsPath of its own, each
 * container created and started (ours as `id`); `thaw` has a pause left behind undone first.
 */
async function startedBesideRunc(id: string, steps: string[], edit: (spec: Spec) => void, thaw = false) {
  const t = setup(steps, (spec) => {
    edit(spec)
    spec.linux!.cgroupsPath = testCgroupPath()
  })
  const real = runcSetup(steps, edit)
  if (thaw) thawOnCleanup(t.root, id)
  expect((await t.create(id)).code, t.out()).toBe(0)
  expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
  expect((await t.rt('start', id)).code).toBe(0)
  expect((await real.rt('start', real.id)).code).toBe(0)
  return { t, real }
}

describeKernel('minirunc: the life cycle', () => {
  it('create with --pid-file, then start, of a probe that prints its PID and hostname', async () => {
    const t = setup(['pid', 'hostname', 'sleep:60000'])
    const pidFile = join(t.dir, 'init.pid')
    const r = await t.create('c1', '--pid-file', pidFile)
    expect(r.code, `create failed: ${r.stderr}${t.out()}`).toBe(0)
    const created = await t.state('c1')
    expect(created.status, 'state after create (runtime.md, "State")').toBe('created')
    expect(existsSync(join(t.root, 'c1', 'exec.fifo')), 'ROOT/c1/exec.fifo after create (the text\'s "The state directory and the status")').toBe(true)
    expect(Number(readFileSync(pidFile, 'utf8')), 'the PID in --pid-file vs the pid state gives').toBe(created.pid)
    expect(alive(created.pid), 'the pid state gives after create is no live process: what became of it once create exited? (the text\'s "create")').toBe(true)
    await new Promise((r) => setTimeout(r, 300))
    expect(t.out(), 'the probe printed before start: what holds the process back between create and start? (the text\'s "create"; fifo(7))').toBe('')
    const started = await t.rt('start', 'c1')
    expect(started.code, `start failed: ${started.stderr}`).toBe(0)
    expect(await waitFor(() => t.out().includes('hostname'), 10_000), `nothing from the probe within 10 s of start; it printed: ${t.out()}`).toBe(true)
    expect(probeLines(t.out())).toEqual([{ pid: 1, ppid: 0 }, { hostname: 'bundle' }])
    const running = await t.state('c1')
    expect(running.status, 'state after start, the process alive: what tells created from running? (the text\'s "The state directory and the status")').toBe('running')
    expect(running).toMatchObject({ id: 'c1', pid: created.pid, bundle: t.bundle, annotations: {} })
  }, 60_000) // about 4 s on a quiet machine, more than 30 under a load of 17

  it('a started container with a cgroupsPath: delete, kill SIGUSR1, kill 9, kill KILL, delete', async () => {
    const cgroupsPath = testCgroupPath()
    const t = setup(['wait-signal', 'sleep:60000'], (spec) => (spec.linux!.cgroupsPath = cgroupsPath))
    expect((await t.create('c2')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c2')).code).toBe(0)
    const { pid } = await t.state('c2')
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    expect(cgroup, 'the process\'s /proc/PID/cgroup vs linux.cgroupsPath').toContain(cgroupsPath)
    const dirs = cgroupDirs(cgroup)
    expect(dirs.length).toBeGreaterThan(0)
    const refused = await t.rt('delete', 'c2')
    expect(refused.code, 'exit code of delete, without --force, of a running container (runtime.md, "Delete")').toBe(1)
    expect(refused.stderr).toMatch(/not stopped: running/)
    expect(alive(pid), 'the process died in a delete that was refused').toBe(true)
    expect((await t.rt('kill', 'c2', 'SIGUSR1')).code, 'exit code of kill c2 SIGUSR1').toBe(0)
    expect(await waitFor(() => t.out().includes('"signal"'), 5000), `no signal reported by the probe within 5 s of kill c2 SIGUSR1; it printed: ${t.out()}`).toBe(true)
    await t.rt('kill', 'c2', '9')
    expect(await waitFor(() => !alive(pid), 5000), 'the process still alive 5 s after kill c2 9').toBe(true)
    expect((await t.state('c2')).status, 'state after the process died: who knows whether it runs, the record or the kernel? (the text\'s "The state directory and the status")').toBe('stopped')
    // The kill below must not reach another process, whatever the code under test does: the PID is still the dead container's.
    expect(processState(pid), `the container's process ${pid} was reaped by another than create's caller (the test holds it as a zombie) after kill c2 9: whose child was it once create had exited, and who collected its exit? (the text's "create")`).toBe('Z')
    const again = await t.rt('kill', 'c2', 'KILL')
    expect(again.stderr, 'kill KILL of a stopped container: which words does containerd read as "already gone"? (kill\'s doc comment)').toMatch(/container not running/)
    expect((await t.rt('delete', 'c2')).code).toBe(0)
    expect(existsSync(join(t.root, 'c2')), 'ROOT/c2 after delete').toBe(false)
    for (const dir of dirs) expect(existsSync(dir), `the cgroup ${dir} still there after delete: who made it, who removes it? (chapter 04)`).toBe(false)
  }, 90_000) // about 25 s under load, more with other tests beside it

  it('run of a probe that prints hello and exits 7', async () => {
    const t = setup(['out:hello', 'exit:7'])
    const r = await t.rt('run', '--bundle', t.bundle, 'c3')
    expect(r.stdout, r.stderr).toContain('hello')
    expect(r.code, `run's exit code vs the program's 7; it printed: ${r.stderr}`).toBe(7)
    expect(existsSync(join(t.root, 'c3')), 'ROOT/c3 after run returned').toBe(false)
  })

  it('create and start of a probe that lists its open fds, beside runc, both started with one more fd open; then exec of the same', async () => {
    const t = setup(['fds'])
    const real = runcSetup(['fds'])
    // Whoever starts a runtime may have more open than stdin, stdout and stderr: here a file of the test's.
    const open = openSync(join(t.dir, 'notes'), 'w')
    onCleanup(() => closeSync(open))
    expect((await t.createWith(open, 'f1')).code, t.out()).toBe(0)
    expect(await real.create(open), `runc create failed: ${real.out()}`).toBe(0)
    expect((await t.rt('start', 'f1')).code).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    expect(await waitFor(() => probeLines(t.out()).length > 0 && probeLines(real.out()).length > 0, 10_000), `the probes printed nothing within 10 s of start: ${t.out()} / ${real.out()}`).toBe(true)
    const [ours] = probeLines(t.out())
    const [theirs] = probeLines(real.out())
    expect(ours, `the fds the program found open under minirunc, against runc's, each runtime started with fd ${INHERITED_FD} open too (the directory the probe lists is one of them): which were still open when the program started, where did each come from, and how did it get there? (the text's "create")`).toEqual(theirs)
    const s = setup(['sleep:60000'])
    expect((await s.create('f2')).code, s.out()).toBe(0)
    expect((await s.rt('start', 'f2')).code).toBe(0)
    const exec = await minirunc(['--root', s.root, 'exec', 'f2', '/bin/probe', 'fds'], { output: join(s.dir, 'exec-output'), inherited: open })
    expect(exec.code, `exec of the probe's fds step: ${exec.stdout}`).toBe(0)
    expect(probeLines(exec.stdout), `the fds an exec'd program found open, minirunc started with fd ${INHERITED_FD} open too, against what runc's container found: which were still open, and where did each come from? (the text's "exec")`).toEqual([theirs])
  }, 90_000)

  it('exec --detach, eight times, of a program that exits at once with a status of its own, under a subreaper', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('x5')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'x5')).code).toBe(0)
    // The keeper is a subreaper, as a shim is: it adopts what each exec leaves and reaps it.
    const ended: { pid: number; exits: number; hold: number }[] = []
    for (let i = 0; i < 8; i++) {
      const pidFile = join(t.dir, `exec-${i}.pid`)
      const r = await minirunc(['--root', t.root, 'exec', '--detach', '--pid-file', pidFile, 'x5', '/bin/probe', `exit:${20 + i}`], { output: join(t.dir, 'exec-output'), keeper: t.keeper })
      expect(r.code, `exec --detach: ${r.stdout}`).toBe(0)
      ended.push({ pid: Number(readFileSync(pidFile, 'utf8')), exits: 20 + i, hold: t.keeper.holders().at(-1)! })
    }
    await waitFor(() => ended.every(({ pid }) => t.keeper.reaped().has(pid)), 10_000)
    const seen = ended.map(({ pid, hold }) => `PID ${pid} under ${hold}: ${t.keeper.reaped().get(pid)}`)
    expect(seen, `how each exec'd program ended, as the subreaper that ran its exec reaped it (undefined: it never reaped it), against the status each exits with: whose child was the program when it exited, and who read its status? (the text's "exec")`).toEqual(ended.map(({ pid, exits, hold }) => `PID ${pid} under ${hold}: ${exits}`))
  }, 90_000)

  it('exec into a container with a cgroup namespace of its own, and of a program that SIGTERM ends, beside runc', async () => {
    const own = (spec: Spec) => {
      spec.linux!.namespaces!.push({ type: 'cgroup' })
      spec.linux!.cgroupsPath = testCgroupPath()
    }
    const t = setup(['cgroup', 'sleep:60000'], own)
    const real = runcSetup(['sleep:60000'], own)
    expect((await t.create('x1')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'x1')).code).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    const { pid } = await t.state('x1')
    expect(await waitFor(() => probeLines(t.out()).length > 0, 10_000), `the container printed nothing within 10 s of start: ${t.out()}`).toBe(true)
    const exec = await t.rt('exec', 'x1', '/bin/probe', 'ns', 'cgroup')
    expect(exec.code, `exec of the probe's ns and cgroup steps: ${exec.stderr}`).toBe(0)
    const [seen, cgroup] = probeLines(exec.stdout) as [{ ns: Record<string, string> }, { cgroup: string }]
    const container = Object.fromEntries(Object.keys(seen.ns).map((kind) => [kind, readlinkSync(`/proc/${pid}/ns/${kind}`)]))
    expect(seen.ns, 'the namespaces of the exec\'d process vs those of the container\'s process, each link as /proc shows it: which of the container\'s did it stay outside, and how could exec have known which there are? (setns(2), namespaces(7); the text\'s "exec")').toEqual(container)
    expect(cgroup, 'the exec\'d process\'s /proc/self/cgroup vs the container\'s process\'s own (cgroup_namespaces(7))').toEqual(probeLines(t.out())[0])
    const [ended, runcEnded] = [await t.rt('exec', 'x1', '/bin/probe', `kill:${constants.signals.SIGTERM}`), await real.rt('exec', real.id, '/bin/probe', `kill:${constants.signals.SIGTERM}`)]
    expect(ended.code, `exit code of exec of a program that SIGTERM ended, vs runc exec's (ours said: ${ended.stderr.trim() || 'nothing'})`).toBe(runcEnded.code)
  }, 90_000)

  it('exec into a container created and not started, beside runc; then start', async () => {
    const t = setup(['out:started', 'sleep:60000'])
    const real = runcSetup(['out:started', 'sleep:60000'])
    expect((await t.create('x2')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    const theirs = await real.rt('exec', real.id, '/bin/probe', 'out:joined')
    expect(theirs.code, `runc exec into a created container: ${theirs.stderr}`).toBe(0)
    const ours = await minirunc(['--root', t.root, 'exec', 'x2', '/bin/probe', 'out:joined'], { timeout: 30_000 })
    rethrowNotImplemented(ours.stderr)
    expect({ code: ours.code, stdout: ours.stdout.trim() }, `exec into a container created and not started: runc exec ran the program; minirunc exited ${ours.code} and said: ${ours.stderr.trim() || '(nothing)'}. What does an exec'd process join, and from which moment of the container's life is that there? (runc's exec.go; the text's "exec")`).toEqual({ code: 0, stdout: theirs.stdout.trim() })
    expect([(await t.state('x2')).status, t.out()], 'the state after the exec, and what the container\'s own program printed: did the exec let it go?').toEqual([(await real.state()).status, real.out()])
    expect((await t.rt('start', 'x2')).code, 'start after the exec').toBe(0)
    expect(await waitFor(() => t.out().includes('started'), 10_000), `the container's program did not run within 10 s of a start after the exec: ${t.out()}`).toBe(true)
  }, 90_000)

  it('exec with a working directory the container does not have, beside runc', async () => {
    const t = setup(['sleep:60000'])
    const real = runcSetup(['sleep:60000'])
    expect((await t.create('x3')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'x3')).code).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    const theirs = await real.rt('exec', '--cwd', '/nowhere', real.id, '/bin/probe', 'out:ran')
    const ours = await minirunc(['--root', t.root, 'exec', '--cwd', '/nowhere', 'x3', '/bin/probe', 'out:ran'], { timeout: 30_000 })
    rethrowNotImplemented(ours.stderr)
    const made = (bundle: string) => existsSync(join(bundle, 'rootfs', 'nowhere'))
    expect({ refused: ours.code !== 0, ran: ours.stdout.includes('ran'), made: made(t.bundle) }, `exec --cwd /nowhere, a directory the container's root filesystem does not have: runc exec exited ${theirs.code}; minirunc exited ${ours.code} and said ${ours.stderr.trim() || '(nothing)'}. Of create's steps, which are the container's first process's alone, and what would an exec'd one change if it took them? (the text's "exec")`).toEqual({ refused: theirs.code !== 0, ran: theirs.stdout.includes('ran'), made: made(real.bundle) })
  }, 90_000)

  it('exec, from a caller whose oom_score_adj is 900, into a container whose config.json asks 300, beside runc', async () => {
    const score = (spec: Spec) => (spec.process.oomScoreAdj = 300)
    const t = setup(['sleep:60000'], score)
    const real = runcSetup(['sleep:60000'], score)
    expect((await t.create('x4')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'x4')).code).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    // The caller's score is not the container's, as a shim's is not (containerd's shim lowers its own so
    // that the OOM killer spares it; lowering takes CAP_SYS_RESOURCE, which not every machine gives root).
    const shielded = async (...command: string[]) => {
      const r = await execa('sh', ['-c', 'echo 900 > /proc/self/oom_score_adj && exec "$@"', 'sh', ...command], { reject: false, stdin: 'ignore', timeout: 30_000 })
      return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) }
    }
    const read = ['/bin/probe', 'cat:/proc/self/oom_score_adj']
    const theirs = await shielded('runc', '--root', real.root, 'exec', real.id, ...read)
    expect(theirs.code, `runc exec failed: ${theirs.stderr}`).toBe(0)
    const ours = await shielded(process.execPath, MINIRUNC, '--root', t.root, 'exec', 'x4', ...read)
    rethrowNotImplemented(ours.stderr)
    expect(ours.code, `exec failed: ${ours.stderr}`).toBe(0)
    expect(probeLines(ours.stdout), `the exec'd program's /proc/self/oom_score_adj, run from a caller whose score is 900, in a container whose config.json says 300, vs runc exec's from the same caller: where did it get its score, and who decides it for the container's processes? (proc(5); the text's "exec")`).toEqual(probeLines(theirs.stdout))
  }, 90_000)

  it('delete --force of a running container', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('c4')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c4')).code).toBe(0)
    const { pid } = await t.state('c4')
    const r = await t.rt('delete', '--force', 'c4')
    expect(r.code, r.stderr).toBe(0)
    expect(await waitFor(() => !alive(pid), 5000), 'the process still alive 5 s after delete --force').toBe(true)
    expect(existsSync(join(t.root, 'c4')), 'ROOT/c4 after delete --force').toBe(false)
  })

  it('update of a running container\'s memory and pids limits, with flags and with --resources', async () => {
    const MiB = 1024 * 1024
    const cgroupsPath = testCgroupPath()
    const t = setup(['sleep:60000'], (spec) => {
      spec.linux!.cgroupsPath = cgroupsPath
      spec.linux!.resources = { memory: { limit: 64 * MiB, swap: 128 * MiB }, pids: { limit: 32 } }
    })
    expect((await t.create('c5')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c5')).code).toBe(0)
    const { pid } = await t.state('c5')
    const dirs = cgroupDirs(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))
    const limit = (v1: string, v2: string) => {
      const file = dirs.flatMap((dir) => [join(dir, v1), join(dir, v2)]).find((f) => existsSync(f))
      return file ? readFileSync(file, 'utf8').trim() : `(neither ${v1} nor ${v2} in ${dirs.join(', ')})`
    }
    const raised = await t.rt('update', '--memory', '256m', '--memory-swap', '512m', '--pids-limit', '16', 'c5')
    expect(raised.code, `update --memory 256m --memory-swap 512m --pids-limit 16 of a container at 64 MiB, 128 MiB and 32: ${raised.stderr} (chapter 04's updateCgroup)`).toBe(0)
    expect(limit('memory.limit_in_bytes', 'memory.max'), 'the memory limit after update --memory 256m').toBe(String(256 * MiB))
    expect(limit('pids.max', 'pids.max'), 'pids.max after update --pids-limit 16').toBe('16')
    const file = join(t.dir, 'resources.json')
    writeFileSync(file, JSON.stringify({ memory: { limit: 32 * MiB, swap: 64 * MiB } }))
    const lowered = await t.rt('update', '--resources', file, 'c5')
    expect(lowered.code, `update --resources with memory 32 MiB and memory+swap 64 MiB: ${lowered.stderr}`).toBe(0)
    expect(limit('memory.limit_in_bytes', 'memory.max'), 'the memory limit after update --resources with 32 MiB').toBe(String(32 * MiB))
  })
})

describeKernel('minirunc: kill', () => {
  it('kill NOPE, then kill --all USR1, of a container with an exec\'d process, both waiting for a signal', async () => {
    const t = setup(['wait-signal', 'sleep:60000'], (spec) => (spec.linux!.cgroupsPath = testCgroupPath()))
    expect((await t.create('k1')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'k1')).code).toBe(0)
    const exec = await t.execDetached('k1', '/bin/probe', 'wait-signal', 'sleep:60000')
    expect(exec.code, `exec --detach failed: ${exec.stderr}`).toBe(0)
    const lines = (key: string) => probeLines(t.out()).filter((line) => key in line)
    expect(await waitFor(() => lines('waiting').length === 2, 10_000), `the two probes were not both waiting within 10 s; they printed: ${t.out()}`).toBe(true)
    const bad = await t.rt('kill', 'k1', 'NOPE')
    expect(bad.stderr, 'kill k1 NOPE: was anything sent? (parseSignal\'s doc comment)').toMatch(/invalid signal: NOPE/)
    expect(bad.code, 'exit code of kill k1 NOPE').toBe(1)
    expect((await t.rt('kill', '--all', 'k1', 'USR1')).code).toBe(0)
    await waitFor(() => lines('signal').length === 2, 5_000)
    expect(lines('signal'), `the signals the container's process and the exec'd one reported after kill --all k1 USR1: which processes are the container's? (kill's doc comment; runc's kill.go)`).toEqual([{ signal: constants.signals.SIGUSR1 }, { signal: constants.signals.SIGUSR1 }])
  })
})

describeKernel('minirunc: delete after others', () => {
  it('delete --force of a stopped container whose cgroup is gone already (a cgroupsPath shared with another container)', async () => {
    const cgroupsPath = testCgroupPath()
    const t = setup(['sleep:60000'], (spec) => (spec.linux!.cgroupsPath = cgroupsPath))
    expect((await t.create('g1')).code, t.out()).toBe(0)
    const { pid } = await t.state('g1')
    const dirs = cgroupDirs(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))
    process.kill(pid, 'SIGKILL')
    expect(await waitFor(() => !alive(pid), 5000)).toBe(true)
    // What the delete of another container with the same cgroupsPath does.
    expect(await waitFor(() => dirs.every((dir) => { try { rmdirSync(dir) } catch {} return !existsSync(dir) }), 5000), 'the test could not remove the cgroup').toBe(true)
    const r = await t.rt('delete', '--force', 'g1')
    expect(r.code, `delete --force failed: ${r.stderr}`).toBe(0)
    expect(existsSync(join(t.root, 'g1')), 'ROOT/g1 after delete --force').toBe(false)
  })
  it('delete --force of a container without a PID namespace of its own, whose exec\'d process moved into a cgroup below the container\'s, beside runc', async () => {
    const subs: string[] = []
    removeOnCleanup(subs)
    const { t, real } = await startedBesideRunc('b1', ['sleep:60000'], (spec) => (spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'pid')))
    expect((await t.execDetached('b1', '/bin/probe', 'sleep:60000')).code, 'exec --detach').toBe(0)
    await execa('runc', ['--root', real.root, 'exec', '--detach', real.id, '/bin/probe', 'sleep:60000'], { reject: false, stdio: 'ignore', timeout: 60_000 })
    // The exec'd process of each, moved below the container's cgroup, as a service manager inside would.
    const execd = async (rt: typeof t.rt, id: string) => {
      const init = JSON.parse((await rt('state', id)).stdout) as { pid: number }
      return (JSON.parse((await rt('ps', '--format', 'json', id)).stdout || '[]') as number[]).filter((p) => p !== init.pid)
    }
    const [ours, theirs] = [await execd(t.rt, 'b1'), await execd(real.rt, real.id)]
    expect([ours.length, theirs.length], 'exec\'d processes in each container').toEqual([1, 1])
    moveBelow(ours[0]!, subs)
    moveBelow(theirs[0]!, subs)
    const { cgroup } = JSON.parse(readFileSync(join(t.root, 'b1', 'state.json'), 'utf8')) as ContainerRecord
    const runcDeleted = await real.rt('delete', '--force', real.id)
    expect(runcDeleted.code, `runc delete --force: ${runcDeleted.stderr}`).toBe(0)
    expect(await waitFor(() => !alive(theirs[0]!), 5000), 'runc delete --force left the process below the container\'s cgroup alive: the test cannot judge').toBe(true)
    const deleted = await t.rt('delete', '--force', 'b1')
    expect(alive(ours[0]!) ? 'alive' : 'dead', `the container's exec'd process, in a cgroup below the container's own (${subs[0]}), after delete --force, which runc's kills (delete said: ${deleted.stderr.trim() || 'nothing'}): what does cgroup.procs list, and with no PID namespace of the container's own, what else could end it? (cgroups(7), pid_namespaces(7))`).toBe('dead')
    expect(deleted.code, `delete --force, vs runc's 0: ${deleted.stderr}`).toBe(0)
    for (const dir of Object.values(cgroup?.dirs ?? {})) expect(existsSync(dir), `${dir} after delete --force`).toBe(false)
  }, 120_000)
})

describeKernel('minirunc: delete of what a stopped container left', () => {
  it('delete, without --force, of a stopped container whose program left processes forking in its cgroup (no PID namespace of its own), beside runc', async () => {
    const edit = (spec: Spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'pid')
      spec.linux!.resources = { pids: { limit: 64 } }
    }
    // Chains that outlive any wait of this test: only a kill ends them before ten minutes.
    const t = setup(['storm:600000'], (spec) => {
      edit(spec)
      spec.linux!.cgroupsPath = testCgroupPath()
    })
    const real = runcSetup(['storm:600000'], edit)
    expect((await t.create('o1')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    const [ours, theirs] = [(await t.state('o1')).pid, (await real.state()).pid]
    expect((await t.rt('start', 'o1')).code).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    // Each program starts four chains of processes that fork their successor and exit, then exits itself.
    expect(await waitFor(() => !alive(ours) && !alive(theirs), 10_000), 'the programs did not exit within 10 s of start').toBe(true)
    const { cgroup } = JSON.parse(readFileSync(join(t.root, 'o1', 'state.json'), 'utf8')) as ContainerRecord
    const dirs = Object.values(cgroup?.dirs ?? {})
    const procs = (dir: string) => (existsSync(dir) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean) : [])
    expect(dirs.length > 0 && procs(dirs[0]!).length > 0, `the container's cgroup (${dirs.join(', ')}) holds no process once its program has exited: the test cannot judge`).toBe(true)
    expect([(await t.state('o1')).status, (await real.state()).status], 'the states once the programs exited').toEqual(['stopped', 'stopped'])
    const runcDeleted = await real.rt('delete', real.id)
    const deleted = await t.rt('delete', 'o1')
    expect(runcDeleted.code, `runc delete of the stopped container: ${runcDeleted.stderr}`).toBe(0)
    expect(deleted.code, `exit code of delete of a stopped container whose cgroup still held processes, vs runc's ${runcDeleted.code} (delete said: ${deleted.stderr.trim() || 'nothing'}): what does "stopped" say about the container's other processes, and what must be true before its cgroup can go? (the text's "start, kill, delete, run")`).toBe(runcDeleted.code)
    expect(existsSync(join(t.root, 'o1')), 'ROOT/o1 after delete').toBe(false)
    for (const dir of dirs) expect(existsSync(dir) ? `${dir}, holding ${procs(dir).length} processes` : '', `the container's cgroup after delete: who else was in it?`).toBe('')
  }, 240_000)
})

describeKernel('minirunc: errors as runc gives them', () => {
  it('state, start, kill and delete of an ID no container has', async () => {
    const t = setup(['pid'])
    for (const command of [['state'], ['start'], ['kill'], ['delete']]) {
      const r = await t.rt(...command, 'nope')
      expect(r.code, `exit code of ${command[0]} nope`).toBe(1)
      expect(r.stderr, `${command[0]} nope: the words containerd matches (loadContainer's doc comment)`).toMatch(/container does not exist/)
    }
    const lines = t.logLines()
    expect(lines.length, 'lines in the --log file after four failed commands').toBeGreaterThanOrEqual(4)
    expect(lines.at(-1), 'the last --log line after delete nope').toMatchObject({ level: 'error', msg: 'container does not exist' })
    expect(Number.isNaN(Date.parse(lines.at(-1)!.time)), `the last --log line's time is no date: ${lines.at(-1)!.time}`).toBe(false)
  })

  it('start of a started container', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('c5')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c5')).code).toBe(0)
    const r = await t.rt('start', 'c5')
    expect(r.code, 'exit code of the second start c5').toBe(1)
    expect(r.stderr).toMatch(/already running/)
  })

  it('start of a paused container, beside runc', async () => {
    const own = (spec: Spec) => (spec.linux!.cgroupsPath = testCgroupPath())
    const t = setup(['sleep:60000'], own)
    const real = runcSetup(['sleep:60000'], own)
    thawOnCleanup(t.root, 'c7')
    expect((await t.create('c7')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    for (const [rt, id] of [[t.rt, 'c7'], [real.rt, real.id]] as const) {
      expect((await rt('start', id)).code, `start ${id}`).toBe(0)
      expect((await rt('pause', id)).code, `pause ${id}`).toBe(0)
    }
    const [started, runcStarted] = [await t.rt('start', 'c7'), await real.rt('start', real.id)]
    expect(started.code, 'exit code of start of a paused container, vs runc\'s').toBe(runcStarted.code)
    const words = /msg="([^"]*)"/.exec(runcStarted.stderr)?.[1] ?? runcStarted.stderr.trim()
    expect(started.stderr, `start's refusal vs runc's "${words}": which statuses can start meet, and does each have words of its own? (runc's start.go)`).toContain(words)
    expect((await t.state('c7')).status, 'state after, vs runc\'s').toBe((await real.state()).status)
  }, 60_000)

  it('create of an ID already in use', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('c6')).code, t.out()).toBe(0)
    const { pid } = await t.state('c6')
    const r = await t.create('c6')
    expect(r.code, 'exit code of the second create c6').toBe(1)
    expect(t.out()).toMatch(/container with id exists: c6/)
    expect((await t.state('c6')).pid, 'the first c6\'s pid after the second create: what did that create touch? (the text\'s "create"; mkdir(2))').toBe(pid)
  })

  for (const id of ['../escape', 'a/b', '..']) {
    it(`create with the ID ${JSON.stringify(id)}`, async () => {
      const t = setup(['pid'])
      const r = await t.create(id)
      const where = `where does ROOT/${id} lead? (the text's "The bundle and the ID"; runc's validateID)`
      expect(r.code, `exit code of create ${id}: ${where}`).toBe(1)
      expect(t.out(), where).toMatch(/invalid id format/)
      expect(existsSync(join(t.dir, 'escape')), `${join(t.dir, 'escape')}, beside --root, after create ${id}`).toBe(false)
      expect(existsSync(t.root) ? readdirSync(t.root) : [], `ROOT after create ${id}`).toEqual([])
    })
  }

  const broken: [string, (bundle: string) => void, RegExp, string][] = [
    ['no config.json', (b) => writeFileSync(join(b, 'config.json.bak'), '') , /config\.json not found/, 'loadBundle\'s doc comment'],
    ['a config.json that is not JSON', (b) => writeFileSync(join(b, 'config.json'), '{"ociVersion":'), /not valid JSON/, 'loadBundle\'s doc comment'],
    ['no process.args', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { cwd: '/', env: [] }, root: { path: 'rootfs' } })), /process\.args is required/, 'what does config.md mark REQUIRED?'],
    ['no rootfs', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')), root: { path: 'missing' } })), /rootfs .*missing.* does not exist/, 'config.md, "Root"'],
    ['a program that is not there', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')), process: { args: ['nope'], env: ['PATH=/bin'], cwd: '/' } })), /exec: "nope": executable file not found in \$PATH/, 'findExecutable\'s doc comment; chapter 01'],
    ['a program that is a directory', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')), process: { args: ['/'], env: ['PATH=/bin'], cwd: '/' } })), /exec: "\/": permission denied/, 'is it "no such file"? Go\'s LookPath; docker\'s exit codes 126 and 127; the text\'s "create"'],
  ]
  for (const [what, breakIt, message, where] of broken) {
    it(`create of a bundle with ${what}`, async () => {
      const cgroupsPath = testCgroupPath()
      const t = setup(['pid'], (spec) => (spec.linux!.cgroupsPath = cgroupsPath))
      if (what === 'no config.json') writeFileSync(join(t.bundle, 'config.json.bak'), readFileSync(join(t.bundle, 'config.json')))
      if (what === 'no config.json') (await import('node:fs')).rmSync(join(t.bundle, 'config.json'))
      breakIt(t.bundle)
      const r = await t.create('bad')
      expect(r.code, `exit code of create with ${what}`).toBe(1)
      expect(t.out(), `create's output with ${what} (${where})`).toMatch(message)
      expect(t.logLines().at(-1)?.msg ?? '', 'the last --log line after the failed create').toMatch(message)
      expect(existsSync(join(t.root, 'bad')), 'ROOT/bad still there after the failed create: what undoes a create that fails half-way? (the text\'s "create")').toBe(false)
    })
  }
})

describeKernel('minirunc: what happens to a created container before start, beside runc', () => {
  it('start of a container whose program was removed after create', async () => {
    const t = setup(['pid'])
    const real = runcSetup(['pid'])
    expect((await t.create('s1')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    const [ours, theirs] = [await t.state('s1'), await real.state()]
    for (const bundle of [t.bundle, real.bundle]) rmSync(join(bundle, 'rootfs', 'bin', 'probe'))
    const [started, runcStarted] = [await t.rt('start', 's1'), await real.rt('start', real.id)]
    expect(started.code, `exit code of start, /bin/probe removed after create, vs runc's (runc start said: ${runcStarted.stderr || 'nothing'}; ours: ${started.stderr}): who is left to learn that the exec failed? (the text's "After start")`).toBe(runcStarted.code)
    expect(await waitFor(() => !alive(ours.pid) && !alive(theirs.pid), 10_000), 'the container\'s process still alive 10 s after a start whose program is gone: what does the process do when its exec fails, with no one reading the helper\'s replies? (the text\'s "After start")').toBe(true)
    expect((await t.state('s1')).status, 'state after, vs runc\'s').toBe((await real.state()).status)
    expect(waitStatus(ours.pid), `the container's process's wait status (exit code x 256) vs runc's init's, its program removed: how does the shim, its subreaper, learn that the program never ran? (the text's "After start")`).toBe(waitStatus(theirs.pid))
    // runc's init writes Go's error to the stderr it kept from create: "exec PATH: REASON".
    const reason = real.out().trim().split(': ').at(-1)!.toLowerCase()
    expect(reason, `runc's init said nothing of the failed exec: ${real.out()}`).not.toBe('')
    expect(t.out().toLowerCase(), `what the container's stderr shows of the failed exec vs runc's "${real.out().trim()}": the program's path and the kernel's reason (the text's "After start")`).toContain('/bin/probe')
    expect(t.out().toLowerCase(), `what the container's stderr shows of the failed exec vs runc's "${real.out().trim()}"`).toContain(reason)
  })

  it('start of a container whose process was killed after create', async () => {
    const t = setup(['pid'])
    const real = runcSetup(['pid'])
    expect((await t.create('s2')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    const pids = [(await t.state('s2')).pid, (await real.state()).pid]
    for (const pid of pids) process.kill(pid, 'SIGKILL')
    expect(await waitFor(() => pids.every((pid) => !alive(pid)), 10_000), 'the created containers\' processes still alive 10 s after SIGKILL').toBe(true)
    const [started, runcStarted] = [await t.rt('start', 's2'), await real.rt('start', real.id)]
    expect(started.code, `exit code of start of a container whose process died, vs runc's (runc said: ${runcStarted.stderr}; ours: ${started.stderr}): what did start wait for? (start's doc comment)`).toBe(runcStarted.code)
    const words = /msg="([^"]*)"/.exec(runcStarted.stderr)?.[1] ?? runcStarted.stderr.trim()
    expect(started.stderr, `start's error vs runc's "${words}": which status does the kernel give a container whose process is gone? (the text's "The state directory and the status")`).toContain(words)
    expect((await t.state('s2')).status, 'state after, vs runc\'s').toBe((await real.state()).status)
  })

  it('start of a container whose program exits at once, let go while start waits, beside runc', async () => {
    const t = setup(['out:ran'])
    const real = runcSetup(['out:ran'])
    expect((await t.create('s3')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    const [ours, theirs] = [(await t.state('s3')).pid, (await real.state()).pid]
    // Each process parked on its fifo is held stopped (SIGSTOP): it can neither open its side nor write.
    for (const pid of [ours, theirs]) process.kill(pid, 'SIGSTOP')
    onCleanup(() => {
      for (const pid of [ours, theirs]) try { process.kill(pid, 'SIGCONT') } catch { /* gone */ }
    })
    expect(await waitFor(() => processState(ours) === 'T' && processState(theirs) === 'T', 5000), 'the parked processes did not stop within 5 s of SIGSTOP').toBe(true)
    // runc start: its process goes on while start waits; it writes, runs its program and exits.
    const runcStart = real.rt('start', real.id)
    await new Promise((r) => setTimeout(r, 500))
    process.kill(theirs, 'SIGCONT')
    const runcStarted = await runcStart
    // minirunc start, stopped right before its first look at a process once it has opened
    // exec.fifo (crasher.ts holdlook): meanwhile the process writes, runs its program and exits.
    const sync = join(t.dir, 'sync')
    mkdirSync(sync)
    const starting = execa(process.execPath, ['-e', `require(${JSON.stringify(START)}).start('crasher', 'test/09-runtime/crasher.ts')`, 'holdlook', sync, '--root', t.root, '--log', join(t.dir, 'log.json'), '--log-format', 'json', 'start', 's3'], { reject: false, stdin: 'ignore', timeout: 90_000 })
    await waitFor(() => existsSync(join(sync, 'held')) || existsSync(join(sync, 'done')), 30_000)
    process.kill(ours, 'SIGCONT')
    if (existsSync(join(sync, 'held'))) expect(await waitFor(() => !alive(ours), 10_000), 'the container\'s process, let go while start was held, still alive 10 s later').toBe(true)
    writeFileSync(join(sync, 'go'), '')
    const r = await starting
    rethrowNotImplemented(String(r.stderr))
    const said = String(r.stderr).trim() || '(nothing)'
    expect(runcStarted.code, `runc start of a process let go while it waited: ${runcStarted.stderr}`).toBe(0)
    expect(await waitFor(() => t.out().includes('ran'), 5000), `the program did not run: start exited ${r.exitCode} and said ${said}; the container printed ${t.out() || 'nothing'}`).toBe(true)
    expect(r.exitCode, `exit code of start vs runc's ${runcStarted.code}, the program having run and exited between two of start's looks (start said: ${said}): what did start see, in which order, and what did each look tell it about the other? (the text's "start, kill, delete, run")`).toBe(runcStarted.code)
    expect((await t.state('s3')).status, 'state after, vs runc\'s').toBe((await real.state()).status)
  }, 120_000)
})

/** After the test (and before the forced deletes, cleanups running last first): thaw and kill what a runtime left frozen in container `id`'s freezer, and remove that freezer. */
function thawOnCleanup(root: string, id: string): void {
  onCleanup(async () => {
    const file = join(root, id, 'state.json')
    if (!existsSync(file)) return
    const freezer = (JSON.parse(readFileSync(file, 'utf8')) as ContainerRecord).freezer
    if (!freezer || !existsSync(freezer.dir)) return
    // killed while frozen, they die as the thaw wakes them, before a storm's fork; a process that
    // was not frozen yet may fork once more or exit first: kill what is left until nothing is
    const killLeft = () => {
      const left = readFileSync(join(freezer.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)
      for (const pid of left) try { process.kill(Number(pid), 'SIGKILL') } catch { /* exited meanwhile */ }
      return left.length === 0
    }
    killLeft()
    writeFileSync(join(freezer.dir, freezer.version === 2 ? 'cgroup.freeze' : 'freezer.state'), freezer.version === 2 ? '0' : 'THAWED')
    await waitFor(killLeft, 5_000)
    if (freezer.version === 1) for (const dir of freezer.removeOrder) rmdirSync(dir)
  })
}

/** The freezer cgroup directory process `pid` is in (v1's freezer line, or v2's own cgroup), from its /proc/PID/cgroup. */
function freezerOf(pid: number): string | undefined {
  const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
  const v1 = /^\d+:(?:[^:\n]*,)?freezer(?:,[^:\n]*)?:(.*)$/m.exec(text)
  if (v1) return join('/sys/fs/cgroup/freezer', v1[1]!)
  const v2 = /^0::(.*)$/m.exec(text)
  return v2 && existsSync('/sys/fs/cgroup/cgroup.controllers') ? join('/sys/fs/cgroup', v2[1]!) : undefined
}

/** What still runs of a paused container whose processes are `pids` (from its ps): each process outside a frozen freezer, and whether any CPU time or any new process appears within `ms`. */
async function stillRunning(pids: number[], listAgain: () => Promise<number[]>, ms: number): Promise<string[]> {
  const frozen = (dir: string | undefined) => {
    if (!dir) return false
    const v2 = join(dir, 'cgroup.events')
    const v1 = join(dir, 'freezer.state') // none at the hierarchy's root, which never freezes
    return existsSync(v2) ? readFileSync(v2, 'utf8').includes('frozen 1') : existsSync(v1) && readFileSync(v1, 'utf8').trim() === 'FROZEN'
  }
  const problems = pids.filter((pid) => alive(pid) && !frozen(freezerOf(pid))).map((pid) => `process ${pid} is in ${freezerOf(pid) ?? 'no freezer'}, which is not frozen`)
  const ticks = () => pids.reduce((sum, pid) => sum + (alive(pid) ? cpuTicks(pid) : 0), 0)
  const before = ticks()
  await new Promise((r) => setTimeout(r, ms))
  if (ticks() !== before) problems.push(`the processes used CPU time within ${ms} ms`)
  const born = (await listAgain()).filter((pid) => !pids.includes(pid))
  if (born.length) problems.push(`new processes appeared within ${ms} ms: ${born.join(', ')}`)
  return problems
}

describeKernel('minirunc: pause and resume', () => {
  it('pause and resume of a container that keeps forking and exiting, beside runc pause', async () => {
    const limit = (spec: Spec) => (spec.linux!.resources = { pids: { limit: 64 } })
    const t = setup(['storm:30000'], (spec) => {
      limit(spec)
      spec.linux!.cgroupsPath = testCgroupPath()
    })
    const real = runcSetup(['storm:30000'], limit)
    thawOnCleanup(t.root, 'f1')
    expect((await t.create('f1')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    expect((await t.rt('start', 'f1')).code).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    const ps = async (rt: typeof t.rt, id: string) => JSON.parse((await rt('ps', '--format', 'json', id)).stdout || '[]') as number[]
    await new Promise((r) => setTimeout(r, 300))
    const runcPaused = await real.rt('pause', real.id)
    expect(runcPaused.code, `runc pause of the storm failed: ${runcPaused.stderr}`).toBe(0)
    expect(await stillRunning(await ps(real.rt, real.id), () => ps(real.rt, real.id), 300), 'runc pause left the storm running: this kernel cannot freeze it, the test cannot judge').toEqual([])
    const paused = await t.rt('pause', 'f1')
    expect(paused.code, `pause of a container that keeps forking and exiting, which runc pauses: ${paused.stderr} (what changed between what you looked at and what you acted on? the text's "pause and resume")`).toBe(0)
    const pids = await ps(t.rt, 'f1')
    expect(pids.length, 'ps --format json of the paused storm').toBeGreaterThan(0)
    expect(await stillRunning(pids, () => ps(t.rt, 'f1'), 300), 'what still ran of the storm after pause, which runc pause stops: where was each of these processes, and since when? (the text\'s "pause and resume")').toEqual([])
    expect((await t.rt('resume', 'f1')).code).toBe(0)
    expect(await waitFor(() => pids.some((pid) => !alive(pid)), 10_000), 'the storm did not go on within 10 s of resume').toBe(true)
  }, 90_000)


  it('pause of a container whose process moved into a cgroup below its own, as systemd inside a container does, beside runc pause', async () => {
    const subs: string[] = []
    removeOnCleanup(subs)
    const { t, real } = await startedBesideRunc('n1', ['burn:60000'], () => {}, true)
    const [ours, theirs] = [(await t.state('n1')).pid, (await real.state()).pid]
    expect(await waitFor(() => cpuTicks(ours) > 0 && cpuTicks(theirs) > 0, 10_000), 'the burners used no CPU within 10 s of start').toBe(true)
    moveBelow(ours, subs)
    moveBelow(theirs, subs)
    const runcPaused = await real.rt('pause', real.id)
    expect(runcPaused.code, `runc pause failed: ${runcPaused.stderr}`).toBe(0)
    expect(await cpuUsedIn(theirs, 300), 'runc pause left the burner in its sub-cgroup running: the test cannot judge').toBe(0)
    const paused = await t.rt('pause', 'n1')
    expect(paused.code, `pause failed: ${paused.stderr}`).toBe(0)
    expect(await cpuUsedIn(ours, 300), `the container's burner, in a cgroup below the container's own (${subs[0]}), still ran after pause, which runc pause stops: what does cgroup.procs list, and where was this process when you looked? (cgroups(7); the text's "pause and resume")`).toBe(0)
    expect((await t.rt('resume', 'n1')).code).toBe(0)
    expect(await runsAgainWithin(ours, 10_000), 'the burner used no CPU within 10 s of resume').toBe(true)
  }, 90_000)

  it('exec into a paused container, beside runc exec into a paused one', async () => {
    const t = setup(['sleep:60000'], (spec) => (spec.linux!.cgroupsPath = testCgroupPath()))
    const real = runcSetup(['sleep:60000'])
    thawOnCleanup(t.root, 'x1')
    expect((await t.create('x1')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    expect((await t.rt('start', 'x1')).code).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    const runcPaused = await real.rt('pause', real.id)
    expect(runcPaused.code, `runc pause failed: ${runcPaused.stderr}`).toBe(0)
    const paused = await t.rt('pause', 'x1')
    expect(paused.code, `pause failed: ${paused.stderr}`).toBe(0)
    const theirs = await real.rt('exec', real.id, '/bin/probe', 'out:joined')
    const ours = await minirunc(['--root', t.root, 'exec', 'x1', '/bin/probe', 'out:joined'], { timeout: 20_000 })
    rethrowNotImplemented(ours.stderr)
    // runc's words, without the "exec failed: " its command line puts before every exec error.
    const words = (/msg="(?:exec failed: )?([^"]*)"/.exec(theirs.stderr)?.[1] ?? theirs.stderr.trim())
    expect(theirs.code, `runc exec into a paused container: ${theirs.stderr}`).not.toBe(0)
    expect(ours.code === 0 ? ours.stdout : ours.stderr, `exec into a paused container: runc refused it (exit ${theirs.code}: ${words}); minirunc exited ${ours.code} and said: ${ours.stderr.trim() || '(nothing)'}. What would become of a process that joined this container now, and of the exec waiting for it? (the text's "exec")`).toContain(words)
    expect((await t.state('x1')).status, 'state after an exec into the paused container').toBe('paused')
    const ps = JSON.parse((await t.rt('ps', '--format', 'json', 'x1')).stdout || '[]') as number[]
    expect(ps.length, `the paused container's processes after the exec (${ps.join(', ')}): was one added?`).toBe(1)
  }, 90_000)

  it('pause and resume of a CPU burner and an exec\'d one, an exec after resume, a second pause, then delete --force while paused', async () => {
    const t = setup(['burn:60000'], (spec) => (spec.linux!.cgroupsPath = testCgroupPath()))
    expect((await t.create('p1')).code, t.out()).toBe(0)
    // A runtime that cannot thaw must not leave frozen processes, which nothing else could kill, nor its freezer cgroup.
    thawOnCleanup(t.root, 'p1')
    expect((await t.rt('resume', 'p1')).stderr, 'resume of a created container (pause\'s doc comment)').toMatch(/container not paused/)
    expect((await t.rt('start', 'p1')).code).toBe(0)
    const { pid } = await t.state('p1')
    expect(await waitFor(() => cpuTicks(pid) > 0, 10_000), 'the probe used no CPU within 10 s of start').toBe(true)
    const exec = await t.execDetached('p1', '/bin/probe', 'burn:60000')
    expect(exec.code, `exec --detach failed: ${exec.stderr}`).toBe(0)
    const paused = await t.rt('pause', 'p1')
    expect(paused.code, `pause failed: ${paused.stderr}`).toBe(0)
    expect((await t.state('p1')).status, 'state after pause: where does state learn it? (the text\'s "pause and resume")').toBe('paused')
    const ps = await t.rt('ps', '--format', 'json', 'p1')
    const pids = JSON.parse(ps.stdout) as number[]
    expect(pids.length, `ps --format json of the probe and one exec'd process: ${ps.stdout}`).toBe(2)
    for (const p of pids) expect(await cpuUsedIn(p, 300), `process ${p} still ran after pause: which processes did the freezer stop? (the text's "pause and resume")`).toBe(0)
    expect((await t.rt('pause', 'p1')).stderr, 'pause of a paused container (pause\'s doc comment)').toMatch(/container not running/)
    const resumed = await t.rt('resume', 'p1')
    expect(resumed.code, `resume failed: ${resumed.stderr}`).toBe(0)
    expect((await t.state('p1')).status, 'state after resume').toBe('running')
    expect(await runsAgainWithin(pid, 10_000), 'the probe used no CPU within 10 s of resume').toBe(true)
    // One more process joins the container between the first pause and the second.
    const later = await t.execDetached('p1', '/bin/probe', 'burn:60000')
    expect(later.code, `exec --detach after resume failed: ${later.stderr}`).toBe(0)
    expect((await t.rt('pause', 'p1')).code).toBe(0)
    const again = JSON.parse((await t.rt('ps', '--format', 'json', 'p1')).stdout) as number[]
    expect(again.length, `ps --format json after the second pause: the probe and two exec'd processes: ${again.join(', ')}`).toBe(3)
    for (const p of again.filter((p) => !pids.includes(p))) expect(await cpuUsedIn(p, 300), `process ${p}, exec'd after resume, still ran after the second pause: where was it born, and what did this pause look at before it froze? (the text's "pause and resume")`).toBe(0)
    pids.push(...again.filter((p) => !pids.includes(p)))
    const { freezer } = JSON.parse(readFileSync(join(t.root, 'p1', 'state.json'), 'utf8')) as { freezer: { dir: string } }
    const deleted = await t.rt('delete', '--force', 'p1')
    expect(deleted.code, `delete --force of a paused container failed: ${deleted.stderr}`).toBe(0)
    expect(await waitFor(() => pids.every((p) => !alive(p)), 5_000), 'the paused container\'s processes still alive 5 s after delete --force: what does a frozen process do with SIGKILL? (the text\'s "pause and resume")').toBe(true)
    expect(existsSync(freezer.dir), `the freezer cgroup ${freezer.dir} still there after delete --force`).toBe(false)
  }, 180_000) // two CPU burners slow every other step, minutes in the VM test's emulated guest
})

describeKernel('minirunc: the bundle runc spec writes', () => {
  it('runc spec\'s own config.json around the probe (linux.resources, no cgroupsPath): start, pause, resume, delete --force', async () => {
    const id = `spec-${randomBytes(4).toString('hex')}`
    // Run last (cleanups run last first), after setup()'s delete --force: the cgroups named for
    // the container, should a runtime leave them.
    const made: string[] = []
    onCleanup(() => {
      for (const dir of made.reverse()) try { rmdirSync(dir) } catch {}
    })
    const t = setup(['sleep:60000'])
    // The text's "Then try it": the config.json the real runc writes, its program the probe.
    rmSync(join(t.bundle, 'config.json'))
    execFileSync('runc', ['spec', '--bundle', t.bundle])
    editConfig(t.bundle, (spec) => {
      spec.process.terminal = false
      spec.process.args = ['/bin/probe', 'pid', 'sleep:60000']
    })
    const spec = JSON.parse(readFileSync(join(t.bundle, 'config.json'), 'utf8')) as Spec
    expect(spec.linux?.resources && !spec.linux.cgroupsPath, 'runc spec no longer writes linux.resources without a cgroupsPath: this test needs another bundle').toBe(true)
    expect((await t.create(id)).code, t.out()).toBe(0)
    expect((await t.rt('start', id)).code).toBe(0)
    const { pid } = await t.state(id)
    const dirs = cgroupDirsOf(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), id)
    made.push(...dirs)
    const paused = await t.rt('pause', id)
    expect(paused.code, `pause of a container from runc spec's config.json failed: ${paused.stderr} (it asks for linux.resources and names no cgroupsPath: where does runc put it? runc's libcontainer/specconv, createCgroupConfig)`).toBe(0)
    expect((await t.state(id)).status, 'state after pause').toBe('paused')
    expect((await t.rt('resume', id)).code).toBe(0)
    expect(dirs.length, `the container's cgroups in its /proc/PID/cgroup, none named ${id}: which cgroup would runc have made for it?`).toBeGreaterThan(0)
    expect((await t.rt('delete', '--force', id)).code).toBe(0)
    for (const dir of dirs) expect(existsSync(dir), `the cgroup ${dir} still there after delete --force: who made it, who removes it?`).toBe(false)
  })
})

describeKernel('minirunc: what else config.json asks', () => {
  it('a bundle with rlimits, oomScoreAdj, a net.* sysctl, masked and read-only paths', async () => {
    const t = setup(['cat:/proc/self/limits', 'cat:/proc/self/oom_score_adj', 'cat:/proc/sys/net/ipv4/ip_unprivileged_port_start', 'stat:/proc/timer_list', 'ls:/proc/tty', 'write:/proc/sys/kernel/domainname:x'], (spec) => {
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1000, hard: 2000 }, { type: 'RLIMIT_CORE', soft: 2 ** 64 - 1, hard: 2 ** 64 - 1 }]
      spec.process.oomScoreAdj = 345
      spec.linux!.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '123' }
      spec.linux!.maskedPaths = ['/proc/timer_list', '/proc/tty', '/proc/not-there']
      spec.linux!.readonlyPaths = ['/proc/sys']
    })
    const hostPortStart = readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')
    expect((await t.create('x1')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'x1')).code).toBe(0)
    expect(await waitFor(() => probeLines(t.out()).length === 6, 10_000), `fewer than six lines from the probe within 10 s; it printed: ${t.out()}`).toBe(true)
    const [limits, oom, portStart, timerList, tty, write] = probeLines(t.out())
    expect(limits!.cat, 'Max open files in the probe\'s /proc/self/limits, with RLIMIT_NOFILE 1000:2000 in process.rlimits: who can set another process\'s limits, and when? (getrlimit(2); the text\'s "rlimits and oomScoreAdj")').toMatch(/^Max open files\s+1000\s+2000\s/m)
    expect(limits!.cat, 'Max core file size in the probe\'s /proc/self/limits, with RLIMIT_CORE 2^64-1 in process.rlimits').toMatch(/^Max core file size\s+unlimited\s+unlimited\s/m)
    expect(oom!.cat, 'the probe\'s /proc/self/oom_score_adj, with process.oomScoreAdj 345 (proc(5))').toBe('345\n')
    expect(portStart!.cat, 'net.ipv4.ip_unprivileged_port_start as the probe reads it, with 123 in linux.sysctl: whose /proc/sys/net was written? (proc(5), "/proc/sys/net")').toBe('123\n')
    expect(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'), 'the host\'s net.ipv4.ip_unprivileged_port_start after create').toBe(hostPortStart)
    expect(timerList!.rdev, 'what the probe finds at /proc/timer_list, a file in maskedPaths (config-linux.md "Masked Paths"; runc\'s maskPath; the text\'s "maskedPaths and readonlyPaths")').toEqual([1, 3])
    expect(tty!.ls, 'what the probe lists in /proc/tty, a directory in maskedPaths (config-linux.md "Masked Paths"; runc\'s maskPath; the text\'s "maskedPaths and readonlyPaths")').toEqual([])
    expect(write, 'a write under /proc/sys, which readonlyPaths lists: how does a bind mount become read-only? (mount(2); the text\'s "maskedPaths and readonlyPaths")').toMatchObject({ step: 'write', errno: 'EROFS' })
  })

  it('linux.devices with a mode, an owner and a nested path, for a process.user that is not root', async () => {
    const t = setup(['stat:/dev/null-like', 'stat:/dev/sub/zero-like', 'write:/dev/null-like:x', 'stat:/proc/timer_list'], (spec) => {
      // dockerd adds one per --device; these have the numbers of /dev/null and /dev/zero, harmless under any name.
      spec.linux!.devices = [
        { path: '/dev/null-like', type: 'c', major: 1, minor: 3, fileMode: 0o620, uid: 1000, gid: 1001 },
        { path: '/dev/sub/zero-like', type: 'c', major: 1, minor: 5 },
      ]
      spec.linux!.maskedPaths = ['/proc/timer_list']
      spec.process.user = { uid: 1000, gid: 1000 }
    })
    const r = await t.rt('run', '--bundle', t.bundle, 'dv1')
    const lines = probeLines(r.stdout)
    expect(lines.length, `the program did not run: ${r.stderr} (what do mknod(2) and mount(2) ask of their caller? the text's "linux.devices")`).toBeGreaterThan(0)
    const [nullLike, zeroLike, write, timerList] = lines
    expect(nullLike, '/dev/null-like vs its entry, linux.devices[0]: which of the entry\'s fields does one mknod(2) set? (runc\'s createDeviceNode)').toEqual({ mode: 0o20620, uid: 1000, gid: 1001, size: 0, rdev: [1, 3] })
    expect(zeroLike, '/dev/sub/zero-like, from linux.devices[1], which gives no mode or owner (createDeviceNodes\' doc comment)').toEqual({ mode: 0o20666, uid: 0, gid: 0, size: 0, rdev: [1, 5] })
    expect(write, 'a write to /dev/null-like as uid 1000').toEqual({ wrote: '/dev/null-like' })
    expect(timerList?.rdev, 'what the probe, as uid 1000, finds at /proc/timer_list, in maskedPaths').toEqual([1, 3])
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(t.bundle, 'rootfs', 'dev', 'null-like')), 'null-like appeared in the bundle\'s rootfs/dev: in which view of the files was it made? (the text\'s "linux.devices")').toBe(false)
  })

  it('linux.resources.devices that allow 1:3 only, a /dev/kmsg node, and an exec\'d process', async () => {
    const t = setup(['write:/dev/null:x', 'sleep:60000'], (spec) => {
      spec.linux!.cgroupsPath = testCgroupPath()
      spec.linux!.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] }
      // /dev/kmsg (1:11), which runc's own defaults do not allow: a line in the kernel's log at
      // worst. Made in the container's /dev, a tmpfs of its own: a node in the bundle would be
      // refused (EACCES) wherever the bundle's filesystem is mounted nodev, as Debian's /tmp is.
      spec.linux!.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }]
    })
    expect((await t.create('d1')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'd1')).code).toBe(0)
    expect(await waitFor(() => t.out().includes('wrote'), 10_000), `no write to /dev/null (1:3) from the probe within 10 s; it printed: ${t.out()}`).toBe(true)
    const exec = await t.rt('exec', 'd1', '/bin/probe', 'write:/dev/null:x', 'write:/dev/kmsg:x')
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      // cgroup v2 only: device rules would be an eBPF program, which the runtime says it does not load.
      expect(t.logLines().map((l) => l.msg).join('\n'), 'the --log lines on cgroup v2').toMatch(/not applied by this runtime yet: .*linux\.resources\.devices \(cgroup v2\)/)
      expect(probeLines(exec.stdout), 'an exec\'d process writing /dev/null and /dev/kmsg on cgroup v2').toEqual([{ wrote: '/dev/null' }, { wrote: '/dev/kmsg' }])
      return
    }
    expect(probeLines(exec.stdout), 'an exec\'d process writing /dev/null (1:3) and /dev/kmsg (1:11) (cgroup-v1/devices.rst; the text\'s "the devices cgroup")').toEqual([{ wrote: '/dev/null' }, { step: 'write', error: '/dev/kmsg', errno: 'EPERM' }])
    const { devices } = JSON.parse(readFileSync(join(t.root, 'd1', 'state.json'), 'utf8')) as ContainerRecord
    expect((await t.rt('delete', '--force', 'd1')).code).toBe(0)
    expect(existsSync(devices!.dir), `the devices cgroup ${devices!.dir} still there after delete --force`).toBe(false)
  })

  it('linux.resources.cpu with cpus "0" and mems "0", and an exec\'d process', async () => {
    const t = setup(['cat:/proc/self/status', 'sleep:60000'], (spec) => {
      spec.linux!.cgroupsPath = testCgroupPath()
      spec.linux!.resources = { cpu: { cpus: '0', mems: '0' } }
    })
    expect((await t.create('cs1')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'cs1')).code).toBe(0)
    expect(await waitFor(() => t.out().includes('"cat"'), 10_000), `no /proc/self/status from the probe within 10 s; it printed: ${t.out()}`).toBe(true)
    const exec = await t.rt('exec', 'cs1', '/bin/probe', 'cat:/proc/self/status')
    for (const [who, text] of [['the container\'s process', t.out()], ['an exec\'d process', exec.stdout]] as const) {
      const status = String(probeLines(text)[0]?.cat ?? text)
      const allowed = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? status
      expect(allowed('Cpus_allowed_list'), `Cpus_allowed_list of ${who}, with cpus "0" (cgroup-v1/cpusets.rst; the text's "cpus and mems")`).toBe('0')
      expect(allowed('Mems_allowed_list'), `Mems_allowed_list of ${who}, with mems "0"`).toBe('0')
    }
    const { cpuset } = JSON.parse(readFileSync(join(t.root, 'cs1', 'state.json'), 'utf8')) as ContainerRecord
    expect((await t.rt('delete', '--force', 'cs1')).code).toBe(0)
    // On v2 the cpuset files are the container's own cgroup's, which delete removes anyway.
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return
    expect(cpuset?.dir, 'record.cpuset after create, on cgroup v1 (applyCpuset\'s doc comment)').toBeDefined()
    expect(existsSync(cpuset!.dir), `the cpuset cgroup ${cpuset!.dir} still there after delete --force`).toBe(false)
  })

  it('linux.sysctl with vm.swappiness; with a net.* key and no network namespace of the container\'s own', async () => {
    const t = setup(['pid'], (spec) => (spec.linux!.sysctl = { 'vm.swappiness': '0' }))
    const swappiness = readFileSync('/proc/sys/vm/swappiness', 'utf8')
    expect((await t.create('s1')).code, 'exit code of create with vm.swappiness (runc\'s validator, its sysctl check)').toBe(1)
    expect(t.logLines().at(-1)?.msg, 'the last --log line after create with vm.swappiness').toBe('sysctl "vm.swappiness" is not in a separate kernel namespace')
    expect(readFileSync('/proc/sys/vm/swappiness', 'utf8'), 'the host\'s vm.swappiness after create').toBe(swappiness)
    const u = setup(['pid'], (spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network')
      spec.linux!.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '1' }
    })
    const portStart = readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')
    expect((await u.create('s2')).code, 'exit code of create with a net.* sysctl and the host\'s network namespace: whose value would it change? (network_namespaces(7))').toBe(1)
    expect(u.logLines().at(-1)?.msg, 'the last --log line after create with a net.* sysctl and no network namespace').toBe('sysctl "net.ipv4.ip_unprivileged_port_start" is not in a separate kernel namespace')
    expect(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'), 'the host\'s net.ipv4.ip_unprivileged_port_start after create').toBe(portStart)
    expect(readdirSync(u.root), 'ROOT after the refused create').toEqual([])
  })
})

describeKernel('minirunc: the container\'s /sys/fs/cgroup', () => {
  it('dockerd\'s cgroup mount, ro, for a container with a memory limit: its own limit, no parent, no writes, and every controller\'s name', async () => {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
    const memory = v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory'
    const limitFile = v2 ? 'memory.max' : 'memory.limit_in_bytes'
    // Every name the host's /sys/fs/cgroup holds, read now: under a name whose hierarchy the
    // container has a cgroup in (chapter 04's controllers), the program must list its own; under
    // any other, it must find nothing (there, its cgroup is the runtime's, one of its parents).
    const mounted = cgroupMounts()
    const names = v2 ? [] : readdirSync('/sys/fs/cgroup').sort().map((name) => {
      const controllers = mounted.get(realpathSync(join('/sys/fs/cgroup', name))) ?? []
      return { name, controllers, used: controllers.some((c) => (V1_CONTROLLERS as string[]).includes(c)) }
    })
    const others = names.map(({ name, used }) => (used ? `ls:/sys/fs/cgroup/${name}` : `read:/sys/fs/cgroup/${name}/cgroup.procs`))
    const t = setup(['cgroup', `cat:${memory}/${limitFile}`, `ls:${memory}`, ...others, `write:${memory}/${limitFile}:${64 * 2 ** 20}`], (spec) => {
      spec.linux!.cgroupsPath = testCgroupPath()
      spec.linux!.resources = { memory: { limit: 64 * 2 ** 20 } }
      // What dockerd writes into every config.json (docker inspect of any container's bundle).
      spec.mounts!.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] })
    })
    expect((await t.create('g1')).code, `create with dockerd's cgroup mount in config.json failed: ${t.out()} (the bind sources are the host's cgroup directories: which view of the files does the process have when it mounts them? the text's "The container's /sys/fs/cgroup")`).toBe(0)
    expect((await t.rt('start', 'g1')).code).toBe(0)
    const count = 4 + others.length
    expect(await waitFor(() => probeLines(t.out()).length === count, 10_000), `fewer than ${count} lines from the probe within 10 s; it printed: ${t.out()}`).toBe(true)
    const [cgroup, limit, listing, ...rest] = probeLines(t.out())
    const write = rest.pop()
    // The container's own memory cgroup, as the host sees it, read now (the container has exited, its cgroup stays until delete).
    const line = (cgroup!.cgroup as string).split('\n').find((l) => (v2 ? l.startsWith('0::') : l.split(':')[1]!.split(',').includes('memory')))!
    const own = join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', line.split(':')[2]!)
    expect((listing!.ls as string[]).sort(), `what the probe lists in ${memory} vs the host's ${own}: which cgroup directory did the container get to see, its own or one above it?`).toEqual(readdirSync(own).sort())
    expect(limit, `what the probe reads at ${memory}/${limitFile} with dockerd's cgroup mount in config.json (the text's "The container's /sys/fs/cgroup"; runc's mountCgroupV1/V2)`).toMatchObject({ cat: readFileSync(join(own, limitFile), 'utf8') })
    for (const [i, { name, controllers, used }] of names.entries()) {
      if (!used) {
        expect(rest[i], `what the probe could read of /sys/fs/cgroup/${name}/cgroup.procs, a hierarchy (${controllers.join(',') || 'no controller'}) in which the container has no cgroup of its own: whose cgroup would it see there?`).toMatchObject({ tried: 'read', errno: expect.any(String) })
        continue
      }
      const ownLine = (cgroup!.cgroup as string).split('\n').find((l) => l.split(':')[1]!.split(',').some((c) => controllers.includes(c)))
      const dir = ownLine ? join(realpathSync(join('/sys/fs/cgroup', name)), ownLine.split(':')[2]!) : '(none)'
      expect(((rest[i] as { ls?: string[] }).ls?.slice().sort() ?? rest[i]), `what the probe lists in /sys/fs/cgroup/${name} vs the host's ${dir}, its cgroup in that hierarchy: is each hierarchy it is in there under every name the host gives it, a combined hierarchy's too? (the text's "The container's /sys/fs/cgroup")`).toEqual(existsSync(dir) ? readdirSync(dir).sort() : dir)
    }
    expect(write, `a write to ${memory}/${limitFile} from inside, with "ro" in the mount's options: what does MS_BIND do with MS_RDONLY? (mount(2), "Creating a bind mount")`).toMatchObject({ step: 'write', errno: 'EROFS' })
  }, 120_000) // ten probe steps and more, each a line the test waits for: over 30 s under load

  it.runIf(!existsSync('/sys/fs/cgroup/cgroup.controllers'))('on a v1 host whose cpu and cpuacct share one hierarchy (mounted as cpu,cpuacct): the container finds both names', async () => {
    const t = setup(['ls:/sys/fs/cgroup', 'cat:/sys/fs/cgroup/cpu/cpu.shares', 'cat:/sys/fs/cgroup/cpuacct/cpu.shares'], (spec) => {
      spec.linux!.cgroupsPath = testCgroupPath()
      spec.linux!.resources = { memory: { limit: 64 * 2 ** 20 }, cpu: { shares: 512 } }
      spec.mounts!.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] })
    })
    // A stand-in host, in a mount namespace of its own that ends with the run: its
    // /sys/fs/cgroup laid out as on hosts that mount cpu and cpuacct together (the real cpu
    // hierarchy at cpu,cpuacct, and the two names as links to it).
    const hold = join(t.dir, 'hold')
    const layout = [
      'set -e', `mkdir "${hold}"`, `mount --rbind /sys/fs/cgroup "${hold}"`, 'mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup',
      ...['memory', 'pids'].map((h) => `mkdir /sys/fs/cgroup/${h} && mount --bind "${hold}/${h}" /sys/fs/cgroup/${h}`),
      `mkdir /sys/fs/cgroup/cpu,cpuacct && mount --bind "${hold}/cpu" /sys/fs/cgroup/cpu,cpuacct`,
      'ln -s cpu,cpuacct /sys/fs/cgroup/cpu', 'ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct', `umount -l "${hold}"`, 'exec "$@"',
    ].join('\n')
    // What the stand-in host's /sys/fs/cgroup holds, listed there by the same shell before the run.
    const hostListing = join(t.dir, 'host-listing')
    const listed = layout.replace(`umount -l "${hold}"`, `umount -l "${hold}"\nls -1 /sys/fs/cgroup > "${hostListing}"`)
    const r = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', listed, 'sh', process.execPath, MINIRUNC, '--root', t.root, 'run', '--bundle', t.bundle, 'g2'], { reject: false, stdin: 'ignore', timeout: 60_000 })
    rethrowNotImplemented(String(r.stderr))
    const host = readFileSync(hostListing, 'utf8').split('\n').filter(Boolean).sort()
    const [listing, cpu, cpuacct] = probeLines(String(r.stdout))
    expect(listing, `what the probe lists in /sys/fs/cgroup, on a stand-in host whose /sys/fs/cgroup lists ${host.join(', ')}: which of those are hierarchies, which are other names, and which does a program in the container look for? run said: ${r.stderr}`).toMatchObject({ ls: host })
    for (const [name, line] of [['cpu', cpu], ['cpuacct', cpuacct]] as const)
      expect(line, `the probe's /sys/fs/cgroup/${name}/cpu.shares, cpu.shares 512 in linux.resources, on that host: what did the program find under the name ${name}, and what is that name on the host? (the text's "The container's /sys/fs/cgroup"; runc's mountCgroupV1)`).toMatchObject({ cat: '512\n' })
  })
})

describeKernel('minirunc: joining namespaces', () => {
  /** A sleeping process in new IPC, UTS, network and mount namespaces (unshare(1)'s default propagation: private), killed after the test. */
  async function namespaceHolder(): Promise<number> {
    const holder = spawn('unshare', ['--ipc', '--uts', '--net', '--mount', '--fork', '--kill-child', 'sleep', '600'], { stdio: 'ignore' })
    onCleanup(() => void holder.kill('SIGKILL'))
    const children = `/proc/${holder.pid}/task/${holder.pid}/children`
    expect(await waitFor(() => existsSync(children) && readFileSync(children, 'utf8').trim() !== '', 10_000), 'unshare did not start its sleep').toBe(true)
    return Number(readFileSync(children, 'utf8').trim().split(' ')[0])
  }

  it('ipc, uts, network and mount entries whose paths are another process\'s namespaces', async () => {
    const holder = await namespaceHolder()
    const joined = { ipc: 'ipc', uts: 'uts', network: 'net', mount: 'mnt' } as const
    const t = setup(['hostname', 'sleep:60000'], (spec) => {
      spec.linux!.namespaces = [{ type: 'pid' }, ...Object.entries(joined).map(([type, file]) => ({ type: type as 'ipc', path: `/proc/${holder}/ns/${file}` }))]
    })
    const r = await t.create('j1')
    expect(r.code, `create failed: ${t.out()}`).toBe(0)
    expect((await t.rt('start', 'j1')).code).toBe(0)
    const { pid } = await t.state('j1')
    for (const file of Object.values(joined))
      expect(readlinkSync(`/proc/${pid}/ns/${file}`), `/proc/PID/ns/${file} of the container's process vs its entry's path, /proc/${holder}/ns/${file} (setns(2); chapter 02's "Joining namespaces")`).toBe(readlinkSync(`/proc/${holder}/ns/${file}`))
    expect(readlinkSync(`/proc/${pid}/ns/pid`), 'the container\'s PID namespace, from an entry without a path').not.toBe(readlinkSync(`/proc/${holder}/ns/pid`))
    expect(await waitFor(() => probeLines(t.out()).length === 1, 10_000), `no hostname from the probe within 10 s; it printed: ${t.out()}`).toBe(true)
    expect(probeLines(t.out()), 'the hostname the probe sees in the joined UTS namespace, with "bundle" in config.json (chapter 02\'s "Joining namespaces")').toEqual([{ hostname: 'bundle' }])
  })
})

describeKernel('minirunc: the terminal', () => {
  it('process.terminal without --console-socket, with a socket that is not there; --console-socket without process.terminal', async () => {
    const cgroupsPath = testCgroupPath()
    const t = setup(['pid'], (spec) => {
      spec.process.terminal = true
      spec.linux!.cgroupsPath = cgroupsPath
    })
    const none = await t.create('t1')
    expect(none.code, 'exit code of create with process.terminal and no --console-socket').toBe(1)
    expect(t.logLines().at(-1)?.msg, 'the last --log line after create with process.terminal and no --console-socket').toBe('cannot allocate tty if runc will detach without setting console socket')
    const missing = await t.create('t2', '--console-socket', join(t.dir, 'nope.sock'))
    expect(missing.code, 'exit code of create with a --console-socket that is not there').toBe(1)
    expect(t.logLines().at(-1)?.msg, 'the last --log line after create with a --console-socket that is not there').toMatch(/^failed to connect to console socket \S*nope\.sock: connect\(".*nope\.sock"\) failed: ENOENT/)
    expect(existsSync(t.root) ? readdirSync(t.root) : [], 'ROOT after the refused creates').toEqual([])
    const leftover = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, cgroupsPath)).filter((d) => existsSync(d))
    expect(leftover, 'cgroups left after the refused creates').toEqual([])
    const spec = JSON.parse(readFileSync(join(t.bundle, 'config.json'), 'utf8')) as Spec
    spec.process.terminal = false
    writeFileSync(join(t.bundle, 'config.json'), JSON.stringify(spec))
    expect((await t.create('t3', '--console-socket', join(t.dir, 'nope.sock'))).code, 'exit code of create with --console-socket and no process.terminal').toBe(1)
    expect(t.logLines().at(-1)?.msg, 'the last --log line after create with --console-socket and no process.terminal').toBe('cannot use console socket if runc will not detach or allocate tty')
  })
})

describeKernel('minirunc: hooks', () => {
  /** A hook script that appends its name and its stdin to `file`, then exits with `code`. */
  function hookScript(dir: string, name: string, file: string, body = ''): string {
    const path = join(dir, `${name}.sh`)
    writeFileSync(path, `#!/bin/sh\nprintf '%s ' "$1" >> ${file}\ncat >> ${file}\necho >> ${file}\n${body}\n`)
    chmodSync(path, 0o755)
    return path
  }

  it('prestart, createRuntime, poststart and poststop hooks that log their name and stdin', async () => {
    const dir = tempDir()
    const file = join(dir, 'hooks.log')
    const hook = (name: string) => ({ path: hookScript(dir, name, file), args: [`${name}.sh`, name] })
    const t = setup(['sleep:60000'], (spec) => (spec.hooks = {
      prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], poststart: [hook('poststart')], poststop: [hook('poststop')],
    }))
    expect((await t.create('h1')).code, t.out()).toBe(0)
    const { pid } = await t.state('h1')
    expect((await t.rt('start', 'h1')).code).toBe(0)
    expect((await t.rt('delete', '--force', 'h1')).code).toBe(0)
    const json = (text: string) => {
      try {
        return JSON.parse(text)
      } catch {
        return text
      }
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => /^(\S+) ?(.*)$/.exec(l)!).map(([, name, stdin]) => [name!, json(stdin!)] as const)
    expect(lines.map(([name]) => name), 'the hooks in the order they ran (config.md, "POSIX-platform Hooks")').toEqual(['prestart', 'createRuntime', 'poststart', 'poststop'])
    for (const [name, state] of lines) expect(state, `what the ${name} hook read on its stdin: ${JSON.stringify(state)} (config.md, "POSIX-platform Hooks")`).toMatchObject({ id: 'h1', bundle: t.bundle, ociVersion: '1.0.2' })
    expect(lines[0]![1].pid, 'the pid in the state prestart read vs the pid state gives').toBe(pid)
  })

  it('a createContainer hook writing through the rootfs\'s host path to a tmpfs mount, a startContainer hook writing /by-start-hook', async () => {
    const t = setup(['cat:/scratch/by-create-hook', 'cat:/by-start-hook'])
    editConfig(t.bundle, (spec) => {
      spec.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] })
      spec.hooks = {
        // /scratch is a tmpfs only the container's mount namespace has.
        createContainer: [{ path: PROBE_PATH, args: ['probe', `write:${join(t.bundle, 'rootfs', 'scratch', 'by-create-hook')}:created`] }],
        startContainer: [{ path: '/bin/probe', args: ['probe', 'write:/by-start-hook:started'] }],
      }
    })
    const created = await t.create('h4')
    expect(created.code, `create failed: ${t.out()} (when can a hook still reach the rootfs by its host path? the text's "Hooks")`).toBe(0)
    expect(existsSync(join(t.bundle, 'rootfs', 'scratch', 'by-create-hook')), 'by-create-hook is in the bundle\'s rootfs/scratch on the host: in which mount namespace did the hook run? (the text\'s "Hooks")').toBe(false)
    expect(existsSync(join(t.bundle, 'rootfs', 'by-start-hook')), 'by-start-hook is in the bundle\'s rootfs before start').toBe(false)
    const started = await t.rt('start', 'h4')
    expect(started.code, `start failed: ${started.stderr} (where is a startContainer hook's path looked up? config.md, "POSIX-platform Hooks")`).toBe(0)
    expect(await waitFor(() => probeLines(t.out()).length === 2, 10_000), `the program did not print both files within 10 s; the container printed: ${t.out()} (where is a startContainer hook's path looked up? config.md, "POSIX-platform Hooks")`).toBe(true)
    expect(probeLines(t.out()), 'what the program read of /scratch/by-create-hook and /by-start-hook').toEqual([{ cat: 'created' }, { cat: 'started' }])
  })

  for (const point of ['prestart', 'createRuntime'] as const) {
    it(`a ${point} hook that prints "broken" and exits 3`, async () => {
      const dir = tempDir()
      const cgroupsPath = testCgroupPath()
      const seen = join(dir, 'log')
      const t = setup(['pid'], (spec) => {
        spec.linux!.cgroupsPath = cgroupsPath
        spec.hooks = { [point]: [{ path: hookScript(dir, 'fail', seen, 'echo broken >&2; exit 3') }] }
      })
      const r = await t.create('h2')
      expect(r.code, 'exit code of create').toBe(1)
      expect(t.out(), 'create\'s output (runHooks\' doc comment)').toMatch(new RegExp(`error running ${point} hook #0: exit status 3, stdout: .*stderr: broken`))
      expect(existsSync(join(t.root, 'h2')), 'ROOT/h2 still there after the failed create').toBe(false)
      const { pid } = JSON.parse(readFileSync(seen, 'utf8').trim()) as { pid: number }
      expect(pid, 'the pid in the state the hook read').toBeGreaterThan(0)
      expect(await waitFor(() => !alive(pid), 5_000), `the container's process ${pid} still alive 5 s after the failed create (the text's "create")`).toBe(true)
      const leftover = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, cgroupsPath)).filter((d) => existsSync(d))
      expect(leftover, 'cgroups left after the failed create').toEqual([])
    })
  }

  it('a startContainer hook that exits 3, beside runc', async () => {
    const failing = (spec: Spec) => (spec.hooks = { startContainer: [{ path: '/bin/probe', args: ['probe', 'exit:3'] }] })
    const t = setup(['out:ran'], failing)
    const real = runcSetup(['out:ran'], failing)
    expect((await t.create('h5')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    const [ours, theirs] = [(await t.state('h5')).pid, (await real.state()).pid]
    const [started, runcStarted] = [await t.rt('start', 'h5'), await real.rt('start', real.id)]
    expect(started.code, `exit code of start, its startContainer hook exiting 3, vs runc's (runc start said: ${runcStarted.stderr.trim() || 'nothing'}; ours: ${started.stderr.trim() || 'nothing'}): in which process does runc run that hook, and is its start still waiting when the hook ends? (the text's "Hooks")`).toBe(runcStarted.code)
    expect(await waitFor(() => !alive(ours) && !alive(theirs), 10_000), 'the container\'s process still alive 10 s after a start whose startContainer hook failed').toBe(true)
    expect((await t.state('h5')).status, 'state after, vs runc\'s').toBe((await real.state()).status)
    expect(t.out(), 'the program printed: did it run after its startContainer hook failed? (config.md, "startContainer")').not.toContain('ran')
    expect(real.out(), `runc's container said nothing of its failed hook: ${real.out()}`).toMatch(/hook #0: .*exit status 3/)
    expect(t.out(), `what the container's stderr shows of the failed hook vs runc's "${real.out().trim()}": once start has nothing to say, who else can tell of it? (the text's "Hooks")`).toMatch(/startContainer hook #0: .*exit status 3/)
  }, 60_000)

  it('delete --force of a running container whose poststop hook reads its stdin and exits 3, beside runc', async () => {
    const dir = tempDir()
    const hook = (file: string) => (spec: Spec) => (spec.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${file}; exit 3`] }] })
    const [seen, runcSeen] = [join(dir, 'ours'), join(dir, 'runc')]
    const t = setup(['sleep:60000'], hook(seen))
    const real = runcSetup(['sleep:60000'], hook(runcSeen))
    expect((await t.create('h6')).code, t.out()).toBe(0)
    expect(await real.create(), `runc create failed: ${real.out()}`).toBe(0)
    expect((await t.rt('start', 'h6')).code).toBe(0)
    expect((await real.rt('start', real.id)).code).toBe(0)
    const [deleted, runcDeleted] = [await t.rt('delete', '--force', 'h6'), await real.rt('delete', '--force', real.id)]
    expect(deleted.code, `exit code of delete --force, its poststop hook exiting 3, vs runc's (ours said: ${deleted.stderr.trim() || 'nothing'}): what is left to undo once the hook runs? (config.md, "poststop")`).toBe(runcDeleted.code)
    expect(existsSync(join(t.root, 'h6')), 'ROOT/h6 after delete --force').toBe(false)
    const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as { status: string; pid?: number }
    const [ours, theirs] = [read(seen), read(runcSeen)]
    expect({ status: ours.status, pid: ours.pid ?? 0 }, `the status and pid in the state the poststop hook read, vs runc's: of which moment of delete does that state speak? (config.md, "poststop"; runc's delete.go)`).toEqual({ status: theirs.status, pid: theirs.pid ?? 0 })
  }, 60_000)

  it('a createRuntime hook that sleeps 600 s, with a timeout of 1', async () => {
    const dir = tempDir()
    const t = setup(['pid'], (spec) => (spec.hooks = { createRuntime: [{ path: hookScript(dir, 'hang', join(dir, 'log'), 'sleep 600'), timeout: 1 }] }))
    const started = Date.now()
    const r = await t.create('h3')
    expect(r.code, 'exit code of create').toBe(1)
    expect(t.out(), 'create\'s output (runHooks\' doc comment)').toMatch(/createRuntime hook #0: timed out after 1 seconds/)
    expect(Date.now() - started, 'milliseconds create took, with a hook timeout of 1 s').toBeLessThan(20_000)
    expect(existsSync(join(t.root, 'h3')), 'ROOT/h3 after the failed create').toBe(false)
  })
})
