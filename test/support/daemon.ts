/**
 * The daemon's world for tests and benchmarks: a real containerd (Debian's 1.6, with its
 * containerd-shim-runc-v2 and runc) from a temp dir on its own socket, a loopback registry
 * serving the probe and a busybox image, minidockerd (or a real dockerd) on a temp socket,
 * and the two real docker CLIs pointed at it. Everything is stopped by PID and removed.
 * Nothing here imports vitest.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { execa } from 'execa'
import { testName } from './names.ts'
import { connectContainerd, type Containerd as Client, type Subscription } from '../../lib/containerd.ts'
import type { Container } from '../../lib/engine.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { startContainerd as startRealContainerd, startDockerd } from './daemons.ts'
import { buildImage, probeEntries, type Entry } from './images.ts'
import { pushImage, startRegistry, type Registry } from './registry.ts'

export const CLIS = { '28.2.2': '/usr/local/bin/docker', '20.10': '/usr/bin/docker' } as const
export type Cli = keyof typeof CLIS
const ROOT = new URL('../..', import.meta.url).pathname
const BUSYBOX = '/bin/busybox'
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'true', 'false', 'ls', 'id', 'pwd', 'hostname', 'env', 'printf', 'trap', 'kill', 'ps', 'stty']

/** A child process stopped by PID: SIGTERM, then SIGKILL after `grace` ms. */
export async function stopChild(child: ChildProcess, grace = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), grace)
  await exited
  clearTimeout(timer)
}

async function waitFor(what: string, ready: () => boolean, child: ChildProcess, log: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ready()) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before it was ready:\n${log()}`)
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${ms} ms:\n${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface Containerd {
  socket: string
  /** the cgroup parent of the containers its daemons run (minidockerd's --cgroup-parent), removed at its stop */
  cgroupParent: string
  /** kill -9, as a crash would: its shims and their containers run on */
  crash(): Promise<void>
  /** start it again on the same socket, root and state */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Poll `done` every 100 ms for up to `ms`; throw `what` if it never holds. */
async function poll(done: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; !(await done()); await new Promise((resolve) => setTimeout(resolve, 100))) {
    if (Date.now() > end) throw new Error(what)
  }
}

/**
 * Once the process `pid` (a container's, started by the test) is gone. Only asked whether it is
 * there (signal 0): its shim reaps it, and a PID taken over meanwhile is harmless here.
 */
export async function processGone(pid: number, what: string, ms = 10_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  await poll(() => !alive(), ms, `${what} did not end in ${ms / 1000} s`)
}

/** Once `client` gets answers again from a containerd that was restarted (its connection comes back on its own). */
export async function answersAgain(client: Client, ms = 10_000): Promise<void> {
  await poll(() => client.version.Version({}).then(() => true, () => false), ms, `the restarted containerd did not answer in ${ms / 1000} s`)
}

/**
 * Debian's containerd from `dir` (daemons.ts); before it stops, every task a daemon left is ended
 * through it. Its daemons' containers go under a cgroup parent of its own, removed at its stop:
 * a parent shared with another test file's daemons would be removed by that file's cleanup while
 * runc was setting up a container's cgroup in it.
 */
export async function startContainerd(dir: string): Promise<Containerd> {
  const parent = testName('minidockerd')
  const daemon = await startRealContainerd(dir, {
    // shims outlive containerd, with the rootfs mounted: end every task a daemon left before containerd goes
    beforeStop: async () => {
      for (const namespace of NAMESPACES) await removeTasks(daemon.socket, namespace).catch(() => {})
    },
    cgroups: [parent],
  })
  return { socket: daemon.socket, cgroupParent: `/${parent}`, crash: daemon.crash, restart: daemon.restart, stop: daemon.stop }
}

/**
 * containerd's events as a client meets them when containerd puts a new subscription in place
 * only `ms` after the call (it serves Subscribe on a goroutine of its own and confirms nothing
 * on the stream): Subscribe returns at once, and nothing published before that moment reaches
 * the subscriber. Publish goes through as it is.
 */
export function registeredLate(events: Client['events'], ms: number): Client['events'] {
  return {
    ...events,
    Subscribe: (filters, onEnvelope, onEnd) => {
      let real: Subscription | undefined
      let closed = false
      const timer = setTimeout(() => {
        if (!closed) real = events.Subscribe(filters, onEnvelope, onEnd)
      }, ms)
      return {
        close: () => {
          closed = true
          clearTimeout(timer)
          real?.close()
        },
      }
    },
  }
}

/** The containerd namespaces the tests' daemons use. */
/** containerd's own report of each container's exit (of its task, not of an exec in it), into `exits`, for a test to compare a daemon's records with. */
export function witnessExits(client: Client, namespace: string, exits: Map<string, number>): Subscription {
  return client.events.Subscribe([`namespace=="${namespace}",topic=="/tasks/exit"`], ({ event }) => {
    if (event.id === event.container_id) exits.set(event.container_id, event.exit_status)
  })
}

export const NAMESPACES = ['minidocker-test']

/** Kill and delete every task and container in `namespace`, through containerd's own API. */
export async function removeTasks(socket: string, namespace: string): Promise<void> {
  const client = connectContainerd(socket, namespace)
  try {
    const { tasks } = await client.tasks.List({})
    for (const task of tasks as { id: string; status: string }[]) {
      if (task.status !== 'STOPPED') {
        await client.tasks.Kill({ container_id: task.id, signal: 9, all: true }).catch(() => {})
        await client.tasks.Wait({ container_id: task.id }).catch(() => {})
      }
      await client.tasks.Delete({ container_id: task.id }).catch(() => {})
    }
    const { containers } = await client.containers.List({})
    for (const c of containers as { id: string }[]) await client.containers.Delete({ id: c.id }).catch(() => {})
  } finally {
    client.close()
  }
}

/** A busybox image: the probe's files, the host's static busybox and a link per applet used here. */
export function busyboxEntries(): Entry[] {
  return [
    ...probeEntries(),
    { name: 'bin/' },
    { name: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 },
    ...APPLETS.map((a): Entry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
  ]
}

/** The loopback registry with `busybox` (Cmd sh) and `probe` (Cmd /probe hostname). */
export async function imageRegistry(): Promise<Registry> {
  const registry = await startRegistry()
  try {
    await pushImage(registry, 'busybox', 'latest', await buildImage([busyboxEntries()], { config: { Cmd: ['sh'] } }))
    await pushImage(registry, 'probe', 'latest', await buildImage([probeEntries()]))
  } catch (error) {
    await registry.stop()
    throw error
  }
  return registry
}

export interface Dockerd {
  /** unix:///... for DOCKER_HOST */
  host: string
  root: string
  log(): string
  stop(): Promise<void>
}

/**
 * minidockerd (with the implementation the test runs) on a socket in `dir`, talking to
 * `containerd`, its containers' cgroups under that containerd's parent. Without `netns` it
 * runs in this network namespace with `--bridge none`, so that it never makes a link here;
 * with `netns` (a PID whose network namespace the test made, test/support/netns.ts) it runs
 * there with its bridge, and only there. `args` are added to its command line, `env` to its
 * environment.
 */
export async function startMinidockerd(dir: string, containerd: Containerd, options: { netns?: number; args?: string[]; env?: Record<string, string> } = {}): Promise<Dockerd & { pid: number }> {
  const socket = join(dir, 'minidockerd.sock')
  const root = join(dir, 'data')
  rmSync(socket, { force: true }) // a restarted daemon's old socket must not pass for the new one's
  let log = ''
  const argv = [process.execPath, join(ROOT, 'bin/minidockerd.cjs'), '-H', `unix://${socket}`, '--data-root', root,
    '--exec-root', join(dir, 'exec'), '--containerd', containerd.socket, '--namespace', 'minidocker-test', '--cgroup-parent', containerd.cgroupParent, ...(options.netns ? [] : ['--bridge', 'none']), ...(options.args ?? [])]
  if (options.netns) argv.unshift('nsenter', `--net=/proc/${options.netns}/ns/net`, '--')
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  child.stdout!.on('data', (d) => { log += d })
  child.stderr!.on('data', (d) => { log += d })
  await waitFor('minidockerd', () => existsSync(socket), child, () => log, 60_000)
  return { host: `unix://${socket}`, root, log: () => log, stop: () => stopChild(child), pid: child.pid! }
}

/**
 * A real dockerd (Debian's 20.10) from temp dirs (daemons.ts), without bridge or iptables,
 * trusting the loopback registry; `args` added, and `prefix` before it (startDockerd).
 */
export async function startRealDockerd(dir: string, registry: string, options: { args?: string[]; prefix?: string[] } = {}): Promise<Dockerd> {
  const daemon = await startDockerd(dir, ['--insecure-registry', registry, ...(options.args ?? [])], { prefix: options.prefix })
  return { host: `unix://${daemon.socket}`, root: join(dir, 'data'), log: daemon.log, stop: daemon.stop }
}

export interface DockerResult {
  stdout: string
  stderr: string
  exitCode: number
}

/** A daemon's answer that names a chapter function not written yet, rethrown as that NotImplementedError. */
export function throwIfUnwritten(text: string): void {
  const unwritten = /(\w+)\(\) is not written yet: follow the TODO in it, in chapters\/([\w-]+)\//.exec(text)
  if (unwritten) throw new NotImplementedError(unwritten[2]!, unwritten[1]!)
}

/** The body of GET /_ping on a daemon's unix socket. */
function getPing(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: host.replace(/^unix:\/\//, ''), path: '/_ping' }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve(text))
    })
    req.on('error', reject)
    req.end()
  })
}

/** The environment the tests run the docker CLI in: `host` as DOCKER_HOST, the workbook's own config, no hints. */
export const dockerEnv = (host: string) => ({ DOCKER_HOST: host, DOCKER_CONFIG: join(ROOT, '.workbook', 'docker-config'), DOCKER_CLI_HINTS: 'false' })

/**
 * Run a docker CLI against `host`. A daemon answer that says a chapter function is not
 * written yet is rethrown as that NotImplementedError, so a starter fails for what it is.
 */
export async function docker(cli: Cli, host: string, args: string[], options: { input?: string; timeout?: number; stuck?: string } = {}): Promise<DockerResult> {
  const result = await execa(CLIS[cli], args, {
    env: dockerEnv(host),
    input: options.input ?? '', reject: false, timeout: options.timeout ?? 60_000, stripFinalNewline: false,
  })
  throwIfUnwritten(String(result.stderr))
  // a failed HEAD /_ping has no body: the CLI shows only the status, so ask for the reason with a GET
  if (/request returned 500 Internal Server Error for API route/.test(String(result.stderr))) throwIfUnwritten(await getPing(host))
  if (result.timedOut) throw new Error(`docker ${args.join(' ')} did not finish in ${options.timeout ?? 60_000} ms: ${options.stuck ?? 'which answer was the CLI waiting for? Compare your daemon\'s answers with dockerd\'s, request by request (chapter 11\'s "The choreography of `docker run`")'}`)
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 }
}

/**
 * The end of a test file that made the chapter's Daemon in its own process: every container it
 * holds removed (each given 5 s; a starter's remove throws, and containerd's own clean-up at its
 * stop ends those tasks), then what `closers` names closed (the daemon, clients, a server), then
 * containerd (with its daemons' cgroups), the registry and the temp dir gone.
 */
export async function stopInProcessDaemon(parts: {
  daemon?: { containers: Map<string, Container>; remove(c: Container, force: boolean): Promise<void> }
  closers: ({ close(): void } | undefined)[]
  containerd?: Containerd
  registry?: Registry
  dir?: string
}): Promise<void> {
  for (const c of [...(parts.daemon?.containers.values() ?? [])]) {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([parts.daemon!.remove(c, true), new Promise((resolve) => (timer = setTimeout(resolve, 5000)))])
    } catch {
      // not written yet
    } finally {
      clearTimeout(timer)
    }
  }
  for (const closer of parts.closers) closer?.close()
  await parts.containerd?.stop()
  await parts.registry?.stop()
  if (parts.dir) removeDir(parts.dir)
}

export const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true })

/**
 * Remove the containers a daemon still holds (a failed test's), through the daemon so that
 * containerd stops their shims, then stop the daemon.
 */
export async function removeContainersAndStop(d: Dockerd): Promise<void> {
  const left = await docker('28.2.2', d.host, ['ps', '-a', '-q']).catch(() => undefined)
  for (const id of left?.stdout.split('\n').filter(Boolean) ?? []) await docker('28.2.2', d.host, ['rm', '-f', id]).catch(() => {})
  await d.stop()
}

/** containerd, a loopback registry with the test images, minidockerd and a real dockerd, each in a folder of `dir`. */
export interface DaemonPair {
  containerd: Containerd
  registry: Registry
  ours: Dockerd
  real: Dockerd
}

export async function startDaemonPair(dir: string): Promise<DaemonPair> {
  const started: Partial<DaemonPair> = {}
  try {
    started.registry = await imageRegistry()
    started.containerd = await startContainerd(join(dir, 'containerd'))
    started.ours = await startMinidockerd(join(dir, 'ours'), started.containerd)
    started.real = await startRealDockerd(join(dir, 'real'), started.registry.host)
    return started as DaemonPair
  } catch (error) {
    // the caller gets nothing to stop: what started before the failure is stopped here
    await stopDaemonPair(started, undefined)
    throw error
  }
}

/** Remove every container both daemons hold, stop everything startDaemonPair() started, and remove `dir`. */
export async function stopDaemonPair(pair: Partial<DaemonPair>, dir: string | undefined): Promise<void> {
  for (const d of [pair.ours, pair.real]) if (d) await removeContainersAndStop(d)
  await pair.containerd?.stop()
  await pair.registry?.stop()
  if (dir) removeDir(dir)
}

