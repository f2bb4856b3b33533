/**
 * minirunc on its own, as a person at a terminal (or the runtime-tools suite) drives it: the
 * life cycle create → start → kill → delete with runc's state directory and exec.fifo, the
 * state JSON, hooks with the state on their stdin, and refusals in runc's words that leave
 * nothing behind.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync, chmodSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect, it } from 'vitest'
import type { Spec } from '../../lib/oci.ts'
import type { ContainerRecord } from '../../lib/runtime.ts'
import { alive, waitFor } from '../support/container.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { cpuTicks, cpuUsedIn, minirunc, probeBundle } from '../support/runtime.ts'

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
  /** exec --detach, its output to the same file: the exec'd process keeps it open */
  const execDetached = (id: string, ...args: string[]) => minirunc(['--root', root, '--log', log, '--log-format', 'json', 'exec', '--detach', id, ...args], { output })
  return { dir, root, bundle, rt, create, execDetached, state, logLines, out }
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
    expect(r.code, `run must exit with the container's exit code; it printed: ${r.stderr}`).toBe(7)
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

describeKernel('minirunc: delete after others', () => {
  it('delete --force removes a stopped container whose cgroup someone else removed already (containers sharing a cgroupsPath)', async () => {
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
    expect(r.code, `delete --force must remove what is left, a missing cgroup is no error: ${r.stderr}`).toBe(0)
    expect(existsSync(join(t.root, 'g1'))).toBe(false)
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
    // runc's words for a path that is there but cannot be executed (docker: 126, not 127).
    ['a program that is a directory', (b) => writeFileSync(join(b, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')), process: { args: ['/'], env: ['PATH=/bin'], cwd: '/' } })), /exec: "\/": permission denied/],
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

describeKernel('minirunc: pause and resume', () => {
  it('pause freezes every process (state "paused"), resume thaws them, delete --force removes a paused container', async () => {
    const t = setup(['burn:60000'], (spec) => (spec.linux!.cgroupsPath = testCgroupPath()))
    expect((await t.create('p1')).code, t.out()).toBe(0)
    // Before the delete --force of setup() (cleanups run last first): a runtime that cannot thaw
    // must not leave frozen processes, which nothing else could kill, nor its freezer cgroup.
    onCleanup(async () => {
      const file = join(t.root, 'p1', 'state.json')
      if (!existsSync(file)) return
      const record = JSON.parse(readFileSync(file, 'utf8')) as ContainerRecord
      const freezer = record.freezer
      if (!freezer || !existsSync(freezer.dir)) return
      writeFileSync(join(freezer.dir, freezer.version === 2 ? 'cgroup.freeze' : 'freezer.state'), freezer.version === 2 ? '0' : 'THAWED')
      for (const pid of readFileSync(join(freezer.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL')
      await waitFor(() => readFileSync(join(freezer.dir, 'cgroup.procs'), 'utf8') === '', 5_000)
      if (freezer.version === 1) for (const dir of freezer.removeOrder) rmdirSync(dir)
    })
    expect((await t.rt('resume', 'p1')).stderr, 'only a paused container resumes').toMatch(/container not paused/)
    expect((await t.rt('start', 'p1')).code).toBe(0)
    const { pid } = await t.state('p1')
    expect(await waitFor(() => cpuTicks(pid) > 0, 10_000), 'the probe must burn CPU once started').toBe(true)
    const exec = await t.execDetached('p1', '/bin/probe', 'burn:60000')
    expect(exec.code, `exec --detach failed: ${exec.stderr}`).toBe(0)
    const paused = await t.rt('pause', 'p1')
    expect(paused.code, `pause failed: ${paused.stderr}`).toBe(0)
    expect((await t.state('p1')).status, 'after pause, state must say "paused" (read from the freezer, not remembered)').toBe('paused')
    const ps = await t.rt('ps', '--format', 'json', 'p1')
    const pids = JSON.parse(ps.stdout) as number[]
    expect(pids.length, 'the probe and the exec\'d one').toBe(2)
    for (const p of pids) expect(await cpuUsedIn(p, 300), `process ${p} still ran after pause: is every process of the container in the frozen cgroup?`).toBe(0)
    expect((await t.rt('pause', 'p1')).stderr, 'a paused container is not running').toMatch(/container not running/)
    const resumed = await t.rt('resume', 'p1')
    expect(resumed.code, `resume failed: ${resumed.stderr}`).toBe(0)
    expect((await t.state('p1')).status).toBe('running')
    expect(await cpuUsedIn(pid, 300), 'after resume the probe must run again').toBeGreaterThan(0)
    expect((await t.rt('pause', 'p1')).code).toBe(0)
    const { freezer } = JSON.parse(readFileSync(join(t.root, 'p1', 'state.json'), 'utf8')) as { freezer: { dir: string } }
    const deleted = await t.rt('delete', '--force', 'p1')
    expect(deleted.code, `delete --force of a paused container failed: ${deleted.stderr}`).toBe(0)
    expect(await waitFor(() => pids.every((p) => !alive(p)), 5_000), 'delete --force must kill a paused container\'s processes (what does a frozen process do with SIGKILL? the text\'s "pause and resume")').toBe(true)
    expect(existsSync(freezer.dir), `delete must remove the freezer cgroup pause made (${freezer.dir})`).toBe(false)
  }, 180_000) // two CPU burners slow every other step, minutes in the VM test's emulated guest
})

describeKernel('minirunc: what else config.json asks', () => {
  it('rlimits, oomScoreAdj, a network sysctl, masked and read-only paths reach the container\'s process', async () => {
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
    expect(await waitFor(() => probeLines(t.out()).length === 6, 10_000), `the probe must print six lines; it printed: ${t.out()}`).toBe(true)
    const [limits, oom, portStart, timerList, tty, write] = probeLines(t.out())
    expect(limits!.cat, 'process.rlimits: did the container\'s process set its limits before exec?').toMatch(/^Max open files\s+1000\s+2000\s/m)
    expect(limits!.cat, 'a limit of 2^64-1 is unlimited (RLIM_INFINITY)').toMatch(/^Max core file size\s+unlimited\s+unlimited\s/m)
    expect(oom!.cat, 'process.oomScoreAdj must be the process\'s OOM score (proc(5), oom_score_adj)').toBe('345\n')
    expect(portStart!.cat, 'the sysctl must be written inside the container\'s network namespace').toBe('123\n')
    expect(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'), 'the host\'s own value must not change').toBe(hostPortStart)
    expect(timerList!.rdev, 'maskedPaths: /proc/timer_list is not masked as runc masks a file (is it still the host\'s?): the container must read nothing from it and write nothing through it (config-linux.md "Masked Paths"; the text\'s "maskedPaths and readonlyPaths")').toEqual([1, 3])
    expect(tty!.ls, 'maskedPaths: /proc/tty is not masked as runc masks a directory (is it still the host\'s?): the container must find nothing in it and create nothing in it (config-linux.md "Masked Paths"; the text\'s "maskedPaths and readonlyPaths")').toEqual([])
    expect(write, 'a read-only path must refuse writes: writing under /proc/sys must fail with EROFS (mount(2) on bind mounts and their flags; the text\'s "maskedPaths and readonlyPaths")').toMatchObject({ step: 'write', errno: 'EROFS' })
  })

  it('linux.devices: each node is made in the container\'s /dev with its type, numbers, mode and owner, before the switch to process.user', async () => {
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
    expect(lines.length, `the program did not run: ${r.stderr} (are the nodes and the masks made while the process is still root?)`).toBeGreaterThan(0)
    const [nullLike, zeroLike, write, timerList] = lines
    expect(nullLike, 'linux.devices[0]: a character device 1:3 with mode 0620 and owned by 1000:1001, as the entry says (runc\'s createDeviceNode)').toEqual({ mode: 0o20620, uid: 1000, gid: 1001, size: 0, rdev: [1, 3] })
    expect(zeroLike, 'linux.devices[1]: its parent directory made, mode 0666 and owner 0:0 when the spec gives none').toEqual({ mode: 0o20666, uid: 0, gid: 0, size: 0, rdev: [1, 5] })
    expect(write, 'the container\'s user owns /dev/null-like and may write to it').toEqual({ wrote: '/dev/null-like' })
    expect(timerList?.rdev, 'a masked path as a user that is not root: the mask must be mounted before the switch').toEqual([1, 3])
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(t.bundle, 'rootfs', 'dev', 'null-like')), 'the node belongs in the container\'s /dev tmpfs, never in the image').toBe(false)
  })

  it('linux.resources.devices: the v1 devices cgroup denies what the rules deny, to exec\'d processes too, and delete removes it', async () => {
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
    expect(await waitFor(() => t.out().includes('wrote'), 10_000), `/dev/null (1:3) is allowed; the probe printed: ${t.out()}`).toBe(true)
    const exec = await t.rt('exec', 'd1', '/bin/probe', 'write:/dev/null:x', 'write:/dev/kmsg:x')
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      // cgroup v2 only: device rules would be an eBPF program, which the runtime says it does not load.
      expect(t.logLines().map((l) => l.msg).join('\n'), 'on cgroup v2 the warning must name the ignored device rules').toMatch(/not applied by this runtime yet: .*linux\.resources\.devices \(cgroup v2\)/)
      expect(probeLines(exec.stdout)).toEqual([{ wrote: '/dev/null' }, { wrote: '/dev/kmsg' }])
      return
    }
    expect(probeLines(exec.stdout), 'a device neither the rules nor runc\'s defaults allow must be denied, to an exec\'d process as well (cgroup-v1/devices.rst; the text\'s "the devices cgroup")').toEqual([{ wrote: '/dev/null' }, { step: 'write', error: '/dev/kmsg', errno: 'EPERM' }])
    const { devices } = JSON.parse(readFileSync(join(t.root, 'd1', 'state.json'), 'utf8')) as ContainerRecord
    expect((await t.rt('delete', '--force', 'd1')).code).toBe(0)
    expect(existsSync(devices!.dir), 'delete must remove the devices cgroup create made').toBe(false)
  })

  it('linux.resources.cpu.cpus and mems: the cpuset cgroup holds the process before it runs, exec\'d processes too, and delete removes it', async () => {
    const t = setup(['cat:/proc/self/status', 'sleep:60000'], (spec) => {
      spec.linux!.cgroupsPath = testCgroupPath()
      spec.linux!.resources = { cpu: { cpus: '0', mems: '0' } }
    })
    expect((await t.create('cs1')).code, t.out()).toBe(0)
    expect((await t.rt('start', 'cs1')).code).toBe(0)
    expect(await waitFor(() => t.out().includes('"cat"'), 10_000), `the probe must print /proc/self/status; it printed: ${t.out()}`).toBe(true)
    const exec = await t.rt('exec', 'cs1', '/bin/probe', 'cat:/proc/self/status')
    for (const [who, text] of [['the container\'s process', t.out()], ['an exec\'d process', exec.stdout]] as const) {
      const status = String(probeLines(text)[0]?.cat ?? text)
      const allowed = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? status
      expect(allowed('Cpus_allowed_list'), `${who} may run on CPU 0 only (cpus "0"), from before it runs (cgroup-v1/cpusets.rst; the text's "cpus and mems")`).toBe('0')
      expect(allowed('Mems_allowed_list'), `${who} may allocate from memory node 0 only (mems "0")`).toBe('0')
    }
    const { cpuset } = JSON.parse(readFileSync(join(t.root, 'cs1', 'state.json'), 'utf8')) as ContainerRecord
    expect((await t.rt('delete', '--force', 'cs1')).code).toBe(0)
    // On v2 the cpuset files are the container's own cgroup's, which delete removes anyway.
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return
    expect(cpuset?.dir, 'on v1, the record must keep the cpuset cgroup create made, for exec and delete').toBeDefined()
    expect(existsSync(cpuset!.dir), 'delete must remove the cpuset cgroup create made').toBe(false)
  })

  it('a sysctl that is not namespaced, or of a namespace the container shares with the host, is refused before it is written', async () => {
    const t = setup(['pid'], (spec) => (spec.linux!.sysctl = { 'vm.swappiness': '0' }))
    const swappiness = readFileSync('/proc/sys/vm/swappiness', 'utf8')
    expect((await t.create('s1')).code).toBe(1)
    expect(t.logLines().at(-1)?.msg, 'vm.* is the host\'s: runc refuses it').toBe('sysctl "vm.swappiness" is not in a separate kernel namespace')
    expect(readFileSync('/proc/sys/vm/swappiness', 'utf8')).toBe(swappiness)
    const u = setup(['pid'], (spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network')
      spec.linux!.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '1' }
    })
    const portStart = readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')
    expect((await u.create('s2')).code, 'a net.* sysctl without a network namespace of its own would change the host\'s').toBe(1)
    expect(u.logLines().at(-1)?.msg).toBe('sysctl "net.ipv4.ip_unprivileged_port_start" is not in a separate kernel namespace')
    expect(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).toBe(portStart)
    expect(readdirSync(u.root), 'a refused create leaves no state directory').toEqual([])
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

  it('entries with a path are joined: the container\'s process shares those namespaces, its hostname goes to the joined UTS one', async () => {
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
      expect(readlinkSync(`/proc/${pid}/ns/${file}`), `the ${file} namespace must be the one at /proc/${holder}/ns/${file}: the container's process must be born in it (setns(2); the text's "Joining namespaces")`).toBe(readlinkSync(`/proc/${holder}/ns/${file}`))
    expect(readlinkSync(`/proc/${pid}/ns/pid`), 'the entry without a path is a new PID namespace').not.toBe(readlinkSync(`/proc/${holder}/ns/pid`))
    expect(await waitFor(() => probeLines(t.out()).length === 1, 10_000), `the probe must print its hostname; it printed: ${t.out()}`).toBe(true)
    expect(probeLines(t.out()), 'the hostname must be set in the joined UTS namespace').toEqual([{ hostname: 'bundle' }])
  })

  it('a path whose namespace is of another type is refused', async () => {
    const holder = await namespaceHolder()
    const t = setup(['pid'], (spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/proc/${holder}/ns/ipc` } : ns))
    })
    expect((await t.create('j3')).code, 'an IPC namespace given as the network one must be refused (runtime spec: the path must match the type)').toBe(1)
    expect(t.logLines().at(-1)?.msg).toBe(`namespace path /proc/${holder}/ns/ipc is a ipc namespace, not network`)
    expect(existsSync(t.root) ? readdirSync(t.root) : [], 'a refused create leaves no state directory').toEqual([])
  })

  it('the runtime\'s own mount namespace is refused before anything is joined or mounted', async () => {
    const t = setup(['pid'], (spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.map((ns) => (ns.type === 'mount' ? { type: 'mount', path: '/proc/self/ns/mnt' } : ns))
    })
    const r = await t.create('j2')
    expect(r.code, 'joining the host\'s mount namespace would pivot the host\'s root: create must fail').toBe(1)
    expect(t.logLines().at(-1)?.msg).toBe('cannot join the runtime\'s own mount namespace: /proc/self/ns/mnt')
    expect(existsSync(t.root) ? readdirSync(t.root) : [], 'a refused create leaves no state directory').toEqual([])
  })
})

describeKernel('minirunc: the terminal', () => {
  it('a terminal without a console socket, a socket without a terminal, a socket that is not there: refused, nothing left', async () => {
    const cgroupsPath = testCgroupPath()
    const t = setup(['pid'], (spec) => {
      spec.process.terminal = true
      spec.linux!.cgroupsPath = cgroupsPath
    })
    const none = await t.create('t1')
    expect(none.code, 'process.terminal needs --console-socket: the pty master has nowhere else to go').toBe(1)
    expect(t.logLines().at(-1)?.msg).toBe('cannot allocate tty if runc will detach without setting console socket')
    const missing = await t.create('t2', '--console-socket', join(t.dir, 'nope.sock'))
    expect(missing.code).toBe(1)
    expect(t.logLines().at(-1)?.msg, 'the error names the socket and the failed connect').toMatch(/^failed to connect to console socket \S*nope\.sock: connect\(".*nope\.sock"\) failed: ENOENT/)
    expect(existsSync(t.root) ? readdirSync(t.root) : [], 'a failed create must remove ROOT/ID').toEqual([])
    const leftover = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, cgroupsPath)).filter((d) => existsSync(d))
    expect(leftover, 'a failed create must remove the container\'s cgroup').toEqual([])
    const spec = JSON.parse(readFileSync(join(t.bundle, 'config.json'), 'utf8')) as Spec
    spec.process.terminal = false
    writeFileSync(join(t.bundle, 'config.json'), JSON.stringify(spec))
    expect((await t.create('t3', '--console-socket', join(t.dir, 'nope.sock'))).code).toBe(1)
    expect(t.logLines().at(-1)?.msg).toBe('cannot use console socket if runc will not detach or allocate tty')
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

  it('createContainer runs in the container\'s mount namespace after its mounts and before pivot_root; startContainer at start, in the container, before the program', async () => {
    const t = setup(['cat:/scratch/by-create-hook', 'cat:/by-start-hook'])
    editConfig(t.bundle, (spec) => {
      spec.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] })
      spec.hooks = {
        // Before pivot_root the rootfs is still at its host path; /scratch is a tmpfs only the container's mount namespace has.
        createContainer: [{ path: PROBE_PATH, args: ['probe', `write:${join(t.bundle, 'rootfs', 'scratch', 'by-create-hook')}:created`] }],
        startContainer: [{ path: '/bin/probe', args: ['probe', 'write:/by-start-hook:started'] }],
      }
    })
    const created = await t.create('h4')
    expect(created.code, `create failed: did the createContainer hook run after pivot_root, where the rootfs's host path is gone? ${t.out()}`).toBe(0)
    expect(existsSync(join(t.bundle, 'rootfs', 'scratch', 'by-create-hook')), 'the createContainer hook wrote into the host\'s view: it must run in the container\'s mount namespace, where /scratch is a tmpfs').toBe(false)
    expect(existsSync(join(t.bundle, 'rootfs', 'by-start-hook')), 'startContainer runs at start, not at create').toBe(false)
    const started = await t.rt('start', 'h4')
    expect(started.code, `start failed: ${started.stderr} (a startContainer hook's path is the container's: runtime spec, "Hooks")`).toBe(0)
    expect(await waitFor(() => probeLines(t.out()).length === 2, 10_000), `the program must see both files; it printed: ${t.out()}`).toBe(true)
    expect(probeLines(t.out()), 'createContainer must have written into the container\'s /scratch tmpfs (after the mounts), startContainer into its root before the program').toEqual([{ cat: 'created' }, { cat: 'started' }])
  })

  for (const point of ['prestart', 'createRuntime'] as const) {
    it(`a ${point} hook that fails stops create, with its output in the error, and leaves no state, process or cgroup`, async () => {
      const dir = tempDir()
      const cgroupsPath = testCgroupPath()
      const seen = join(dir, 'log')
      const t = setup(['pid'], (spec) => {
        spec.linux!.cgroupsPath = cgroupsPath
        spec.hooks = { [point]: [{ path: hookScript(dir, 'fail', seen, 'echo broken >&2; exit 3') }] }
      })
      const r = await t.create('h2')
      expect(r.code).toBe(1)
      expect(t.out()).toMatch(new RegExp(`error running ${point} hook #0: exit status 3, stdout: .*stderr: broken`))
      expect(existsSync(join(t.root, 'h2')), 'a failed create must remove ROOT/ID').toBe(false)
      const { pid } = JSON.parse(readFileSync(seen, 'utf8').trim()) as { pid: number }
      expect(pid, 'the hook must have read the state JSON with the process\'s PID').toBeGreaterThan(0)
      expect(await waitFor(() => !alive(pid), 5_000), `the container's process ${pid} outlived the failed create: kill it when a hook fails`).toBe(true)
      const leftover = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, cgroupsPath)).filter((d) => existsSync(d))
      expect(leftover, 'a failed create must remove the container\'s cgroup').toEqual([])
    })
  }

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
