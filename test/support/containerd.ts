/**
 * The real containerd 1.6 for a test file: started from a temp directory on its own sockets,
 * with a directory holding `containerd-shim-minidocker-v2` first on its PATH, and stopped by
 * PID afterwards with everything it left (tasks, shims, runtime state, mounts) cleaned up.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { PROBE_PATH } from '../../native/helper.ts'

export const CONTAINERD = '/usr/bin/containerd'
export const CTR = '/usr/bin/ctr'
const ROOT = join(import.meta.dirname, '..', '..')
export const SHIM_ENTRY = join(ROOT, 'bin', 'containerd-shim-minidocker-v2.cjs')
const MINIRUNC = join(ROOT, 'bin', 'minirunc.cjs')
/**
 * The OCI runtime the shims start in the tests: runc, or what MINIDOCKER_TEST_RUNTIME names
 * (`minirunc` for chapter 09's, which shimDir puts on containerd's PATH). The tests hand it to
 * the shim as MINIDOCKER_SHIM_RUNTIME; without that the shim starts minirunc.
 */
export const TEST_RUNTIME = process.env.MINIDOCKER_TEST_RUNTIME ?? '/usr/sbin/runc'

export interface Containerd {
  dir: string
  /** the gRPC socket (`ctr --address`) */
  address: string
  namespace: string
  pid: number
  /** run ctr against it; never throws, gives the exit code and output */
  ctr(args: string[], options?: { input?: string; timeout?: number }): Promise<{ exitCode: number; stdout: string; stderr: string }>
  /** kill -9 containerd, as a crash would */
  crash(): Promise<void>
  /** start it again on the same directories */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** A directory holding the shim under the name containerd looks for. */
export function shimDir(dir: string): string {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  symlinkSync(SHIM_ENTRY, join(bin, 'containerd-shim-minidocker-v2'))
  if (existsSync(MINIRUNC)) symlinkSync(MINIRUNC, join(bin, 'minirunc'))
  return bin
}

/** A rootfs with the probe as /probe and busybox's sh (when installed) as /bin/sh and friends. */
export function probeRootfs(dir: string): string {
  const rootfs = join(dir, 'rootfs')
  mkdirSync(join(rootfs, 'bin'), { recursive: true })
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true })
  cpSync(PROBE_PATH, join(rootfs, 'probe'))
  if (existsSync('/bin/busybox')) {
    cpSync('/bin/busybox', join(rootfs, 'bin', 'busybox'))
    for (const tool of ['sh', 'echo', 'sleep', 'cat', 'true', 'false', 'ls']) symlinkSync('busybox', join(rootfs, 'bin', tool))
  }
  return rootfs
}

async function waitForSocket(path: string, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(path)) return
    if (proc.exitCode !== null) throw new Error(`containerd exited with ${proc.exitCode} before it listened: ${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`containerd did not listen on ${path} within 15 s: ${log()}`)
}

/** Start containerd from a fresh temp directory; `stop()` must run after the file's tests. */
export async function startContainerd(options: { env?: Record<string, string>; namespace?: string } = {}): Promise<Containerd> {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-ctd-'))
  const address = join(dir, 'c.sock')
  const config = join(dir, 'config.toml')
  writeFileSync(config, [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]',
    `  address = "${address}"`,
    '[debug]',
    '  level = "info"',
  ].join('\n') + '\n')
  const env = {
    ...process.env,
    PATH: `${shimDir(dir)}:${dirname(process.execPath)}:${process.env.PATH}`,
    MINIDOCKER_SHIM_RUNTIME: TEST_RUNTIME,
    ...options.env,
  }
  const sockets = shimSockets()
  let output = ''
  let proc!: ChildProcess
  const launch = async () => {
    rmSync(address, { force: true })
    proc = spawn(CONTAINERD, ['--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    proc.stdout!.on('data', (b: Buffer) => (output += b))
    proc.stderr!.on('data', (b: Buffer) => (output = (output + b).slice(-20000)))
    await waitForSocket(address, proc, () => output.slice(-2000))
  }
  await launch()
  const namespace = options.namespace ?? `minidocker-test-${process.pid}`
  const exited = () => new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())))
  const ctd: Containerd = {
    dir,
    address,
    namespace,
    get pid() {
      return proc.pid!
    },
    async ctr(args, { input, timeout = 60_000 } = {}) {
      const r = await execa(CTR, ['--address', address, '--namespace', namespace, ...args], { reject: false, input, timeout, killSignal: 'SIGKILL', env }) // ctr ignores SIGTERM
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
    },
    async crash() {
      proc.kill('SIGKILL')
      await exited()
    },
    async restart() {
      await launch()
    },
    async stop() {
      try {
        // every task left, through containerd, so the shims and runtimes clean up
        const tasks = await ctd.ctr(['task', 'ls', '-q'], { timeout: 10_000 })
        for (const id of tasks.stdout.split('\n').filter(Boolean)) await ctd.ctr(['task', 'rm', '-f', id], { timeout: 10_000 })
        const containers = await ctd.ctr(['containers', 'ls', '-q'], { timeout: 10_000 })
        for (const id of containers.stdout.split('\n').filter(Boolean)) await ctd.ctr(['containers', 'rm', id], { timeout: 10_000 })
      } finally {
        proc.kill('SIGTERM')
        await Promise.race([exited(), new Promise((resolve) => setTimeout(resolve, 5000))])
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGKILL')
          await exited()
        }
        await leftovers(dir, namespace, sockets)
      }
    },
  }
  return ctd
}

/** Where shims put their sockets: ours, and containerd's runc shim. */
const SHIM_SOCKETS = ['/run/minidocker-shim', '/run/containerd/s']

/**
 * The shim sockets there are now; the function returned removes those made since that no
 * process holds any more (a killed shim leaves its socket behind).
 */
export function shimSockets(): () => void {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : [])
  const before = new Set(SHIM_SOCKETS.flatMap((dir) => list(dir).map((f) => join(dir, f))))
  return () => {
    const bound = readFileSync('/proc/net/unix', 'utf8')
    for (const path of SHIM_SOCKETS.flatMap((dir) => list(dir).map((f) => join(dir, f))))
      if (!before.has(path) && !bound.includes(path)) rmSync(path, { force: true })
  }
}

/**
 * What a broken shim under test can leave: containers the runtime still has in this
 * namespace (deleted with --force, which kills them), shims started for this containerd (their
 * command line names its directory), sockets they made, the runtime's state directory.
 */
async function leftovers(dir: string, namespace: string, socketsBefore: () => void): Promise<void> {
  const root = join('/run/containerd/runc', namespace)
  const list = await execa(TEST_RUNTIME, ['--root', root, 'list', '-q'], { reject: false })
  for (const id of String(list.stdout).split('\n').filter(Boolean)) await execa(TEST_RUNTIME, ['--root', root, 'delete', '--force', id], { reject: false })
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
    } catch {}
    if (cmdline.includes(`${dir}/`) && Number(entry) !== process.pid) {
      try {
        process.kill(Number(entry), 'SIGKILL')
      } catch {}
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200)) // the killed shims' sockets are released
  socketsBefore()
  rmSync(root, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
}
