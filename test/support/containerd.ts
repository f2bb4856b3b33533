/**
 * The real containerd 1.6 for a test file (started as daemons.ts starts it): from a temp
 * directory on its own sockets, with a directory holding `containerd-shim-minidocker-v2` first
 * on its PATH, and stopped by PID afterwards with everything it left (tasks, shims, runtime
 * state, mounts) cleaned up.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { PROBE_PATH } from '../../native/helper.ts'
import { shimSockets, startContainerd as startRealContainerd } from './daemons.ts'
import { inTerminal } from './runtime.ts'

export const CTR = '/usr/bin/ctr'
const ROOT = join(import.meta.dirname, '..', '..')
export const SHIM_ENTRY = join(ROOT, 'bin', 'containerd-shim-minidocker-v2.cjs')
export const MINIRUNC = join(ROOT, 'bin', 'minirunc.cjs')
/**
 * The OCI runtime the shims start in the tests: runc, or what MINIDOCKER_TEST_RUNTIME names
 * (`minirunc` for chapter 09's). The tests hand it to the shim as MINIDOCKER_SHIM_RUNTIME;
 * without that the shim starts minirunc. A path, not a name: the shims a test starts without
 * containerd, and the cleanup after them, do not have shimDir on their PATH.
 */
export const TEST_RUNTIME = process.env.MINIDOCKER_TEST_RUNTIME === 'minirunc' ? MINIRUNC : (process.env.MINIDOCKER_TEST_RUNTIME ?? '/usr/sbin/runc')

export interface Containerd {
  dir: string
  /** the gRPC socket (`ctr --address`) */
  address: string
  namespace: string
  pid: number
  /** run ctr against it; never throws, gives the exit code and output; `tty`: on a terminal of that size (rows, columns) */
  ctr(args: string[], options?: { input?: string; timeout?: number; tty?: [number, number] }): Promise<{ exitCode: number; stdout: string; stderr: string }>
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
    for (const tool of ['sh', 'echo', 'sleep', 'cat', 'true', 'false', 'ls', 'stty']) symlinkSync('busybox', join(rootfs, 'bin', tool))
  }
  return rootfs
}

/** Start containerd from a fresh temp directory; `stop()` must run after the file's tests. */
export async function startContainerd(options: { env?: Record<string, string>; namespace?: string; runtime?: string } = {}): Promise<Containerd> {
  const runtime = options.runtime ?? TEST_RUNTIME
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-ctd-'))
  const env = {
    ...process.env,
    PATH: `${shimDir(dir)}:${dirname(process.execPath)}:${process.env.PATH}`,
    MINIDOCKER_SHIM_RUNTIME: runtime,
    ...options.env,
  }
  const sockets = shimSockets()
  const namespace = options.namespace ?? `minidocker-test-${process.pid}`
  const ctr: Containerd['ctr'] = async (args, { input, timeout = 60_000, tty } = {}) => {
    const all = ['--address', daemon.socket, '--namespace', namespace, ...args]
    if (tty) {
      const t = await inTerminal('sh', ['-c', `stty rows ${tty[0]} cols ${tty[1]} && exec "$@"`, 'sh', CTR, ...all], env)
      return { exitCode: t.code, stdout: t.stdout, stderr: t.stderr }
    }
    const r = await execa(CTR, all, { reject: false, input, timeout, killSignal: 'SIGKILL', env }) // ctr ignores SIGTERM
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
  }
  const daemon = await startRealContainerd(dir, {
    env,
    // every task left, through containerd, so the shims and runtimes clean up
    async beforeStop() {
      const tasks = await ctr(['task', 'ls', '-q'], { timeout: 10_000 })
      for (const id of tasks.stdout.split('\n').filter(Boolean)) await ctr(['task', 'rm', '-f', id], { timeout: 10_000 })
      const containers = await ctr(['containers', 'ls', '-q'], { timeout: 10_000 })
      for (const id of containers.stdout.split('\n').filter(Boolean)) await ctr(['containers', 'rm', id], { timeout: 10_000 })
    },
    afterStop: () => leftovers(dir, namespace, sockets, runtime),
    cgroups: [namespace], // ctr puts a container in /NAMESPACE/ID
  })
  return { dir, address: daemon.socket, namespace, get pid() { return daemon.pid }, ctr, crash: daemon.crash, restart: daemon.restart, stop: daemon.stop }
}

/**
 * What a broken shim under test can leave once it and containerd are gone: containers the
 * runtime still has in this namespace (deleted with --force, which kills them), sockets the
 * shims made, the runtime's state directory.
 */
async function leftovers(dir: string, namespace: string, socketsBefore: () => void, runtime: string): Promise<void> {
  const root = join('/run/containerd/runc', namespace)
  const list = await execa(runtime, ['--root', root, 'list', '-q'], { reject: false })
  for (const id of String(list.stdout).split('\n').filter(Boolean)) await execa(runtime, ['--root', root, 'delete', '--force', id], { reject: false })
  await new Promise((resolve) => setTimeout(resolve, 200)) // the killed shims' sockets are released
  socketsBefore()
  rmSync(root, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
}
