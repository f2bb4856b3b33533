/**
 * Our containerd, with the real ctr on the other side: a daemon's gRPC calls create a
 * container and its task, ctr lists them, our containerd is killed and restarted and finds the
 * task again, ctr kills and removes it. Once with our shim, once with containerd's own
 * containerd-shim-runc-v2.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import { grpcDefinition } from '../../lib/containerd-proto.ts'
import { CTR, probeRootfs, shimDir, TEST_RUNTIME } from '../support/containerd.ts'
import { onCleanup } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { removeCgroupParent, shimSockets } from '../support/daemons.ts'
import { ctrOk, taskRow, waitUntil } from './support.ts'

const ENTRY = join(import.meta.dirname, '..', '..', 'bin', 'minicontainerd.cjs')

/** Start minicontainerd from a temp directory; stopped, and what it left removed, after the test. */
async function minicontainerd(namespace: string) {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-mctd-'))
  const address = join(dir, 'm.sock')
  const env = { ...process.env, PATH: `${shimDir(dir)}:${dirname(process.execPath)}:${process.env.PATH}`, MINIDOCKER_SHIM_RUNTIME: TEST_RUNTIME }
  const sockets = shimSockets()
  let proc!: ChildProcess
  let stderr = ''
  const launch = async () => {
    stderr = ''
    proc = spawn(process.execPath, [ENTRY, '--root', join(dir, 'root'), '--address', address], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr!.on('data', (b: Buffer) => (stderr += b))
    await waitUntil(() => stderr.includes('serving on') || proc.exitCode !== null, 60_000, `minicontainerd did not start: ${stderr}`)
    const missing = /(\w+)\(\) is not written yet/.exec(stderr)
    if (missing) ctrOk({ exitCode: 1, stdout: '', stderr }, 'minicontainerd')
    if (proc.exitCode !== null) throw new Error(`minicontainerd exited: ${stderr.trim()}`)
  }
  const crash = async () => {
    proc.kill('SIGKILL')
    await new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve(null) : proc.once('exit', resolve)))
  }
  onCleanup(async () => {
    await crash()
    for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`)) process.kill(Number(entry), 'SIGKILL')
      } catch {}
    }
    const root = join('/run/containerd/runc', namespace)
    const list = await execa(TEST_RUNTIME, ['--root', root, 'list', '-q'], { reject: false })
    for (const id of String(list.stdout).split('\n').filter(Boolean)) await execa(TEST_RUNTIME, ['--root', root, 'delete', '--force', id], { reject: false })
    rmSync(root, { recursive: true, force: true })
    rmSync(dir, { recursive: true, force: true })
    removeCgroupParent(namespace) // ctr run puts its container in /NAMESPACE/ID
    await new Promise((resolve) => setTimeout(resolve, 200)) // the killed shims' sockets are released
    sockets()
  })
  await launch()
  const ctr = async (args: string[]) => {
    const r = await execa(CTR, ['--address', address, '--namespace', namespace, ...args], { reject: false, timeout: 30_000, env })
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
  }
  const services = (grpc.loadPackageDefinition(grpcDefinition()) as any).containerd.services
  const call = (service: string, method: string, request: object): Promise<any> => {
    const [group, version, name] = service.split('.') as [string, string, string]
    const client = new services[group][version][name](`unix://${address}`, grpc.credentials.createInsecure())
    const metadata = new grpc.Metadata()
    metadata.set('containerd-namespace', namespace)
    return new Promise((resolve, reject) =>
      client[method](request, metadata, (error: Error | null, response: unknown) => {
        client.close()
        if (!error) return resolve(response)
        try {
          ctrOk({ exitCode: 1, stdout: '', stderr: error.message }, `${service}/${method}`) // a function not written yet is what it is
        } catch (notWritten) {
          return reject(notWritten)
        }
        reject(error)
      }),
    )
  }
  /** `ctr events` from now until stop(): the topics it printed, in order (its third column is the topic) */
  const events = async () => {
    const watcher = spawn(CTR, ['--address', address, 'events'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    watcher.stdout!.on('data', (b: Buffer) => (out += b))
    onCleanup(() => void watcher.kill('SIGKILL'))
    // subscribed once it has dialed (a socket among its fds) and sent Subscribe a moment later
    const dialed = () => readdirSync(`/proc/${watcher.pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${watcher.pid}/fd/${fd}`).startsWith('socket:') } catch { return false } })
    await waitUntil(() => watcher.exitCode !== null || dialed(), 10_000, 'ctr events did not connect to our containerd')
    await new Promise((resolve) => setTimeout(resolve, 200))
    return {
      async stop(): Promise<string[]> {
        await new Promise((resolve) => setTimeout(resolve, 500)) // the last event's line
        watcher.kill('SIGKILL')
        return out.split('\n').map((line) => line.split(' ').find((word) => word.startsWith('/')) ?? '').filter(Boolean)
      },
    }
  }
  return { dir, address, ctr, call, crash, restart: launch, events }
}

/** A container spec (runc spec's, JSON as containerd stores it) running `args` in `rootfs`. */
function spec(dir: string, args: string[]): { type_url: string; value: Buffer } {
  const b = mkdtempSync(join(dir, 'spec-'))
  execFileSync('/usr/sbin/runc', ['spec', '--bundle', b])
  const s = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'))
  s.root = { path: probeRootfs(b), readonly: false }
  s.process.terminal = false
  s.process.args = args
  writeFileSync(join(b, 'config.json'), JSON.stringify(s))
  return { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from(JSON.stringify(s)) }
}

describeKernel('our containerd, with the real ctr', () => {
  for (const runtime of ['io.containerd.minidocker.v2', 'io.containerd.runc.v2']) {
    it(`a container and its task through ${runtime}: ctr, a crash and restart, ctr events, ctr run --rootfs`, async () => {
      const namespace = `minidocker-mctd-${process.pid}-${runtime.length}`
      const m = await minicontainerd(namespace)
      const id = 'held'
      const events = await m.events()
      const version = ctrOk(await m.ctr(['version']), 'ctr version')
      expect(version.exitCode, `ctr version failed: ${version.stderr}`).toBe(0)
      expect(version.stdout, `expected ctr version to show our containerd's version but saw ${version.stdout} ${version.stderr}`).toMatch(/Server:[\s\S]*minicontainerd/)
      await m.call('containers.v1.Containers', 'Create', { container: { id, runtime: { name: runtime }, spec: spec(m.dir, ['/probe', 'sleep:600000']) } })
      const created = await m.call('tasks.v1.Tasks', 'Create', { container_id: id })
      expect(created.pid, 'expected Tasks/Create to answer the PID the shim gave').toBeGreaterThan(0)
      await m.call('tasks.v1.Tasks', 'Start', { container_id: id })
      const containers = ctrOk(await m.ctr(['containers', 'ls']), 'ctr containers ls')
      expect(containers.stdout, 'expected ctr containers ls to show the container and its runtime').toMatch(new RegExp(`${id}\\s.*${runtime.replaceAll('.', '\\.')}`))
      expect(taskRow(await m.ctr(['tasks', 'ls']), id), 'expected ctr tasks ls to show the task RUNNING with its PID').toEqual({ pid: created.pid, status: 'RUNNING' })
      const before = (await events.stop()).filter((t) => t.startsWith('/tasks/'))
      expect(before, 'expected ctr events to show /tasks/create then /tasks/start — does Events/Subscribe stream every envelope the shims forward?').toEqual(['/tasks/create', '/tasks/start'])
      await m.crash()
      await m.restart()
      const after = await m.events() // a crash ends ctr events' stream: a new one
      expect(taskRow(await m.ctr(['tasks', 'ls']), id)?.status, 'expected the task RUNNING after our containerd was killed and restarted — what does it know of the shims after a restart, and from where (the text\'s "Our containerd"; shim_load.go, loadShims)?').toBe('RUNNING')
      const wait = m.call('tasks.v1.Tasks', 'Wait', { container_id: id })
      ctrOk(await m.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]), 'ctr tasks kill')
      expect((await wait).exit_status, 'expected Tasks/Wait to answer 137 after SIGKILL').toBe(137)
      const removed = ctrOk(await m.ctr(['tasks', 'rm', id]), 'ctr tasks rm')
      expect(removed.exitCode, `ctr tasks rm failed: ${removed.stderr}`).toBe(0)
      expect(taskRow(await m.ctr(['tasks', 'ls']), id), 'expected the task gone after ctr tasks rm').toBeUndefined()
      ctrOk(await m.ctr(['containers', 'rm', id]), 'ctr containers rm')
      const topics = (await after.stop()).filter((t) => t.startsWith('/tasks/'))
      expect(topics, 'expected ctr events, after the restart, to show /tasks/exit then /tasks/delete — do the shims\' events reach the restarted containerd\'s subscribers?').toEqual(['/tasks/exit', '/tasks/delete'])
      expect(existsSync(join(m.dir, 'root', 'tasks', namespace, id)) && readdirSync(join(m.dir, 'root', 'tasks', namespace, id)), 'expected the bundle removed with the task').toBe(false)
      // ctr's own run, from a root filesystem directory: leases, container, task, stdio FIFOs, wait, delete
      const direct = ctrOk(await m.ctr(['run', '--rm', '--runtime', runtime, '--env', 'PATH=/bin', '--rootfs', probeRootfs(mkdtempSync(join(m.dir, 'direct-'))), 'direct', 'sh', '-c', 'echo hi; exit 2']), 'ctr run --rm --rootfs')
      expect({ out: direct.stdout, code: direct.exitCode }, `expected ctr run --rm --rootfs through our containerd to print hi and exit 2 (${direct.stderr.trim()}) — does Tasks/Create pass the stdio FIFOs to the shim?`).toEqual({ out: 'hi', code: 2 })
    }, 300_000) // two starts of minicontainerd and a dozen ctr runs: minutes on a loaded machine
  }
})
