/** What the chapter's tests share: reading ctr's output, the process tree, waiting. */
import { execFileSync } from 'node:child_process'
import { createServer, type Socket } from 'node:net'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll } from 'vitest'
import { serveConnection, type Service } from '#ch/10-shim/ttrpc.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { probeRootfs, startContainerd, type Containerd } from '../support/containerd.ts'
import { shimSockets } from '../support/daemons.ts'
import { onCleanup, tempDir } from '../support/files.ts'

/**
 * Stands in for containerd's reader of a bundle's `log` FIFO, which a shim writes its log to:
 * the FIFO is made, and a child reads and discards what comes until its writers are gone. The
 * child is ended by PID after the test if it still runs (a shim that never opened the FIFO).
 */
export function logReader(bundle: string): void {
  const log = join(bundle, 'log')
  execFileSync('mkfifo', [log])
  const reader = execa('cat', [log], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', reject: false })
  onCleanup(() => {
    reader.kill('SIGKILL') // by its PID; nothing if it has ended
    return reader.then(() => {})
  })
}

/**
 * A ttrpc server made of serveConnection on a new unix socket, closed after the test. `thrown()`
 * is what serveConnection threw, if it did: a test reports that rather than a closed connection.
 */
export async function serveTtrpc(services: Service[]): Promise<{ path: string; thrown(): unknown }> {
  const path = join(tempDir(), 's.sock')
  const sockets: Socket[] = []
  let thrown: unknown
  const server = createServer((socket) => {
    sockets.push(socket)
    try {
      serveConnection(socket, services)
    } catch (error) {
      thrown = error
      socket.destroy()
    }
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  onCleanup(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return { path, thrown: () => thrown }
}

/**
 * containerd's own shim, containerd-shim-runc-v2, started with no task: a real ttrpc server
 * to hold answers against. Its address (unix://...); the shim is ended after the test.
 */
export async function runcShim(): Promise<string> {
  const bundle = tempDir('minidocker-runc-shim-')
  execFileSync('/usr/sbin/runc', ['spec', '--bundle', bundle]) // the shim reads the bundle's config.json
  logReader(bundle)
  const namespace = `minidocker-ttrpc-${process.pid}`
  const sockets = shimSockets()
  onCleanup(async () => {
    // the shim, by the PIDs whose command line names this namespace
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(namespace)) process.kill(Number(entry), 'SIGKILL')
      } catch {}
    }
    await new Promise((resolve) => setTimeout(resolve, 100)) // its socket is released
    sockets()
  })
  const none = join(bundle, 'none.sock') // no containerd: a shim with no task publishes nothing
  const started = await execa('/usr/bin/containerd-shim-runc-v2', ['-namespace', namespace, '-address', none, '-publish-binary', '/usr/bin/containerd', '-id', 'ttrpc', 'start'], {
    cwd: bundle, env: { ...process.env, TTRPC_ADDRESS: none }, input: '', timeout: 20_000, reject: false,
  })
  if (started.exitCode !== 0 || !String(started.stdout).startsWith('unix://')) throw new Error(`containerd-shim-runc-v2 start failed: ${started.stderr}`)
  return String(started.stdout).trim()
}

export interface CtrResult {
  exitCode: number
  stdout: string
  stderr: string
}

/**
 * ctr's result, unless the shim reported a function not written yet: that becomes the
 * NotImplementedError it is, so a starter fails with it and not with ctr's wording.
 */
export function ctrOk(r: CtrResult, what: string, hang = 'does Wait answer once the reaper reports the exit?'): CtrResult {
  const missing = /(\w+)\(\) is not written yet/.exec(r.stderr + r.stdout)
  if (missing) throw new NotImplementedError('10-shim', missing[1]!)
  if (r.exitCode === -1) throw new Error(`${what}: ctr did not finish in time — ${hang}`)
  return r
}

/** A task's row in `ctr task ls` (TASK PID STATUS), or undefined. */
export function taskRow(r: CtrResult, id: string): { pid: number; status: string } | undefined {
  ctrOk(r, 'ctr task ls')
  for (const line of r.stdout.split('\n')) {
    const [task, pid, status] = line.trim().split(/\s+/)
    if (task === id) return { pid: Number(pid), status: status! }
  }
  return undefined
}

/** The parent PID of `pid`, from /proc/PID/stat. */
export function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** True when `pid` no longer exists (or is a zombie nobody reaped). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

/**
 * The processes (other than this one) for which `match` holds, given the PID and where its open
 * fds lead (/proc/PID/fd); processes that end meanwhile or cannot be read are left out.
 */
export function holdersOf(match: (pid: number, links: string[]) => boolean): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const links = readdirSync(`/proc/${entry}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${entry}/fd/${fd}`)
        } catch {
          return ''
        }
      })
      if (match(Number(entry), links)) pids.push(Number(entry))
    } catch {} // gone meanwhile
  }
  return pids
}

/** Poll `check` until it holds; fail with `message` after `ms`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, ms: number, message: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(message)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Our shim's runtime name, as ctr's --runtime takes it. */
export const SHIM = 'io.containerd.minidocker.v2'

/**
 * One real containerd for the test file, started before its tests and stopped after them, with
 * the probe's rootfs beside it; `ready` gets both once they exist.
 */
export function containerdForFile(ready: (ctd: Containerd, rootfs: string) => void, options?: Parameters<typeof startContainerd>[0]): void {
  let ctd: Containerd | undefined
  beforeAll(async () => {
    ctd = await startContainerd(options)
    ready(ctd, probeRootfs(ctd.dir))
  }, 60_000)
  afterAll(async () => {
    await ctd?.stop()
  }, 60_000)
}

/** `ctr run FLAGS ... ID CMD` through our shim, on `rootfs`, with a PATH for busybox. */
export const ctrRun = (ctd: Containerd, rootfs: string, flags: string[], id: string, cmd: string[], options?: Parameters<Containerd['ctr']>[1]) =>
  ctd.ctr(['run', ...flags, '--runtime', SHIM, '--env', 'PATH=/bin', '--rootfs', rootfs, id, ...cmd], options)
