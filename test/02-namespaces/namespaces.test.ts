import { execFileSync, spawn } from 'node:child_process'
import { closeSync, constants as fsConstants, existsSync, openSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runProcess } from '#ch/01-process/process.ts'
import { enterNamespaces, joinNamespaces } from '#ch/02-namespaces/namespaces.ts'
import { ContainerError } from '../../lib/errors.ts'
import { baseSpec, type NamespaceType, type Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'
import { alive, probeSpec, runCaptured, waitFor, type Run } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { captureFile, onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { swappedBeforeRequest } from '../support/interpose.ts'
import { PROBE_PATH, probeLines, probeValue } from '../support/probe.ts'

const KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'] as const
type Kind = (typeof KINDS)[number]

/** The namespaces a helper is in, by /proc/PID/ns's names. */
function namespacesOf(pid: number): Record<Kind, string> {
  return Object.fromEntries(KINDS.map((kind) => [kind, readlinkSync(`/proc/${pid}/ns/${kind}`)])) as Record<Kind, string>
}

/** The hostname of the UTS namespace at `path` (a /proc/PID/ns/uts or an fd on one), read by a probe that joins it. */
async function hostnameIn(path: string): Promise<string> {
  const out = captureFile('hostname')
  const helper = startHelper({ stdout: out.fd })
  await helper.setns(path)
  await helper.exec(PROBE_PATH, ['probe', 'hostname'], [])
  await helper.exited
  return probeValue(out.read(), 'hostname')
}

const SANDBOX_HOSTNAME = 'sandbox-02'

/** Hostnames of letters of every width UTF-8 has, some of them more than the kernel takes. */
const HOSTNAMES = [
  `h${'\u00f6'.repeat(20)}-${'x'.repeat(21)}`,
  `${'\u20ac'.repeat(21)}ab`,
  `${'\u00fc'.repeat(30)}zzzz`,
  `${'\u{1d525}'.repeat(16)}q`,
  `ab-${'\u65e5'.repeat(20)}c`,
  `${'\u00e9'.repeat(25)}${'k'.repeat(15)}`,
]

/** True once `pid` has exited (gone, or a zombie nobody reaped yet). */
function ended(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')
  } catch {
    return true
  }
}

/**
 * What the test puts around the learner's code before it runs: a UTS and a mount namespace of
 * the test's own, so a sethostname or a mount in the wrong place changes nothing of the
 * host's. Gives the namespaces the container starts from, its mount table, and a way to read
 * the sandbox's hostname afterwards (an fd keeps its UTS namespace alive).
 */
async function sandbox(h: Helper) {
  await h.unshare(['uts', 'mount'])
  await h.mount(null, '/', null, ['rec', 'private'])
  await h.sethostname(SANDBOX_HOSTNAME)
  const uts = openSync(`/proc/${h.pid}/ns/uts`, 'r')
  onCleanup(() => closeSync(uts))
  return {
    namespaces: namespacesOf(h.pid),
    mounts: readFileSync(`/proc/${h.pid}/mountinfo`, 'utf8'),
    hostname: () => hostnameIn(`/proc/${process.pid}/fd/${uts}`),
  }
}
type Sandbox = Awaited<ReturnType<typeof sandbox>>

/** Run `spec` in its namespaces, inside a sandbox; also gives the host PID enterNamespaces returned and the helper's (the relay's). */
async function runInNamespaces(spec: Spec) {
  let pid = 0
  let relay = 0
  let box: Sandbox | undefined
  const run = await runCaptured(spec, async (h) => {
    relay = h.pid
    box = await sandbox(h)
    pid = await enterNamespaces(h, spec)
  })
  return { ...run, pid, relay, sandbox: box! }
}

/**
 * `helper` as enterNamespaces sees it, except that the relay is killed (and has exited) right
 * after the fork, before the next request reaches the child: a supervisor giving up on a slow
 * start. Gives the forked PID even when enterNamespaces throws.
 */
function relayKilledAfterFork(helper: Helper) {
  const state = { forked: 0 }
  let killed = false
  const racing = new Proxy(helper, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      if (key === 'fork') return async (...args: number[][]) => (state.forked = await target.fork(...args))
      return async (...args: unknown[]) => {
        if (state.forked && !killed) {
          killed = true
          process.kill(target.pid, 'SIGKILL')
          await waitFor(() => ended(target.pid), 10_000)
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { racing, state }
}

describeKernel('a container in new UTS, PID and IPC namespaces', () => {
  it('the PID a command sees when its spec lists pid', async () => {
    const { code, stdout } = await runInNamespaces(probeSpec(['pid']))
    expect(code).toBe(0)
    const seen = probeLines(stdout).find((l) => 'pid' in l) as { pid: number; ppid: number }
    expect(seen.pid, `expected PID 1 inside the container but saw ${seen.pid}: who enters a new PID namespace, the process that calls unshare(CLONE_NEWPID) or the children it makes afterwards? (pid_namespaces(7); "unshare, and why PID needs a fork")`).toBe(1)
    expect(seen.ppid, `the command is PID 1 and sees its parent as PID ${seen.ppid}: which process is that, and in which PID namespace is it? (pid_namespaces(7))`).toBe(0)
  })

  it('what enterNamespaces returns, beside the PID the command sees', async () => {
    let nspid = ''
    let returned = 0
    let relay = 0
    const spec = probeSpec(['pid'])
    const { stdout } = await runCaptured(spec, async (h) => {
      relay = h.pid
      await sandbox(h)
      returned = await enterNamespaces(h, spec)
      nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${returned}/status`, 'utf8'))?.[1] ?? ''
    })
    const seen = probeLines(stdout).find((l) => 'pid' in l) as { pid: number }
    expect(returned, `enterNamespaces returned the helper's own PID ${relay}: after the fork that process is the relay, which stays outside; which process will run the command? ("The relay, and dying with it")`).not.toBe(relay)
    const ids = nspid.split(/\s+/)
    expect(ids.at(-1), `enterNamespaces returned ${returned}, whose NSpid (its PID in each PID namespace, outermost first) is ${nspid || 'unknown'}, and the command saw itself as PID ${seen?.pid}: is the returned process the one that ran the command? (proc(5), NSpid)`).toBe(String(seen?.pid))
  })

  it('spec.hostname "box-02", with a uts namespace', async () => {
    const before = hostname()
    const spec = probeSpec(['hostname'])
    spec.hostname = 'box-02'
    const { stdout, sandbox: box } = await runInNamespaces(spec)
    expect(probeValue(stdout, 'hostname'), 'the probe must see the hostname from spec.hostname').toBe('box-02')
    expect(await box.hostname(), 'the UTS namespace the container started from was renamed (here the test\'s sandbox; without it, the host): whose UTS namespace is the caller in at the moment sethostname(2) runs? ("The hostname")').toBe(SANDBOX_HOSTNAME)
    expect(hostname()).toBe(before)
  })

  it('the namespaces of a command whose spec lists pid, uts and ipc', async () => {
    const { stdout, sandbox: box } = await runInNamespaces(probeSpec(['ns']))
    const inside = probeValue<Record<Kind, string>>(stdout, 'ns')
    expect(inside.pid, 'the command\'s /proc/self/ns/pid is the one it started in: after unshare(2), who is in a new PID namespace? (pid_namespaces(7); "unshare, and why PID needs a fork")').not.toBe(box.namespaces.pid)
    for (const kind of ['uts', 'ipc'] as const)
      expect(inside[kind], `the command's /proc/self/ns/${kind} is the one it started in, although the spec lists "${kind}": what does unshare(2) do to its caller, and which process then runs the command?`).not.toBe(box.namespaces[kind])
    for (const kind of ['net', 'mnt', 'user', 'cgroup'] as const)
      expect(inside[kind], `/proc/self/ns/${kind} is not the one the container started from, although the spec does not list it: which namespaces does linux.namespaces ask for?`).toBe(box.namespaces[kind])
  })

  it('a spec with no linux section', async () => {
    const spec = probeSpec(['ns', 'pid'])
    delete spec.linux
    const { run, error } = await attempt(spec)
    expect(error?.message, 'the spec has no linux section, and enterNamespaces threw: which namespaces does it ask for? ("Which namespaces")').toBeUndefined()
    const inside = probeValue<Record<Kind, string>>(run!.stdout, 'ns')
    const moved = KINDS.filter((kind) => inside[kind] !== run!.sandbox.namespaces[kind])
    expect(moved, 'the spec has no linux section, and the command is not in the namespaces the container started from: which namespaces does it ask for? ("Which namespaces")').toEqual([])
  })

  it('a spec whose network entry has an empty path', async () => {
    const spec = probeSpec(['ns'], ['uts', 'pid'])
    spec.linux!.namespaces!.push({ type: 'network', path: '' })
    const { run, error } = await attempt(spec)
    expect(error?.message, 'the "network" entry has path "", and enterNamespaces threw: how does runc read an empty path? (Namespace.Path in libcontainer/configs/namespaces_linux.go; "Which namespaces")').toBeUndefined()
    const inside = probeValue<Record<Kind, string>>(run!.stdout, 'ns')
    expect(inside.net, 'the "network" entry has path "", and the command is in the network namespace the container started from: how does runc read an empty path? ("Which namespaces")').not.toBe(run!.sandbox.namespaces.net)
  })

  it('a spec listing only pid', async () => {
    const { stdout, sandbox: box } = await runInNamespaces(probeSpec(['ns'], ['pid']))
    const inside = probeValue<Record<Kind, string>>(stdout, 'ns')
    expect(inside.pid, 'the spec lists "pid", and the command\'s /proc/self/ns/pid is the one it started in').not.toBe(box.namespaces.pid)
    for (const kind of ['uts', 'ipc'] as const)
      expect(inside[kind], `the spec lists only "pid", yet the container has a ${kind} namespace of its own: which namespaces does config.json's linux.namespaces ask for?`).toBe(box.namespaces[kind])
  })

  it('a spec listing uts and ipc, without pid', async () => {
    const { code, stdout, pid, relay } = await runInNamespaces(probeSpec(['pid'], ['uts', 'ipc']))
    expect(code).toBe(0)
    const seen = probeLines(stdout).find((l) => 'pid' in l) as { pid: number; ppid: number }
    expect(pid, `the spec lists no "pid" and enterNamespaces returned the helper's own PID ${relay}: what does enterNamespaces's doc comment say becomes of the helper's own process, whatever the namespaces?`).not.toBe(relay)
    expect(seen.ppid, `the command's parent is ${seen.ppid}, not the relay ${relay}: which process runs the command? ("The relay, and dying with it")`).toBe(relay)
    expect(seen.pid, `without a PID namespace the command sees its host PID, and enterNamespaces returned ${pid}`).toBe(pid)
  })

  it('the mount table a container sees, beside the one it started with', async () => {
    const { stdout, sandbox: box } = await runInNamespaces(probeSpec(['mounts']))
    // systemd's automounts (binfmt_misc) come and go on their own while the test runs: nothing a container makes.
    const bySystemd = (line: string) => / - (autofs|binfmt_misc) /.test(line)
    const extra = probeValue<string>(stdout, 'mounts').split('\n').filter((line) => line && !box.mounts.includes(line) && !bySystemd(line))
    expect(extra, 'the container sees mounts it did not start with: without a mount namespace of its own, where does a mount made here land (here the test\'s sandbox took it)? ("/proc is still the host\'s")').toEqual([])
  })

  it('a shared memory segment made inside, looked for from outside', async () => {
    const key = String(0x2000000 + Math.floor(Math.random() * 0xffffff))
    onCleanup(() => void runProcess(baseSpec([PROBE_PATH, `shm-remove:${key}`]).process, { stdout: 'ignore', stderr: 'ignore' }).catch(() => {}))
    const { stdout } = await runInNamespaces(probeSpec([`shm-create:${key}`, `shm-check:${key}`]))
    expect(probeValue(stdout, 'exists'), 'the shared memory segment must exist inside the container that made it').toBe(true)
    const out = await runCaptured(baseSpec([PROBE_PATH, `shm-check:${key}`]), async () => {})
    expect(probeValue(out.stdout, 'exists'), `shared memory key ${key} made in the container is visible on the host: which namespace holds System V IPC keys, and is the command in a new one? ("IPC")`).toBe(false)
  })

  it('a shell that leaves a process in the background and exits 3', async () => {
    const flag = join(tempDir(), 'started')
    const script = `${PROBE_PATH} write:${flag}:yes sleep:5000 & while [ ! -s ${flag} ]; do :; done; exit 3`
    const spec = probeSpec([])
    spec.process.args = ['/bin/sh', '-c', script]
    let stdout: Readable | null = null
    const code = await runProcess(spec.process, { stdout: 'pipe', stderr: 'ignore' }, async (h) => {
      stdout = h.process.stdout
      stdout!.resume()
      await sandbox(h)
      await enterNamespaces(h, spec)
    })
    expect(code, 'the shell (PID 1) exited 3, and runProcess returned another number: how does the relay leave? ("The relay, and dying with it")').toBe(3)
    expect(existsSync(flag), 'the background process never started').toBe(true)
    const closed = await new Promise<boolean>((resolve) => {
      if (stdout!.readableEnded) return resolve(true)
      stdout!.once('end', () => resolve(true))
      setTimeout(() => resolve(false), 2000)
    })
    expect(closed, 'a background process outlived the shell by 2 s and still holds stdout: was the shell PID 1 of a new PID namespace? ("PID 1 is special")').toBe(true)
  })

  it('the relay killed while the container runs', async () => {
    const helper = startHelper()
    await sandbox(helper)
    const pid = await enterNamespaces(helper, probeSpec([]))
    onCleanup(() => alive(pid) && process.kill(pid, 'SIGKILL'))
    process.kill(helper.pid, 'SIGKILL') // the relay, as a supervisor that gives up on a start would
    const gone = await waitFor(() => ended(pid), 2000)
    expect(gone, `PID 1 (host PID ${pid}) was still running 2 s after its relay was killed: what in your code ties the container's process to its relay, from which moment on, and would it reach a PID 1? ("The relay, and dying with it"; "PID 1 is special")`).toBe(true)
  })

  it('the relay killed right after the fork', async () => {
    const helper = startHelper()
    await sandbox(helper)
    const { racing, state } = relayKilledAfterFork(helper)
    onCleanup(() => state.forked > 0 && alive(state.forked) && process.kill(state.forked, 'SIGKILL'))
    const error = await caught(() => enterNamespaces(racing, probeSpec([])))
    expect(state.forked, 'enterNamespaces never forked').toBeGreaterThan(0)
    const gone = await waitFor(() => ended(state.forked), 5000)
    expect(gone, `the relay was killed right after the fork, before the next request, and PID 1 (host PID ${state.forked}) was still running 5 s later: what did your code find out about the relay after that moment, and what did it do with the answer? ("The relay, and dying with it")`).toBe(true)
    expect(error, 'the relay is gone: expected a ContainerError (enterNamespaces\'s doc comment)').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
  })

  it('a hostname, and a new PID namespace but no UTS one', async () => {
    const helper = startHelper()
    const box = await sandbox(helper)
    const before = stateOf(helper.pid)
    const spec = probeSpec([], ['pid', 'ipc'])
    spec.hostname = 'not-allowed'
    const error = await caught(() => enterNamespaces(helper, spec))
    expect(await box.hostname(), 'the hostname changed although "uts" was not created (here the test\'s sandbox; without it, the host\'s): whose hostname does sethostname(2) change, and what can an error thrown afterwards still undo? ("The hostname")').toBe(SANDBOX_HOSTNAME)
    expect(error, 'a hostname, and no "uts" among the namespaces: expected a ContainerError (enterNamespaces\'s doc comment; runc\'s validator.go)').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
    const now = stateOf(helper.pid)
    expect(now.children, `refused with "${error.message}", but the helper had already forked: could the spec have been refused before anything changed? ("The hostname")`).toBe('')
    expect(now, `refused with "${error.message}", but the helper is no longer as it started`).toEqual(before)
  })

  it('spec.hostname ""', async () => {
    const spec = probeSpec(['hostname'], ['pid', 'uts'])
    spec.hostname = ''
    const { code, stdout, sandbox: box } = await runInNamespaces(spec)
    expect(code).toBe(0)
    const copied = await box.hostname()
    const inside = probeValue<string>(stdout, 'hostname')
    expect(inside, `spec.hostname is "", and the container's hostname is ${JSON.stringify(inside)}, not ${JSON.stringify(copied)}, the one its new UTS namespace copied: which values of "hostname" ask runc for a hostname? ("The hostname")`).toBe(copied)
    const bare = probeSpec([], ['pid'])
    bare.hostname = ''
    const { error } = await attempt(bare)
    expect(error?.message, 'spec.hostname is "", there is no UTS namespace, and enterNamespaces refused: does "" ask for a hostname? ("The hostname")').toBeUndefined()
  })

  it('hostnames of mixed widths, beside what sethostname(2) takes', async () => {
    const names = HOSTNAMES.map((name) => ({ name, takes: false }))
    // The kernel is the judge: each name tried, at test time, in a UTS namespace of a throw-away helper.
    const judge = startHelper({ stdout: 'ignore', stderr: 'ignore' })
    try {
      await judge.unshare(['uts'])
      for (const n of names) n.takes = await judge.sethostname(n.name).then(() => true, () => false)
    } finally {
      judge.kill()
      await judge.exited
    }
    expect(names.filter((n) => n.takes).length * names.filter((n) => !n.takes).length, 'the kernel took every name or none: the test\'s names no longer straddle its limit').toBeGreaterThan(0)
    for (const { name, takes } of names) {
      if (takes) {
        const spec = probeSpec(['hostname'], ['pid', 'uts'])
        spec.hostname = name
        const { run, error } = await attempt(spec)
        expect(error?.message, `sethostname(2) takes ${JSON.stringify(name)} (tried at test time in a UTS namespace of the test's), and enterNamespaces refused it: by which measure did your code judge it? ("The hostname")`).toBeUndefined()
        expect(probeValue(run!.stdout, 'hostname'), 'the hostname the probe sees').toBe(name)
        continue
      }
      const helper = startHelper()
      const box = await sandbox(helper)
      const before = stateOf(helper.pid)
      const spec = probeSpec([], ['pid', 'uts', 'ipc'])
      spec.hostname = name
      const error = await caught(() => enterNamespaces(helper, spec))
      const now = stateOf(helper.pid)
      const story = `sethostname(2) refuses ${JSON.stringify(name)} (tried at test time in a UTS namespace of the test's), and enterNamespaces ${error ? `threw "${error.message}"` : 'returned'}`
      expect(now.children, `${story}, with the helper already forked: what does sethostname(2) measure, and when could you have known the spec asks for more? ("The hostname")`).toBe('')
      expect(now, `${story}, with the helper no longer in the namespaces it started in: when could you have known? ("The hostname")`).toEqual(before)
      expect(error, `${story}: a hostname the container cannot have is refused like any spec it cannot honour, with a ContainerError (enterNamespaces's doc comment; sethostname(2))`).toBeInstanceOf(ContainerError)
      expect(error.exitCode).toBe(125)
      expect(await box.hostname()).toBe(SANDBOX_HOSTNAME)
      helper.kill()
      await helper.exited
    }
  })
})

/**
 * A process of the test's own in new UTS, IPC, PID and mount namespaces, as a running container
 * has them: its PID namespace's /proc mounted in its mount namespace (unshare(1)'s default
 * propagation there: private), and a hostname of its own; with `user`, all of them owned by a
 * user namespace of its own (root mapped to root). Gives the host PID of its PID 1,
 * killed (with unshare) after the test.
 */
async function namespaceHolder(name: string, user = false): Promise<number> {
  const own = user ? ['--user', '--map-root-user'] : []
  const unshare = spawn('unshare', [...own, '--uts', '--ipc', '--pid', '--mount', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `hostname ${name} && exec sleep 600`], { stdio: 'ignore' })
  onCleanup(() => void unshare.kill('SIGKILL'))
  const children = `/proc/${unshare.pid}/task/${unshare.pid}/children`
  const child = () => (existsSync(children) ? Number(readFileSync(children, 'utf8').trim().split(' ')[0]) : 0)
  const sleeping = () => {
    try {
      return child() > 0 && readlinkSync(`/proc/${child()}/exe`).endsWith('sleep')
    } catch {
      return false
    }
  }
  expect(await waitFor(sleeping, 10_000), 'unshare did not start its sleep').toBe(true)
  const pid = child()
  onCleanup(() => alive(pid) && process.kill(pid, 'SIGKILL'))
  return pid
}

/** Where `pid` resolves paths from: its root and its working directory, as /proc/PID names them. */
const whereIs = (pid: number) => ({ root: readlinkSync(`/proc/${pid}/root`), cwd: readlinkSync(`/proc/${pid}/cwd`) })

/** The PID namespace `pid`'s next child would be born in. */
const forChildrenOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/pid_for_children`)

/** What a refusal must leave as it found it: the helper's namespaces, the one for its children, and no child. */
function stateOf(pid: number) {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
  return { after: namespacesOf(pid), forChildren: forChildrenOf(pid), children }
}

/**
 * `helper` as enterNamespaces sees it, except that `holder` is killed (and has exited) as soon
 * as the helper's first join (setns or setnsFd) has succeeded: the process that kept the spec's
 * namespaces dies between whatever checked the spec and the rest of the joins.
 */
function holderDiesAfterFirstJoin(helper: Helper, holder: number) {
  const state = { joins: 0 }
  const dying = new Proxy(helper, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      if (key !== 'setns' && key !== 'setnsFd') return value.bind(target)
      return async (...args: unknown[]) => {
        const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        if (state.joins++ === 0) {
          process.kill(holder, 'SIGKILL')
          await waitFor(() => ended(holder), 10_000)
        }
        return result
      }
    },
  })
  return { dying, state }
}

/**
 * What a swapped path holds: a namespace of the maker's, bind-mounted on a file (as `ip netns
 * add` keeps one) or behind a symlink to its /proc/PID/ns file, or one of Node's behind a symlink.
 * (A mount namespace goes behind a symlink: the kernel bind-mounts one only when it deems it
 * newer than the mounter's, and on 6.18 it refused, now and then, one made after the sandbox.)
 */
type Held = { kind: Kind; by: 'bind' | 'link'; node?: true } | { kind: 'fifo'; by: 'fifo' }

/**
 * The stage for one swap, all in the mount namespace of `helper`'s sandbox: a maker with new UTS,
 * IPC, network and mount namespaces, `path` holding `first`, and a swap that bind-mounts over
 * the path's directory another one whose entry holds `then`, as unmounting a netns file and
 * mounting another namespace there, or a PID reused, would.
 */
async function swapStage(helper: Helper, first: Held, then: Held) {
  const [dir, alt] = [tempDir(), tempDir()]
  const maker = startHelper()
  await maker.unshare(['uts', 'ipc', 'network', 'mount'])
  const mounter = startHelper()
  await mounter.setns(`/proc/${helper.pid}/ns/mnt`)
  const source = (held: Held) => `/proc/${'node' in held && held.node ? process.pid : maker.pid}/ns/${held.kind}`
  const place = async (file: string, held: Held) => {
    if (held.by === 'fifo') return void makeFifo(file)
    if (held.by === 'link') return symlinkSync(source(held), file)
    writeFileSync(file, '')
    await mounter.mount(source(held), file, null, ['bind'])
  }
  await place(join(dir, 'ns'), first)
  await place(join(alt, 'ns'), then)
  const ids = new Map([first, then].map((held) => [held, held.by === 'fifo' ? 'a FIFO' : readlinkSync(source(held))]))
  const end = async () => {
    for (const h of [mounter, maker]) {
      h.kill()
      await h.exited
    }
  }
  const fifo = [first, then].some((held) => held.by === 'fifo') ? join(first.by === 'fifo' ? dir : alt, 'ns') : undefined
  return { path: join(dir, 'ns'), fifo, uts: `/proc/${maker.pid}/ns/uts`, made: namespacesOf(maker.pid), id: (held: Held) => ids.get(held)!, swap: () => mounter.mount(alt, dir, null, ['bind', 'rec']), end }
}

/**
 * `helper` as enterNamespaces sees it, except that `holder`, the init of a PID namespace the
 * spec joins, is killed (and has exited) right before the helper's fork, after every join.
 */
function initKilledBeforeFork(helper: Helper, holder: number) {
  const state = { killed: false, forked: 0 }
  const late = new Proxy(helper, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      if (key !== 'fork') return value.bind(target)
      return async (...args: number[][]) => {
        process.kill(holder, 'SIGKILL')
        state.killed = await waitFor(() => ended(holder), 10_000)
        return (state.forked = await target.fork(...args))
      }
    },
  })
  onCleanup(() => state.forked > 0 && alive(state.forked) && process.kill(state.forked, 'SIGKILL'))
  return { late, state }
}

/** The namespace at /proc/PID/ns/FILE, as the kernel names it ("uts:[4026532201]"). */
const nsOf = (pid: number, file: Kind) => readlinkSync(`/proc/${pid}/ns/${file}`)

/** The NSpid line of /proc/PID/status: the process's PID in each PID namespace it is in, outermost first. */
const nspid = (pid: number) => (/^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '').split(/\s+/)

/**
 * A file in the mount namespace `helper` is in (a sandbox of the test's), with the namespace at
 * `source` bind-mounted on it, as `ip netns add` and dockerd's libnetwork keep a network
 * namespace. Node, in the host's mount namespace, sees only the empty file under it.
 */
async function bindNamespace(helper: Helper, source: string): Promise<string> {
  const file = join(tempDir(), 'ns')
  writeFileSync(file, '')
  await helper.mount(source, file, null, ['bind'])
  return file
}

/**
 * A new network namespace that no process is in, held only by a file in `helper`'s mount
 * namespace it is bind-mounted on (what `ip netns add` makes). Gives the file and the
 * namespace as the kernel names it ("net:[4026532301]").
 */
async function netnsAdd(helper: Helper): Promise<{ file: string; id: string }> {
  const maker = startHelper()
  await maker.setns(`/proc/${helper.pid}/ns/mnt`)
  await maker.unshare(['network'])
  const id = readlinkSync(`/proc/${maker.pid}/ns/net`)
  const file = await bindNamespace(maker, `/proc/${maker.pid}/ns/net`)
  maker.kill()
  await maker.exited
  return { file, id }
}

/** The fds `pid` holds on namespaces, each as "FD -> KIND:[INODE]". */
function namespaceFdsOf(pid: number): string[] {
  const fds = readdirSync(`/proc/${pid}/fd`)
  return fds.flatMap((fd) => {
    try {
      const to = readlinkSync(`/proc/${pid}/fd/${fd}`)
      return /^(cgroup|ipc|mnt|net|pid|time|user|uts):\[\d+\]$/.test(to) ? [`${fd} -> ${to}`] : []
    } catch {
      return []
    }
  })
}

/** runInNamespaces, with what enterNamespaces threw instead of a failed test. */
async function attempt(spec: Spec) {
  let run: Awaited<ReturnType<typeof runInNamespaces>> | undefined
  const error = await caught(async () => (run = await runInNamespaces(spec)))
  return { run, error: error as Error | undefined }
}

/** A FIFO at `path` that nobody reads or writes (mkfifo(1): node:fs cannot make one). */
function makeFifo(path: string): string {
  execFileSync('mkfifo', ['-m', '0600', path])
  return path
}

/**
 * `work` run to its end, while the test watches the FIFO at `fifo`: an open of it for reading
 * waits for a writer that never comes (fifo(7)), so whenever something has it open to read, the
 * test opens the other end (non-blocking: that succeeds only when a reader is there) and lets go
 * at once. Gives what `work` threw and whether a reader was ever found.
 */
async function pastFifo(fifo: string, work: () => Promise<unknown>) {
  let settled = false
  const done = caught(work).finally(() => (settled = true))
  let opened = false
  const deadline = Date.now() + 20_000
  while (!settled && Date.now() < deadline) {
    try {
      closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK))
      opened = true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  expect(settled, `neither returned nor threw in 20 s, with nothing waiting on the FIFO ${fifo}`).toBe(true)
  return { error: await done, opened }
}

describeKernel('joining namespaces', () => {
  it('a spec that joins another process\'s UTS and IPC namespaces and creates its PID namespace', async () => {
    const holder = await namespaceHolder('holder-02')
    const spec = probeSpec(['ns', 'hostname'])
    spec.linux!.namespaces = [{ type: 'pid' }, { type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'ipc', path: `/proc/${holder}/ns/ipc` }]
    const { run, error } = await attempt(spec)
    expect(error?.message, 'enterNamespaces threw for a spec joining uts and ipc by path ("Joining namespaces")').toBeUndefined()
    expect(run!.code).toBe(0)
    const inside = probeValue<Record<Kind, string>>(run!.stdout, 'ns')
    for (const kind of ['uts', 'ipc'] as const)
      expect(inside[kind], `the probe's /proc/self/ns/${kind} is not the one the entry's path names (${nsOf(holder, kind)}): which process joins, and is the process that runs the command in it? (setns(2); "Joining namespaces")`).toBe(nsOf(holder, kind))
    expect(inside.pid, 'the spec asks for a new PID namespace, and the probe is in the one it started in').not.toBe(run!.sandbox.namespaces.pid)
    expect(inside.pid, 'the spec asks for a new PID namespace, and the probe is in the holder\'s').not.toBe(nsOf(holder, 'pid'))
    expect(probeValue(run!.stdout, 'hostname'), 'the probe\'s hostname is not the one of the UTS namespace it joined').toBe(await hostnameIn(`/proc/${holder}/ns/uts`))
  })

  it('a spec that joins another process\'s PID namespace', async () => {
    const holder = await namespaceHolder('holder-02')
    const spec = probeSpec(['ns', 'pid'])
    spec.linux!.namespaces = [{ type: 'pid', path: `/proc/${holder}/ns/pid` }, { type: 'uts' }, { type: 'ipc' }]
    const { run, error } = await attempt(spec)
    expect(error?.message, 'enterNamespaces threw for a spec joining a PID namespace by path: which process does each step act on, before the fork and after it? ("Joining namespaces")').toBeUndefined()
    const inside = probeValue<Record<Kind, string>>(run!.stdout, 'ns')
    expect(inside.pid, `the probe's /proc/self/ns/pid is not the holder's (${nsOf(holder, 'pid')}): whom does setns(2) with a PID namespace move, the caller or the children it makes afterwards, and which process runs the command? (setns(2), pid_namespaces(7); "Joining namespaces")`).toBe(nsOf(holder, 'pid'))
    const seen = probeLines(run!.stdout).find((l) => 'pid' in l) as { pid: number; ppid: number }
    expect(nspid(holder).at(-1), 'the holder\'s sleep is PID 1 of its namespace').toBe('1')
    expect(seen.pid, `the probe sees itself as PID ${seen.pid} in the PID namespace it joined: who is PID 1 there already?`).not.toBe(1)
    expect(run!.pid, 'enterNamespaces returned no PID').toBeGreaterThan(0)
  })

  it('a spec joining a UTS namespace and naming a hostname', async () => {
    const holder = await namespaceHolder('holder-02')
    const spec = probeSpec(['hostname'])
    spec.linux!.namespaces = [{ type: 'pid' }, { type: 'uts', path: `/proc/${holder}/ns/uts` }]
    spec.hostname = 'joined-02'
    const { run, error } = await attempt(spec)
    expect(error?.message, 'the spec joins a UTS namespace and names a hostname, and enterNamespaces refused: what exactly does runc\'s validator.go ask of a spec that names a hostname? ("The hostname")').toBeUndefined()
    expect(probeValue(run!.stdout, 'hostname'), 'the hostname the probe sees in the joined UTS namespace, with spec.hostname set').toBe(spec.hostname)
    expect(await hostnameIn(`/proc/${holder}/ns/uts`), 'the joined UTS namespace, read from the holder\'s side').toBe(spec.hostname)
    expect(await run!.sandbox.hostname(), 'the UTS namespace the container started from (the test\'s sandbox) was renamed').toBe(SANDBOX_HOSTNAME)
  })

  it('a spec joining a UTS namespace and naming a hostname, with a user namespace step (enterUser)', async () => {
    const holder = await namespaceHolder('holder-02')
    const helper = startHelper()
    const box = await sandbox(helper)
    const before = stateOf(helper.pid)
    const path = `/proc/${holder}/ns/uts`
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'pid' }, { type: 'uts', path }, { type: 'ipc' }]
    spec.hostname = 'joined-02'
    let pid = 0
    onCleanup(() => pid > 0 && alive(pid) && process.kill(pid, 'SIGKILL'))
    // chapter 13's step, reduced to what matters here: the helper in a user namespace of its own.
    const error = await caught(async () => (pid = await enterNamespaces(helper, spec, async () => void (await helper.unshare(['user'])))))
    const now = stateOf(helper.pid)
    const story = `The spec joins the UTS namespace at ${path}, names the hostname "joined-02" and gets a new user namespace (enterUser), and enterNamespaces ${error ? `threw "${error.message}"` : 'returned'}`
    expect(await hostnameIn(path), `${story}; the joined UTS namespace, read from its holder's side`).toBe('holder-02')
    expect(error, `${story}: could the container's process ever have renamed that namespace, and when could you have known? (user_namespaces(7); "The hostname")`).toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
    expect(error.message, `${story}: the refusal must name the entry, its type and its path`).toSatisfy((m: string) => m.includes('uts') && m.includes(path))
    expect(now.children, `${story}, with the helper already forked: when could you have known? ("The hostname")`).toBe('')
    expect(now.after, `${story}, with the helper no longer in the namespaces it started in: when could you have known? ("The hostname")`).toEqual(before.after)
    expect(await box.hostname()).toBe(SANDBOX_HOSTNAME)
  })

  it('a spec joining a user namespace and a UTS namespace it owns, and naming a hostname', async () => {
    const holder = await namespaceHolder('holder-02', true)
    const spec = probeSpec(['hostname'])
    spec.linux!.namespaces = [{ type: 'user', path: `/proc/${holder}/ns/user` }, { type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'pid' }]
    spec.hostname = 'joined-02'
    const { run, error } = await attempt(spec)
    expect(error?.message, 'the spec joins a user namespace and a UTS namespace that user namespace owns, names a hostname, and enterNamespaces refused ("The hostname")').toBeUndefined()
    expect(probeValue(run!.stdout, 'hostname'), 'the hostname the probe sees in the joined UTS namespace').toBe(spec.hostname)
  })

  it('a spec joining a mount namespace, listed before the others it joins', async () => {
    const holder = await namespaceHolder('holder-02')
    const spec = probeSpec(['ns'])
    spec.linux!.namespaces = (['mount', 'uts', 'ipc', 'pid'] as const).map((type) => ({ type, path: `/proc/${holder}/ns/${type === 'mount' ? 'mnt' : type}` }))
    const { run, error } = await attempt(spec)
    expect(error?.message, `enterNamespaces threw for a spec joining the holder's mount, uts, ipc and pid namespaces, the mount entry first. The holder's mount namespace has a /proc of its own PID namespace, as a container's has: once a process is in it, what does /proc/${holder} name? ("Joining namespaces")`).toBeUndefined()
    const inside = probeValue<Record<Kind, string>>(run!.stdout, 'ns')
    for (const kind of ['mnt', 'uts', 'ipc', 'pid'] as const)
      expect(inside[kind], `the probe's /proc/self/ns/${kind} vs the holder's`).toBe(nsOf(holder, kind))
  })

  it('a spec joining a UTS namespace and creating IPC and PID ones, with a user namespace step (enterUser)', async () => {
    const holder = await namespaceHolder('holder-02')
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'ipc' }, { type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'pid' }]
    let seen: Record<Kind, string> | undefined
    let box: Sandbox | undefined
    await runCaptured(spec, async (h) => {
      box = await sandbox(h)
      await enterNamespaces(h, spec, async () => void (seen = namespacesOf(h.pid)))
    })
    expect(seen, 'enterUser was never called (enterNamespaces\'s doc comment)').toBeDefined()
    const story = 'The spec joins a UTS namespace by path and creates IPC and PID ones, and enterUser makes a user namespace of the container\'s own'
    expect(seen!.uts, `${story}; the helper was not where the spec's UTS entry leads when enterUser ran: what had to happen before a user namespace of the container's own existed, and what may the helper still do after? (setns(2), user_namespaces(7); "Joining namespaces")`).toBe(nsOf(holder, 'uts'))
    expect(seen!.ipc, `${story}; the helper was no longer in every namespace it started in when enterUser ran: which user namespace owns a namespace, and what decides it? (user_namespaces(7); "Joining namespaces")`).toBe(box!.namespaces.ipc)
  })

  it('a spec joining a network namespace that only a bind-mounted file holds, as ip netns add leaves it', async () => {
    const spec = probeSpec(['ns'])
    let made = { file: '', id: '' }
    let run: Run | undefined
    const error = await caught(async () => {
      run = await runCaptured(spec, async (h) => {
        await sandbox(h)
        made = await netnsAdd(h)
        spec.linux!.namespaces = [{ type: 'pid' }, { type: 'network', path: made.file }]
        await enterNamespaces(h, spec)
      })
    })
    expect(error?.message, `enterNamespaces threw for a network entry whose path ${made.file} is a file the test bind-mounted a network namespace on, in the helper's mount namespace (Node's sees an empty file there; \`ip netns add\` makes the same): where is a spec's path looked up, and what can tell the kind of namespace behind it? (setns(2); "Joining namespaces")`).toBeUndefined()
    const inside = probeValue<Record<Kind, string>>(run!.stdout, 'ns')
    expect(inside.net, `the probe is in ${inside.net}, and the namespace bind-mounted at ${made.file} is ${made.id}`).toBe(made.id)
  })

  it('a spec whose namespaces\' holder dies after the helper\'s first join', async () => {
    const holder = await namespaceHolder('holder-02')
    const helper = startHelper()
    const box = await sandbox(helper)
    const before = { ...stateOf(helper.pid), namespaces: box.namespaces }
    const named = { uts: nsOf(holder, 'uts'), ipc: nsOf(holder, 'ipc') }
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'pid' }, { type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'ipc', path: `/proc/${holder}/ns/ipc` }]
    const { dying, state } = holderDiesAfterFirstJoin(helper, holder)
    let pid = 0
    const error = await caught(async () => (pid = await enterNamespaces(dying, spec)))
    expect(state.joins, 'enterNamespaces never joined a namespace in the helper it was given').toBeGreaterThan(0)
    const story = `The holder of /proc/${holder}/ns/uts and /proc/${holder}/ns/ipc was killed right after the helper's first join, and its paths vanished with it`
    if (!error) {
      const inside = namespacesOf(pid)
      for (const kind of ['uts', 'ipc'] as const)
        expect(inside[kind], `${story}; enterNamespaces succeeded, and the container's process is in ${kind} namespace ${inside[kind]}, not ${named[kind]} that the spec named ("Joining namespaces")`).toBe(named[kind])
      return
    }
    const now = stateOf(helper.pid)
    const moved = (['uts', 'ipc'] as const).filter((kind) => now.after[kind] !== before.namespaces[kind])
    expect(moved, `${story}; enterNamespaces threw "${error.message}" with the helper already in the holder's ${moved.join(' and ')} namespace: half of the spec joined, in the helper the caller keeps. When did your code last look at each path, and what could have kept the namespace it named until the join? ("Joining namespaces")`).toEqual([])
    expect(error, `${story}; enterNamespaces threw "${error.message}": a spec that cannot be joined any more is refused like any other (joinNamespaces's doc comment)`).toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
    expect(now.after, `${story}; refused, but the helper is no longer in the namespaces it started in`).toEqual(before.namespaces)
    expect(now.forChildren, `${story}; refused, but the helper's children would be born in another PID namespace than before`).toBe(before.forChildren)
    expect(now.children, `${story}; refused, but the helper had forked`).toBe('')
  })

  it('a spec joining a PID namespace whose init exits after the joins', async () => {
    const holder = await namespaceHolder('holder-02')
    const helper = startHelper()
    await sandbox(helper)
    const path = `/proc/${holder}/ns/pid`
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'pid', path }, { type: 'uts' }, { type: 'ipc', path: `/proc/${holder}/ns/ipc` }]
    const before = stateOf(helper.pid)
    const { late, state } = initKilledBeforeFork(helper, holder)
    const error = await caught(() => enterNamespaces(late, spec))
    expect(state.killed, 'enterNamespaces never forked, or the holder outlived its SIGKILL').toBe(true)
    const story = `The init of the PID namespace at ${path} (host PID ${holder}) was killed after the helper's joins, right before its fork, and enterNamespaces ${error ? `threw "${error.message}"` : 'returned'}`
    expect(error, `${story}: what did the helper's fork answer, and would the one who reads your error look for the cause where it is? (pid_namespaces(7); "Joining namespaces")`).toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
    expect(error.message, `${story}: the refusal must name the entry, its type and its path`).toSatisfy((m: string) => m.includes('pid') && m.includes(path))
    const now = stateOf(helper.pid)
    const moved = KINDS.filter((kind) => now.after[kind] !== before.after[kind])
    if (now.forChildren !== before.forChildren) moved.push('pid_for_children' as Kind)
    expect(moved, `${story}, and left the helper, which its caller keeps, in other ${moved.join(', ')} namespaces than it started in. Nothing could have told you before the fork; once the fork is refused, what could still lead the helper back, and from which moment did it have to exist? (setns(2); "Joining namespaces")`).toEqual([])
  })

  it('a spec sharing a PID namespace, with a mount namespace of its own, whose init exits after the joins', async () => {
    const holder = await namespaceHolder('holder-02')
    const helper = startHelper()
    await sandbox(helper)
    const path = `/proc/${holder}/ns/pid`
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'pid', path }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }]
    const before = { ...stateOf(helper.pid), where: whereIs(helper.pid) }
    const { late, state } = initKilledBeforeFork(helper, holder)
    const error = await caught(() => enterNamespaces(late, spec))
    expect(state.killed, 'enterNamespaces never forked, or the holder outlived its SIGKILL').toBe(true)
    const story = `The spec shares the PID namespace at ${path} (as docker run --pid container:X) and asks for a mount namespace of its own; that PID namespace's init (host PID ${holder}) was killed after the helper's joins, right before its fork, and enterNamespaces ${error ? `threw "${error.message}"` : 'returned'}`
    expect(error, `${story}: expected a ContainerError naming the pid entry`).toBeInstanceOf(ContainerError)
    const now = stateOf(helper.pid)
    expect(now.after, `${story}, with the helper, which its caller keeps, in other namespaces than it started in ("Joining namespaces")`).toEqual(before.after)
    const where = whereIs(helper.pid)
    expect(where, `${story}. The helper, which its caller keeps, is back in every namespace it started in, yet its root and working directory were ${JSON.stringify(before.where)} when enterNamespaces began and are ${JSON.stringify(where)} now: which of your requests moved them, and what had to be held before it to undo that? (setns(2); "Joining namespaces")`).toEqual(before.where)
  })

  it('a spec joining a user namespace and a PID namespace whose init exits after the joins', async () => {
    const holder = await namespaceHolder('holder-02', true)
    const helper = startHelper()
    await sandbox(helper)
    const path = `/proc/${holder}/ns/pid`
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'user', path: `/proc/${holder}/ns/user` }, { type: 'pid', path }, { type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'ipc' }]
    const before = stateOf(helper.pid)
    const { late, state } = initKilledBeforeFork(helper, holder)
    const error = await caught(() => enterNamespaces(late, spec))
    expect(state.killed, 'enterNamespaces never forked, or the holder outlived its SIGKILL').toBe(true)
    const story = `The spec joins the user namespace and the PID namespace of a holder (host PID ${holder}), whose init was killed after the helper's joins, right before its fork, and enterNamespaces ${error ? `threw "${error.message}"` : 'returned'}`
    expect(error, `${story}: expected a ContainerError naming the pid entry`).toBeInstanceOf(ContainerError)
    expect(error.message, `${story}: the refusal must name the entry, its type and its path`).toSatisfy((m: string) => m.includes('pid') && m.includes(path))
    await waitFor(() => ended(helper.pid), 2000)
    if (ended(helper.pid)) return
    const now = stateOf(helper.pid)
    const moved = KINDS.filter((kind) => now.after[kind] !== before.after[kind])
    expect(moved, `${story}, and the helper, which its caller keeps and may send more requests, is alive in other ${moved.join(', ')} namespaces than it started in. Which of its steps could never be taken back, which later one could still fail, and what is left to promise the caller once both have happened? (user_namespaces(7), setns(2); "Joining namespaces")`).toEqual([])
  })

  it('a spec naming a hostname for a UTS namespace it joins, with a PID namespace whose init exits after the joins', async () => {
    const [named, holder] = [await namespaceHolder('holder-02'), await namespaceHolder('other-02')]
    const helper = startHelper()
    await sandbox(helper)
    const uts = `/proc/${named}/ns/uts`
    const spec = probeSpec([])
    spec.linux!.namespaces = [{ type: 'pid', path: `/proc/${holder}/ns/pid` }, { type: 'uts', path: uts }, { type: 'ipc' }]
    spec.hostname = 'joined-02'
    const { late, state } = initKilledBeforeFork(helper, holder)
    const error = await caught(() => enterNamespaces(late, spec))
    expect(state.killed, 'enterNamespaces never forked, or the holder outlived its SIGKILL').toBe(true)
    const now = await hostnameIn(uts)
    expect(now, `The spec joins the UTS namespace at ${uts}, which its holder still uses, and names a hostname; the init of the PID namespace it joins was killed right before the helper's fork, and enterNamespaces ${error ? `threw "${error.message}"` : 'returned'}, leaving that UTS namespace called "${now}". Whose name is that now, and what of the start was still to come when your code set it? ("The hostname")`).toBe('holder-02')
    expect(error, 'the PID namespace\'s init is gone: expected a ContainerError').toBeInstanceOf(ContainerError)
  })

  it('the relay, while the container runs, and the namespaces it joined', async () => {
    const holder = await namespaceHolder('holder-02')
    const spec = probeSpec([])
    let held: string[] = []
    let relay = 0
    let made = { file: '', id: '' }
    const error = await caught(() =>
      runCaptured(spec, async (h) => {
        relay = h.pid
        await sandbox(h)
        made = await netnsAdd(h)
        spec.linux!.namespaces = [{ type: 'pid' }, { type: 'uts' }, { type: 'ipc', path: `/proc/${holder}/ns/ipc` }, { type: 'network', path: made.file }]
        await enterNamespaces(h, spec)
        held = namespaceFdsOf(relay)
      }),
    )
    expect(error?.message, 'enterNamespaces threw for a spec joining an IPC namespace by its holder\'s link and a network namespace by a bind-mounted file ("Joining namespaces")').toBeUndefined()
    expect(held, `When enterNamespaces returned, the relay (PID ${relay}), which never execs and lives as long as the container, held these fds on namespaces (fd -> namespace). Who else can open /proc/${relay}/fd/N while the container runs, where would that take them, and what keeps a namespace alive once its holder has exited and its file is unmounted? (proc(5), namespaces(7); "The relay, and dying with it")`).toEqual([])
  })

  describe('a path that names another namespace between the check and the join', () => {
    const cases: { name: string; type: NamespaceType; kind: Kind; first: Held; then: Held; listedFirst: boolean }[] = [
      { name: 'a network entry whose bind-mounted file comes to hold an IPC namespace', type: 'network', kind: 'net', first: { kind: 'net', by: 'bind' }, then: { kind: 'ipc', by: 'bind' }, listedFirst: false },
      { name: 'a mount entry whose path comes to name the mount namespace Node is in', type: 'mount', kind: 'mnt', first: { kind: 'mnt', by: 'link' }, then: { kind: 'mnt', by: 'link', node: true }, listedFirst: false },
      { name: 'a mount entry that named the mount namespace Node is in and comes to name another', type: 'mount', kind: 'mnt', first: { kind: 'mnt', by: 'link', node: true }, then: { kind: 'mnt', by: 'link' }, listedFirst: true },
      { name: 'a network entry whose bind-mounted file comes to be a FIFO', type: 'network', kind: 'net', first: { kind: 'net', by: 'bind' }, then: { kind: 'fifo', by: 'fifo' }, listedFirst: false },
    ]

    for (const c of cases)
      it(c.name, async () => {
        // The swap comes before each of the helper's requests in turn, until a run makes no more requests than that.
        for (let at = 0, swapped = true; swapped && at < 40; at++) {
          const helper = startHelper()
          await sandbox(helper)
          const stage = await swapStage(helper, c.first, c.then)
          const before = stateOf(helper.pid)
          const entries = [{ type: 'uts' as const, path: stage.uts }, { type: c.type, path: stage.path }]
          const spec = probeSpec([])
          spec.linux!.namespaces = c.listedFirst ? entries.reverse() : entries
          const { swapping, state } = swappedBeforeRequest(helper, at, stage.swap)
          const { error, opened } = stage.fifo ? await pastFifo(stage.fifo, () => joinNamespaces(swapping, spec)) : { error: await caught(() => joinNamespaces(swapping, spec)), opened: false }
          const now = stateOf(helper.pid)
          await stage.end()
          helper.kill()
          await helper.exited
          swapped = state.before !== ''

          const { id } = stage
          const what = (held: Held) => (held.by === 'fifo' ? 'a FIFO' : `${id(held)}${held.by === 'bind' ? ' bind-mounted on it' : ' behind a symlink'}${held.node ? ' (Node\'s, the runtime\'s own)' : ''}`)
          const fits = (held: Held) => held.kind === c.kind && !('node' in held && held.node)
          const bad = [c.first, c.then].filter((held) => !fits(held)).map(id)
          const story = swapped
            ? `The ${c.type} entry's path ${stage.path} held ${what(c.first)} when joinNamespaces began, and ${what(c.then)} from just before the helper's request ${state.before}`
            : `The ${c.type} entry's path ${stage.path} held ${what(c.first)} throughout`
          expect(opened, `${story}; the helper opened the FIFO to read and waited there for a writer until the test opened the other end: which of your requests looked the path up after your check, and what did it find there by then? ("Joining namespaces")`).toBe(false)
          const inBad = KINDS.filter((kind) => bad.includes(now.after[kind]))
          expect(inBad, `${story}; the helper ended in ${bad.join(' and ')}, which the entry must never join: which namespace did your check look at, and which one did the join use? ("Joining namespaces")`).toEqual([])
          if (!swapped && fits(c.first))
            expect(error?.message, `${story}, a namespace of the kind the entry names, and joinNamespaces refused it: what did your check find wrong with it? ("Joining namespaces")`).toBeUndefined()
          if (error) {
            const moved = KINDS.filter((kind) => now.after[kind] !== before.after[kind])
            expect(moved, `${story}; joinNamespaces threw "${error.message}" with the helper already in another ${moved.join(' and ')} namespace: half of the spec joined. Was what your check approved what the join used? ("Joining namespaces")`).toEqual([])
            expect(error, `${story}; joinNamespaces threw "${error.message}": a spec that is not what it was checked to be is refused like any other, with a ContainerError (joinNamespaces's doc comment)`).toBeInstanceOf(ContainerError)
            expect(error.exitCode).toBe(125)
            expect(now.forChildren, `${story}; refused, but the helper's children would be born in another PID namespace than before`).toBe(before.forChildren)
            expect(now.children, `${story}; refused, but the helper had forked`).toBe('')
          } else {
            const joined = { ...before.after, uts: stage.made.uts, [c.kind]: id([c.first, c.then].find(fits)!) }
            expect(now.after, `${story}; joinNamespaces returned, and the helper is not in exactly the namespaces the entries name: in the one each of your checks approved? ("Joining namespaces")`).toEqual(joined)
          }
        }
      })
  })

  describe('specs the container cannot have', () => {
    /** enterNamespaces on a sandboxed helper; what it threw, and whether the helper is still as it started. */
    async function refused(entries: (holder: number, helper: Helper) => Promise<{ type: Kind | 'network' | 'mount'; path?: string }[]> | { type: Kind | 'network' | 'mount'; path?: string }[], user = false) {
      const holder = await namespaceHolder('holder-02', user)
      const helper = startHelper()
      const box = await sandbox(helper)
      const forChildren = forChildrenOf(helper.pid)
      const spec = probeSpec([])
      spec.linux!.namespaces = (await entries(holder, helper)) as NonNullable<Spec['linux']>['namespaces']
      const error = await caught(() => enterNamespaces(helper, spec))
      return { error, holder, helper, box: { ...box, forChildren }, ...stateOf(helper.pid) }
    }

    function expectRefused(r: Awaited<ReturnType<typeof refused>>, what: string, type: string, path: string) {
      expect(r.error, `${what}: expected a ContainerError (joinNamespaces's doc comment)`).toBeInstanceOf(ContainerError)
      expect(r.error.exitCode).toBe(125)
      expect(r.error.message, `${what}: the refusal must name the entry, its type and its path`).toSatisfy((m: string) => m.includes(type) && m.includes(path))
      expect(r.after, `${what}: refused, but the helper is no longer in the namespaces it started in: was every entry checked before the first join? (joinNamespaces's doc comment)`).toEqual(r.box.namespaces)
      expect(r.forChildren, `${what}: refused, but the helper's children would be born in another PID namespace than before (/proc/${r.helper.pid}/ns/pid_for_children)`).toBe(r.box.forChildren)
      expect(r.children, `${what}: refused, but the helper had forked`).toBe('')
    }

    it('a network entry whose path is an IPC namespace', async () => {
      const r = await refused((holder) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'network', path: `/proc/${holder}/ns/ipc` }])
      expectRefused(r, 'the network entry names an IPC namespace: how does a path say which kind of namespace it is? (namespaces(7))', 'network', `/proc/${r.holder}/ns/ipc`)
    })

    it('a mount entry whose path is the mount namespace the helper is in', async () => {
      const r = await refused((holder, helper) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'mount', path: `/proc/${helper.pid}/ns/mnt` }])
      expectRefused(r, `the mount entry names the mount namespace the helper (PID ${r.helper.pid}) is in, here the test's sandbox standing for the host's: where would the container mount?`, 'mount', `/proc/${r.helper.pid}/ns/mnt`)
    })

    it('a network entry whose path is a file an IPC namespace is bind-mounted on', async () => {
      let file = ''
      const r = await refused(async (holder, helper) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'network', path: (file = await bindNamespace(helper, `/proc/${holder}/ns/ipc`)) }])
      expectRefused(r, `the network entry's path ${file} is a file the holder's IPC namespace is bind-mounted on, in the helper's mount namespace; readlink(2) says nothing about it and Node sees an empty file: what could tell its kind, and at what cost to the helper? ("Joining namespaces")`, 'network', file)
    })

    it('a user entry, then a network entry whose path is a file an IPC namespace is bind-mounted on', async () => {
      let file = ''
      const r = await refused(async (holder, helper) => [{ type: 'user', path: `/proc/${holder}/ns/user` }, { type: 'network', path: (file = await bindNamespace(helper, `/proc/${holder}/ns/ipc`)) }], true)
      expectRefused(r, `the spec joins the holder's user namespace, then names as its network namespace the file ${file}, on which the holder's IPC namespace is bind-mounted: which of the helper's joins could it take back once made, and what could judge the second entry before the helper made the first? (setns(2), user_namespaces(7); "Joining namespaces")`, 'network', file)
    })

    it('an entry of a kind no namespace has, after a UTS namespace to join', async () => {
      const r = await refused((holder) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'uts-ns' as Kind }])
      expectRefused(r, 'the spec lists a "uts-ns" entry without a path, a kind of namespace no kernel makes: who was going to find out, and what had the helper done by then? ("Which namespaces")', 'uts-ns', '')
    })

    it('a mount entry whose path is a symlink to the mount namespace the helper is in', async () => {
      const link = join(tempDir(), 'mnt')
      const r = await refused((holder, helper) => {
        symlinkSync(`/proc/${helper.pid}/ns/mnt`, link)
        return [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'mount', path: link }]
      })
      expectRefused(r, `the mount entry's path ${link} leads to the mount namespace the helper (PID ${r.helper.pid}) is in, under another name: what names a namespace whatever the path to it? ("Joining namespaces")`, 'mount', link)
    })

    it('a mount entry whose path is the mount namespace Node, the runtime, is in', async () => {
      const r = await refused((holder) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'mount', path: `/proc/${process.pid}/ns/mnt` }])
      expectRefused(r, `the mount entry names the mount namespace of Node (PID ${process.pid}), the runtime, while the helper is in the test's sandbox: where would chapter 03 mount the container's root?`, 'mount', `/proc/${process.pid}/ns/mnt`)
    })

    it('a mount entry whose path is /proc/self/ns/mnt', async () => {
      const r = await refused((holder) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'mount', path: '/proc/self/ns/mnt' }])
      expectRefused(r, `the mount entry's path /proc/self/ns/mnt, opened by the helper (PID ${r.helper.pid}), is the mount namespace the helper is in; who is "self" when Node looks at that path? (proc(5))`, 'mount', '/proc/self/ns/mnt')
    })

    it('two uts entries with different paths', async () => {
      const r = await refused((holder, helper) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'ipc', path: `/proc/${holder}/ns/ipc` }, { type: 'uts', path: `/proc/${helper.pid}/ns/uts` }])
      expectRefused(r, 'the spec names two UTS namespaces to join: which one would the container be in, and would the spec have said so? ("Joining namespaces")', 'uts', `/proc/${r.helper.pid}/ns/uts`)
    })

    it('an ipc entry with a path and an ipc entry without one', async () => {
      const r = await refused((holder) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'ipc', path: `/proc/${holder}/ns/ipc` }, { type: 'ipc' }])
      expectRefused(r, 'the spec asks to join an IPC namespace and to create one: how many IPC namespaces can a process be in, and what does runc make of such a spec? ("Joining namespaces")', 'ipc', `/proc/${r.holder}/ns/ipc`)
    })

    it('a type listed twice, apart', async () => {
      const r = await refused(() => [{ type: 'uts' }, { type: 'pid' }, { type: 'uts' }, { type: 'ipc' }])
      expectRefused(r, 'the spec lists "uts" twice: which of the two did its writer mean, and what does runc make of it? ("Which namespaces")', 'uts', '')
    })

    it('a type listed again with an empty path', async () => {
      const r = await refused(() => [{ type: 'uts' }, { type: 'pid' }, { type: 'ipc' }, { type: 'uts', path: '' }])
      expectRefused(r, 'the spec lists "uts", then "uts" with path "": what does each entry ask for, and what does runc make of the pair? ("Which namespaces")', 'uts', '')
    })

    it('a network entry whose path is a FIFO', async () => {
      const holder = await namespaceHolder('holder-02')
      const helper = startHelper()
      const box = await sandbox(helper)
      const forChildren = forChildrenOf(helper.pid)
      const fifo = makeFifo(join(tempDir(), 'net'))
      const spec = probeSpec([])
      spec.linux!.namespaces = [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'network', path: fifo }]
      const { error, opened } = await pastFifo(fifo, () => enterNamespaces(helper, spec))
      expect(opened, `the network entry's path ${fifo} is a FIFO, and the helper opened it to read and sat there, waiting for a writer, until the test opened the other end (runc 1.1.5's runc init waits there for good). Which of your requests opened it, and what could the helper learn of a path without an open that may wait or act? (fifo(7), open(2); "Joining namespaces")`).toBe(false)
      expectRefused({ error, holder, helper, box: { ...box, forChildren }, ...stateOf(helper.pid) }, `the network entry's path ${fifo} is a FIFO, no namespace`, 'network', fifo)
    })

    it('a network entry whose path is not there', async () => {
      const missing = join(tempDir(), 'net')
      const r = await refused((holder) => [{ type: 'uts', path: `/proc/${holder}/ns/uts` }, { type: 'network', path: missing }])
      expectRefused(r, 'the network entry names a file that is not there', 'network', missing)
    })
  })
})
