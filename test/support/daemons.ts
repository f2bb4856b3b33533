/**
 * The real containerd (Debian's 1.6) and dockerd (20.10) for the tests, started one way for
 * every chapter: from a directory of their own (config, root, state, sockets, exec root), on
 * their own sockets, waited for until they listen, and stopped by PID. A stop first runs the
 * chapter's own cleanup (ending the tasks it left, through the daemon), then ends the daemon
 * (SIGTERM, SIGKILL after a grace period) and every process still naming its directory: the
 * shims it started, which outlive a daemon by design (and the socket a killed runc shim leaves in
 * /run/containerd/s goes too). Nothing here imports vitest.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { mountsBelow } from '../../lib/mounts.ts'
import { hierarchies, procsFiles, thawAndKill } from './hierarchies.ts'
import { testName } from './names.ts'

export interface Daemon {
  /** its socket (containerd's gRPC one, dockerd's API) */
  socket: string
  readonly pid: number
  /** the end of what it printed */
  log(): string
  /** kill -9, as a crash would */
  crash(): Promise<void>
  /** start it again on the same directories */
  restart(): Promise<void>
  stop(): Promise<void>
}

export interface DaemonOptions {
  /** the environment it runs with (the shims it starts inherit it) */
  env?: NodeJS.ProcessEnv
  /** before it is stopped: end what the tests left, through the daemon itself */
  beforeStop?: () => Promise<void>
  /** after it and the processes it started are gone */
  afterStop?: () => Promise<void>
  /** how long a SIGTERM gets before SIGKILL, in ms */
  grace?: number
  /** cgroup parents its containers were put under (a containerd namespace, dockerd's --cgroup-parent): removed when empty */
  cgroups?: string[]
  /** called with what it prints, as it prints it */
  output?: (text: string) => void
  /** in a process group of its own, so a terminal's Ctrl-C reaches only the caller, which stops it in order */
  detached?: boolean
}

/**
 * Remove the cgroup parent `name` (a containerd namespace, a daemon's --cgroup-parent) in every
 * hierarchy, v1 ones and v2, with every cgroup below it, deepest first: what a
 * runtime under test made there and did not delete (a v1 devices or freezer cgroup the
 * daemon's own cleanup knows nothing of). A cgroup that still holds a process stays, with its
 * parents: other test runs on the machine may share the name.
 */
export function removeCgroupParent(name: string): void {
  const remove = (dir: string): void => {
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) if (entry.isDirectory()) remove(join(dir, entry.name))
    try {
      rmdirSync(dir)
    } catch {
      // in use (EBUSY) or not a cgroup directory of ours
    }
  }
  for (const dir of cgroupParentDirs(name)) remove(dir)
}

/**
 * Where a cgroup parent `name` is, in each hierarchy: an absolute parent is below a hierarchy's
 * root; a relative one (minidocker's) below this process's own cgroup there, or on v2 below that
 * one's parent, as chapter 04 places it. Never a hierarchy's root itself.
 */
function cgroupParentDirs(name: string): string[] {
  return hierarchies().flatMap(({ mount, own }) => [...new Set(['/', own, dirname(own)])].map((base) => join(mount, base, name)))
    .filter((dir) => existsSync(join(dir, 'cgroup.procs')))
}

/** The PIDs in a cgroup parent of this test's own, in every hierarchy, its children included. */
function pidsInCgroupParent(name: string): number[] {
  const pids = new Set<number>()
  for (const dir of cgroupParentDirs(name)) {
    try {
      for (const procs of procsFiles(dir)) for (const line of readFileSync(procs, 'utf8').split('\n')) if (line) pids.add(Number(line))
    } catch {
      // a cgroup removed meanwhile: its processes are gone with it
    }
  }
  return [...pids]
}

/**
 * End what is left in a cgroup parent named for this test process (a container a learner's
 * runtime never deleted, or left paused): only this test's daemons put processes there, and a
 * cgroup with a process in it cannot be removed.
 */
async function killCgroupParent(name: string): Promise<void> {
  for (const pid of pidsInCgroupParent(name)) thawAndKill(pid)
  for (const end = Date.now() + 10_000; pidsInCgroupParent(name).length > 0 && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 50))
}

/**
 * The socket containerd's runc shim `pid` serves on, if it is one: /run/containerd/s/ and the
 * sha256 of ADDRESS/NAMESPACE/ID from its command line (containerd 1.6's shim.SocketAddress).
 * The shim removes it as it shuts down; killed, it leaves it behind, for whoever killed it.
 */
function runcShimSocket(pid: number): string | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    if (!argv[0]!.endsWith('containerd-shim-runc-v2')) return undefined
    const flag = (name: string) => argv[argv.indexOf(name) + 1]
    const [address, namespace, id] = [flag('-address'), flag('-namespace'), flag('-id')]
    if (!address || !namespace || !id) return undefined
    return join('/run/containerd/s', createHash('sha256').update(join(address, namespace, id)).digest('hex'))
  } catch {
    return undefined // gone meanwhile
  }
}

/** The processes, other than this one, whose command line names a path under `dir`, by PID. */
function processesUnder(dir: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${dir}/`)
    } catch {
      return false
    }
  }).map(Number)
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))

/** Start `command` in `dir` and wait until `socket` exists; the Daemon it answers stops it by PID. */
export async function startDaemon(what: string, command: string, args: string[], dir: string, socket: string, options: DaemonOptions): Promise<Daemon> {
  let output = ''
  let child!: ChildProcess
  const launch = async () => {
    rmSync(socket, { force: true }) // an old socket must not pass for the new daemon's
    // TMPDIR: what a daemon leaves in the temp folder stays in its own (dockerd sends its slow-starting
    // containerd SIGUSR1, and containerd writes its stacks to a file there)
    child = spawn(command, args, { env: { ...(options.env ?? process.env), TMPDIR: dir }, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached })
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (b: Buffer) => {
      output = (output + b).slice(-20_000)
      options.output?.(b.toString())
    })
    for (const end = Date.now() + 60_000; !existsSync(socket); await new Promise((resolve) => setTimeout(resolve, 50))) {
      if (child.exitCode !== null || Date.now() > end) {
        const why = child.exitCode !== null ? `exited with ${child.exitCode}` : 'did not listen within 60 s'
        await daemon.stop()
        throw new Error(`${what} ${why}: ${output.slice(-2000)}`)
      }
    }
  }
  const daemon: Daemon = {
    socket,
    get pid() {
      return child.pid!
    },
    log: () => output,
    async crash() {
      child.kill('SIGKILL')
      await exited(child)
    },
    restart: launch,
    async stop() {
      try {
        if (child.exitCode === null && child.signalCode === null) await options.beforeStop?.().catch(() => {})
      } finally {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), options.grace ?? 5000)
        await exited(child)
        clearTimeout(timer)
        // what still runs is killed: a runc shim among them leaves its socket, removed here once the shim is gone
        const left = processesUnder(dir).map((pid) => ({ pid, socket: runcShimSocket(pid) }))
        for (const { pid } of left) thawAndKill(pid)
        for (const end = Date.now() + 10_000; processesUnder(dir).length > 0 && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 50))
        const alive = new Set(processesUnder(dir)) // a zombie, its command line gone, has let go of its socket
        for (const { pid, socket } of left) if (socket && !alive.has(pid)) rmSync(socket, { force: true })
        await options.afterStop?.()
        for (const name of options.cgroups ?? []) {
          await killCgroupParent(name)
          removeCgroupParent(name)
        }
      }
    },
  }
  await launch()
  return daemon
}

/** Where shims put their sockets: ours, and containerd's runc shim. */
const SHIM_SOCKETS = ['/run/minidocker-shim', '/run/containerd/s']

/**
 * The shim sockets there are now; the function returned removes those made since that no
 * process holds any more (a killed shim leaves its socket behind). A socket is judged twice,
 * 100 ms apart: bind(2) makes the file before /proc/net/unix names it, and another run's shim
 * on this machine may be in between.
 */
export function shimSockets(): () => void {
  const list = () => SHIM_SOCKETS.flatMap((dir) => (existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []))
  const before = new Set(list())
  const unbound = () => {
    const bound = readFileSync('/proc/net/unix', 'utf8')
    return list().filter((path) => !before.has(path) && !bound.includes(path))
  }
  return () => {
    const first = unbound()
    if (first.length === 0) return
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    const still = new Set(unbound())
    for (const path of first) if (still.has(path)) rmSync(path, { force: true, recursive: true })
  }
}

/**
 * containerd with its config, root, state and sockets (gRPC `dir/c.sock`, ttrpc beside it) in
 * `dir`; the CRI plugin off. With `prefix`, containerd is the last word of that command, which
 * must exec it (a private mount namespace, for instance), as startDockerd's.
 */
export function startContainerd(dir: string, options: DaemonOptions & { prefix?: string[] } = {}): Promise<Daemon> {
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, 'c.sock') // short: a unix socket path has room for 107 bytes, the shims' longer ones too
  const config = join(dir, 'config.toml')
  const unused = ['io.containerd.grpc.v1.cri', 'io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.aufs', 'io.containerd.snapshotter.v1.devmapper']
  writeFileSync(config, [
    'version = 2', `root = "${join(dir, 'root')}"`, `state = "${join(dir, 'state')}"`,
    `disabled_plugins = ${JSON.stringify(unused)}`,
    '[grpc]', `  address = "${socket}"`,
    '[ttrpc]', `  address = "${socket}.ttrpc"`,
    '[debug]', '  level = "info"',
  ].join('\n') + '\n')
  const [command, ...before] = [...(options.prefix ?? []), '/usr/bin/containerd']
  return startDaemon('containerd', command!, [...before, '--config', config], dir, socket, options)
}

/**
 * dockerd with its data and exec roots and its socket (`dir/docker.sock`) in `dir`, without
 * bridge or iptables; `args` added. Its containers' cgroups go under a parent of its own, which
 * goes when it stops: a parent shared with a dockerd of another test file would lose, to that
 * one's cleanup, a container's cgroup made a moment before its process joins it. With `prefix`,
 * dockerd is the last word of that command, which must exec it (so the PID stays dockerd's): a
 * private mount namespace, for instance.
 */
export function startDockerd(dir: string, args: string[], options: DaemonOptions & { prefix?: string[] } = {}): Promise<Daemon> {
  // dockerd starts its containerd on sockets in its exec root, which containerd refuses past 104
  // bytes (its "unix socket path too long (> 104)"), and then only says it cannot connect
  const deepest = join(dir, 'exec', 'containerd', 'containerd.sock.ttrpc')
  if (Buffer.byteLength(deepest) > 104) throw new Error(`dockerd in ${dir}: its containerd's socket ${deepest} would be ${Buffer.byteLength(deepest)} bytes, past the 104 containerd takes; start it from a shorter TMPDIR`)
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, 'docker.sock')
  const parent = testName('dockerd')
  const [command, ...before] = [...(options.prefix ?? []), '/usr/sbin/dockerd']
  const sockets = shimSockets()
  return startDaemon('dockerd', command!, [...before,
    '--host', `unix://${socket}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
    '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
    // a path as the parent: dockerd 26 on a systemd host defaults to the systemd driver, which wants a slice
    '--exec-opt', 'native.cgroupdriver=cgroupfs', '--cgroup-parent', `/${parent}`, ...args,
  ], dir, socket, {
    grace: 20_000,
    // a dockerd that had to be killed leaves its mounts (data root, overlays, netns files), and
    // its shims' sockets
    afterStop: async () => {
      for (const m of mountsBelow(dir).reverse()) spawnSync('umount', ['-l', m])
      sockets()
    },
    ...options,
    cgroups: [...(options.cgroups ?? []), parent],
  })
}
