/** What the chapter's tests share: reading ctr's output, the process tree, waiting. */
import { execFileSync } from 'node:child_process'
import { createServer, type Socket } from 'node:net'
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll } from 'vitest'
import { serveConnection, type Service } from '#ch/10-shim/ttrpc.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { RpcError, serviceMethods } from '../../lib/containerd-proto.ts'
import { dialTtrpc } from '../../lib/ttrpc-client.ts'
import { caught } from '../support/errors.ts'
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
 * to hold answers against. Its address (unix://...); the shim is ended after the test, and the
 * container of a task it was given (id `ttrpc`, its bundle `bundle`) deleted.
 */
export async function runcShim(bundle = tempDir('minidocker-runc-shim-')): Promise<string> {
  if (!existsSync(join(bundle, 'config.json'))) execFileSync('/usr/sbin/runc', ['spec', '--bundle', bundle]) // the shim reads the bundle's config.json
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
    const root = join('/run/containerd/runc', namespace)
    await execa('/usr/sbin/runc', ['--root', root, 'delete', '--force', 'ttrpc'], { reject: false })
    rmSync(root, { recursive: true, force: true })
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

/** What containerd-shim-runc-v2 answered each call of runcAnswers' story: its error, or undefined for success. */
export type RuncAnswers = Record<'killNotCreated' | 'execNoSuchFile' | 'execNotOnPath' | 'killExecNeverStarted' | 'killExited' | 'stateDeleted', RpcError | undefined> & {
  /** the answer to a Wait sent, as ctr task exec sends it, before the Start of the exec that failed with execNoSuchFile */
  execNoSuchFileWait: unknown
}

let measured: Promise<RuncAnswers> | undefined

/**
 * The measure for the Task service's answers: containerd-shim-runc-v2 driven, through your
 * ttrpc client, through a container's life with the faults the tests make, once per test file.
 */
export function runcAnswers(): Promise<RuncAnswers> {
  measured ??= (async () => {
    const dir = tempDir('minidocker-runc-answers-')
    const bundle = join(dir, 'bundle')
    mkdirSync(bundle)
    execFileSync('/usr/sbin/runc', ['spec', '--bundle', bundle])
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    config.root = { path: probeRootfs(dir), readonly: false }
    config.process = { ...config.process, terminal: false, args: ['/probe', 'sleep:600000'] }
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
    const client = await dialTtrpc(await runcShim(bundle))
    onCleanup(() => client.close())
    const TASK = 'containerd.task.v2.Task'
    const types = serviceMethods(TASK)
    const call = (method: string, request: object) => caught(() => client.call(TASK, method, types[method]!.request, { id: 'ttrpc', ...request }, types[method]!.response))
    const spec = (args: string[]) => ({ type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } })) })
    const exec = async (execId: string, args: string[]) => (await call('Exec', { exec_id: execId, spec: spec(args) })) ?? call('Start', { exec_id: execId })
    const killNotCreated = await call('Kill', { signal: 9 })
    for (const method of ['Create', 'Start']) {
      const failed = await call(method, { bundle })
      if (failed) throw new Error(`containerd-shim-runc-v2, the measure, failed its ${method}: ${failed.message}`)
    }
    await call('Exec', { exec_id: 'e1', spec: spec(['/nosuch']) })
    const waited = client.call(TASK, 'Wait', types.Wait!.request, { id: 'ttrpc', exec_id: 'e1' }, types.Wait!.response).catch((error) => error)
    const answers = {
      killNotCreated,
      execNoSuchFile: await call('Start', { exec_id: 'e1' }),
      execNoSuchFileWait: await waited,
      execNotOnPath: await exec('e2', ['nosuchcommand']),
      killExecNeverStarted: (await call('Exec', { exec_id: 'e3', spec: spec(['/probe']) })) ?? (await call('Kill', { exec_id: 'e3', signal: 9 })),
    }
    await call('Kill', { signal: 9 })
    await call('Wait', {})
    const killExited = await call('Kill', { signal: 9 })
    await call('Delete', {})
    return { ...answers, killExited, stateDeleted: await call('State', {}) }
  })()
  return measured
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
