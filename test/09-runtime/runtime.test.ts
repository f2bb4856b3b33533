/**
 * minirunc on its own, as a person at a terminal (or the runtime-tools suite) drives it: the
 * life cycle create → start → kill → delete with runc's state directory and exec.fifo, the
 * state JSON, hooks with the state on their stdin, and refusals in runc's words that leave
 * nothing behind.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect, it } from 'vitest'
import type { Spec } from '../../lib/oci.ts'
import { alive, waitFor } from '../support/container.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { minirunc, probeBundle } from '../support/runtime.ts'

/** A state root and a bundle for one test; every container left in the root is force-deleted after it. */
function setup(steps: string[], edit?: (spec: Spec) => void) {
  const dir = tempDir()
  const root = join(dir, 'state')
  const bundle = probeBundle(join(dir, 'bundle'), steps, edit)
  const log = join(dir, 'log.json')
  const output = join(dir, 'output')
  onCleanup(async () => {
    for (const id of existsSync(root) ? readdirSync(root) : []) await minirunc(['--root', root, 'delete', '--force', id])
  })
  const rt = (...args: string[]) => minirunc(['--root', root, '--log', log, '--log-format', 'json', ...args], { cwd: bundle })
  /** create with the container's stdout and stderr going to a file, as a shim gives it fifos */
  const create = (id: string, ...flags: string[]) => minirunc(['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', bundle, ...flags, id], { output })
  const state = async (id: string) => {
    const r = await rt('state', id)
    expect(r.code, `state ${id} failed: ${r.stderr}`).toBe(0)
    return JSON.parse(r.stdout) as { status: string; pid: number; id: string; bundle: string; ociVersion: string; annotations: object }
  }
  const logLines = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; msg: string; time: string }) : [])
  const out = () => (existsSync(output) ? readFileSync(output, 'utf8') : '')
  return { dir, root, bundle, rt, create, state, logLines, out }
}

/** The cgroup directories named by a /proc/PID/cgroup text (v1 lines and v2's "0::"). */
function cgroupDirs(text: string): string[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [, controllers, path] = line.split(':')
    const mount = controllers === '' ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controllers!.replace(/^name=/, '')}`
    return join(mount, path!)
  }).filter((dir) => dir.includes('minidocker-test') && existsSync(dirname(dir)))
}

describeKernel('minirunc: the life cycle', () => {
  it('create leaves the process waiting on exec.fifo; start lets it run', async () => {
    const t = setup(['pid', 'hostname', 'sleep:60000'])
    const pidFile = join(t.dir, 'init.pid')
    const r = await t.create('c1', '--pid-file', pidFile)
    expect(r.code, `create failed: ${r.stderr}${t.out()}`).toBe(0)
    const created = await t.state('c1')
    expect(created.status, 'after create, state must say "created" until start').toBe('created')
    expect(existsSync(join(t.root, 'c1', 'exec.fifo')), 'create must leave ROOT/ID/exec.fifo for start to open').toBe(true)
    expect(Number(readFileSync(pidFile, 'utf8')), '--pid-file must hold the container process\'s host PID, as state does').toBe(created.pid)
    expect(alive(created.pid), 'the process must exist after create').toBe(true)
    await new Promise((r) => setTimeout(r, 300))
    expect(t.out(), 'the program ran before start: did create exec without waiting on exec.fifo?').toBe('')
    const started = await t.rt('start', 'c1')
    expect(started.code, `start failed: ${started.stderr}`).toBe(0)
    expect(await waitFor(() => t.out().includes('hostname'), 10_000), `after start the probe must print; it printed: ${t.out()}`).toBe(true)
    expect(probeLines(t.out())).toEqual([{ pid: 1, ppid: 0 }, { hostname: 'bundle' }])
    const running = await t.state('c1')
    expect(running.status, 'after start, with the process alive, the status is "running"').toBe('running')
    expect(running).toMatchObject({ id: 'c1', pid: created.pid, bundle: t.bundle, annotations: {} })
    expect(existsSync(join(t.root, 'c1', 'exec.fifo')), 'start must remove exec.fifo').toBe(false)
  })

  it('kill takes named and numbered signals, then delete removes the state directory and the cgroup', async () => {
    const cgroupsPath = testCgroupPath()
    const t = setup(['wait-signal', 'sleep:60000'], (spec) => (spec.linux!.cgroupsPath = cgroupsPath))
    expect((await t.create('c2')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c2')).code).toBe(0)
    const { pid } = await t.state('c2')
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    expect(cgroup, 'the container\'s process must be in its cgroupsPath').toContain(cgroupsPath)
    const dirs = cgroupDirs(cgroup)
    expect(dirs.length).toBeGreaterThan(0)
    const refused = await t.rt('delete', 'c2')
    expect(refused.code, 'delete of a running container without --force must fail').toBe(1)
    expect(refused.stderr).toMatch(/not stopped: running/)
    expect(alive(pid), 'a refused delete must leave the container alone').toBe(true)
    expect((await t.rt('kill', 'c2', 'SIGUSR1')).code, 'kill with a named signal').toBe(0)
    expect(await waitFor(() => t.out().includes('"signal"'), 5000), `the probe must report SIGUSR1; it printed: ${t.out()}`).toBe(true)
    await t.rt('kill', 'c2', '9')
    expect(await waitFor(() => !alive(pid), 5000), 'kill ID 9 must kill the process').toBe(true)
    expect((await t.state('c2')).status, 'a container whose process has gone is "stopped"').toBe('stopped')
    const again = await t.rt('kill', 'c2', 'KILL')
    expect(again.stderr, 'kill of a stopped container must say "container not running" (containerd reads it as done)').toMatch(/container not running/)
    expect((await t.rt('delete', 'c2')).code).toBe(0)
    expect(existsSync(join(t.root, 'c2')), 'delete must remove ROOT/ID').toBe(false)
    for (const dir of dirs) expect(existsSync(dir), `delete must remove the container's cgroup ${dir}`).toBe(false)
  })

  it('run is create, start, wait and delete: the program\'s output and exit code, nothing left', async () => {
    const t = setup(['out:hello', 'exit:7'])
    const r = await t.rt('run', '--bundle', t.bundle, 'c3')
    expect(r.stdout, r.stderr).toContain('hello')
    expect(r.code, 'run must exit with the container\'s exit code').toBe(7)
    expect(existsSync(join(t.root, 'c3')), 'run must delete the container when it exits').toBe(false)
  })

  it('delete --force kills a running container and removes it', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('c4')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c4')).code).toBe(0)
    const { pid } = await t.state('c4')
    const r = await t.rt('delete', '--force', 'c4')
    expect(r.code, r.stderr).toBe(0)
    expect(await waitFor(() => !alive(pid), 5000), 'delete --force must kill the container\'s process').toBe(true)
    expect(existsSync(join(t.root, 'c4'))).toBe(false)
  })
})

describeKernel('minirunc: errors as runc gives them', () => {
  it('an unknown ID: "container does not exist", exit 1, a JSON error line in --log', async () => {
    const t = setup(['pid'])
    for (const command of [['state'], ['start'], ['kill'], ['delete']]) {
      const r = await t.rt(...command, 'nope')
      expect(r.code, `${command[0]} of an unknown ID must exit 1`).toBe(1)
      expect(r.stderr, `${command[0]} of an unknown ID`).toMatch(/container does not exist/)
    }
    const lines = t.logLines()
    expect(lines.length, 'each failure must append one line to the --log file').toBeGreaterThanOrEqual(4)
    expect(lines.at(-1), 'runc\'s log lines: {"level":"error","msg":...,"time":...} (containerd shows the msg)').toMatchObject({ level: 'error', msg: 'container does not exist' })
    expect(Number.isNaN(Date.parse(lines.at(-1)!.time)), 'time must be a date').toBe(false)
  })

  it('start twice: the second start is refused', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('c5')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'c5')).code).toBe(0)
    const r = await t.rt('start', 'c5')
    expect(r.code, 'a second start must fail').toBe(1)
    expect(r.stderr).toMatch(/already running/)
  })

  it('a duplicate ID is refused and the first container is untouched', async () => {
    const t = setup(['sleep:60000'])
    expect((await t.create('c6')).code, t.out()).toBe(0)
    const { pid } = await t.state('c6')
    const r = await t.create('c6')
    expect(r.code, 'create with an ID in use must fail').toBe(1)
    expect(t.out()).toMatch(/container with id exists: c6/)
    expect((await t.state('c6')).pid, 'the first container must keep its state').toBe(pid)
  })

  for (const id of ['../escape', 'a/b', '..']) {
    it(`the ID ${JSON.stringify(id)} is refused before anything is made`, async () => {
      const t = setup(['pid'])
      const r = await t.create(id)
      const why = 'an ID with "/" or ".." would put the state directory outside --root'
      expect(r.code, `create ${id} must fail: ${why}`).toBe(1)
      expect(t.out(), why).toMatch(/invalid id format/)
      expect(existsSync(join(t.dir, 'escape')), 'nothing may be created outside --root').toBe(false)
      expect(existsSync(t.root) ? readdirSync(t.root) : []).toEqual([])
    })
  }

  const broken: [string, (bundle: string) => void, RegExp][] = [
    ['no config.json', (b) => writeFileSync(join(b, 'config.json.bak'), '') , /config\.json not found/],
    ['a config.json that is not JSON', (b) => writeFileSync(join(b, 'config.json'), '{"ociVersion":'), /not valid JSON/],
    ['no process.args', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { cwd: '/', env: [] }, root: { path: 'rootfs' } })), /process\.args is required/],
    ['no rootfs', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')), root: { path: 'missing' } })), /rootfs .*missing.* does not exist/],
    ['a program that is not there', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')), process: { args: ['nope'], env: ['PATH=/bin'], cwd: '/' } })), /exec: "nope": executable file not found in \$PATH/],
  ]
  for (const [what, breakIt, message] of broken) {
    it(`a bundle with ${what} is refused and leaves no state, process or cgroup`, async () => {
      const cgroupsPath = testCgroupPath()
      const t = setup(['pid'], (spec) => (spec.linux!.cgroupsPath = cgroupsPath))
      if (what === 'no config.json') writeFileSync(join(t.bundle, 'config.json.bak'), readFileSync(join(t.bundle, 'config.json')))
      if (what === 'no config.json') (await import('node:fs')).rmSync(join(t.bundle, 'config.json'))
      breakIt(t.bundle)
      const r = await t.create('bad')
      expect(r.code, `create must fail with ${what}`).toBe(1)
      expect(t.out()).toMatch(message)
      expect(t.logLines().at(-1)?.msg ?? '', 'the error must be the last line of the --log file').toMatch(message)
      expect(existsSync(join(t.root, 'bad')), 'a failed create must remove ROOT/ID').toBe(false)
    })
  }
})

describeKernel('minirunc: hooks', () => {
  /** A hook script that appends its name and its stdin to `file`, then exits with `code`. */
  function hookScript(dir: string, name: string, file: string, body = ''): string {
    const path = join(dir, `${name}.sh`)
    writeFileSync(path, `#!/bin/sh\nprintf '%s ' "$1" >> ${file}\ncat >> ${file}\necho >> ${file}\n${body}\n`)
    chmodSync(path, 0o755)
    return path
  }

  it('prestart, createRuntime, poststart and poststop run in order with the state JSON on stdin', async () => {
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
    expect(lines.map(([name]) => name), 'hooks run at their points, in this order').toEqual(['prestart', 'createRuntime', 'poststart', 'poststop'])
    for (const [name, state] of lines) expect(state, `${name} hook's stdin must be the state JSON; it read ${JSON.stringify(state)}`).toMatchObject({ id: 'h1', bundle: t.bundle, ociVersion: '1.0.2' })
    expect(lines[0]![1].pid, 'prestart needs the process\'s PID (dockerd finds the network namespace by it)').toBe(pid)
  })

  it('a prestart hook that fails stops create, with its output in the error, and leaves nothing', async () => {
    const dir = tempDir()
    const t = setup(['pid'], (spec) => (spec.hooks = { prestart: [{ path: hookScript(dir, 'fail', join(dir, 'log'), 'echo broken >&2; exit 3') }] }))
    const r = await t.create('h2')
    expect(r.code).toBe(1)
    expect(t.out()).toMatch(/error running prestart hook #0: exit status 3, stdout: .*stderr: broken/)
    expect(existsSync(join(t.root, 'h2'))).toBe(false)
  })

  it('a hook that hangs is killed at its timeout and create fails', async () => {
    const dir = tempDir()
    const t = setup(['pid'], (spec) => (spec.hooks = { createRuntime: [{ path: hookScript(dir, 'hang', join(dir, 'log'), 'sleep 600'), timeout: 1 }] }))
    const started = Date.now()
    const r = await t.create('h3')
    expect(r.code).toBe(1)
    expect(t.out()).toMatch(/createRuntime hook #0: timed out after 1 seconds/)
    expect(Date.now() - started, 'the hook\'s timeout is 1 s').toBeLessThan(20_000)
    expect(existsSync(join(t.root, 'h3'))).toBe(false)
  })
})
