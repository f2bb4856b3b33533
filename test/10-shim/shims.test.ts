/**
 * The other direction: your ttrpc client (and an events server made with your serveConnection)
 * in containerd's place, driving containerd's own containerd-shim-runc-v2 and your shim the
 * same way, as a containerd of your own will.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import { serveConnection, type Service } from '#ch/10-shim/ttrpc.ts'
import { dialTtrpc } from '../../lib/ttrpc-client.ts'
import { RpcError } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { probeRootfs, SHIM_ENTRY, TEST_RUNTIME } from '../support/containerd.ts'
import { shimSockets } from '../support/daemons.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { ctrOk, logReader } from './support.ts'

const TASK = 'containerd.task.v2.Task'
const SHIMS = [
  ['containerd-shim-runc-v2', '/usr/bin/containerd-shim-runc-v2'],
  ['containerd-shim-minidocker-v2', SHIM_ENTRY],
] as const

/** A bundle whose process is the probe exiting with `code`, from `runc spec`. */
function bundle(code: number): string {
  const dir = tempDir('minidocker-shims-')
  const b = join(dir, 'bundle')
  mkdirSync(b)
  const rootfs = probeRootfs(dir)
  execFileSync('/usr/sbin/runc', ['spec', '--bundle', b]) // a config.json to start from, whatever runtime runs it
  const config = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'))
  config.root = { path: rootfs, readonly: false }
  config.process.terminal = false
  config.process.args = ['/probe', `exit:${code}`]
  writeFileSync(join(b, 'config.json'), JSON.stringify(config))
  logReader(b) // containerd makes a FIFO `log` in the bundle and reads the shim's log from it
  return b
}

/** containerd's side of events: a ttrpc server with Events/Forward that records the topics. */
async function eventsServer(): Promise<{ path: string; topics: string[] }> {
  const path = join(tempDir(), 'events.sock')
  const topics: string[] = []
  const sockets: Socket[] = []
  const service: Service = {
    name: 'containerd.services.events.ttrpc.v1.Events',
    methods: {
      Forward: {
        request: 'containerd.services.events.ttrpc.v1.ForwardRequest',
        response: 'google.protobuf.Empty',
        handle: async (r) => (topics.push(r.envelope.topic), {}),
      },
    },
  }
  const server = createServer((socket) => {
    sockets.push(socket)
    try {
      serveConnection(socket, [service])
    } catch {
      socket.destroy() // an unwritten serveConnection: the test fails at its own first call
    }
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  onCleanup(() => {
    for (const s of sockets) s.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return { path, topics }
}

/** Kill what is left of the shims of this namespace (after a failure, no Shutdown came). */
function killShims(namespace: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(namespace)) process.kill(Number(entry), 'SIGKILL')
    } catch {}
  }
}

describeKernel('your ttrpc client driving a shim, as containerd does', () => {
  /** What containerd-shim-runc-v2 answered a Kill of its exited task (null until asked): the measure for yours. */
  let runcKill: RpcError | undefined | null = null
  /** The topics containerd-shim-runc-v2 published, in order (null until it ran): the measure for yours. */
  let runcTopics: string[] | null = null
  for (const [name, binary] of SHIMS) {
    it(`runs a task through ${name}: create, start, wait, delete, shutdown, delete`, async () => {
      const b = bundle(7)
      const id = `shims-${process.pid}-${name.length}`
      const namespace = `minidocker-shims-${process.pid}`
      const sockets = shimSockets()
      const events = await eventsServer()
      const address = join(tempDir(), 'none.sock')
      const flags = ['-namespace', namespace, '-address', address, '-publish-binary', '/usr/bin/containerd', '-id', id]
      const env = { ...process.env, TTRPC_ADDRESS: events.path, MINIDOCKER_SHIM_RUNTIME: TEST_RUNTIME }
      onCleanup(async () => {
        killShims(namespace)
        await execa(binary, [...flags, '-bundle', b, 'delete'], { cwd: b, env, reject: false, timeout: 20_000 })
        await execa(TEST_RUNTIME, ['--root', join('/run/containerd/runc', namespace), 'delete', '--force', id], { reject: false })
        rmSync(join('/run/containerd/runc', namespace), { recursive: true, force: true })
        await new Promise((resolve) => setTimeout(resolve, 200)) // the killed shims' sockets are released
        sockets()
      })
      const started = await execa(binary, [...flags, 'start'], { cwd: b, env, input: '', timeout: 20_000, reject: false })
      ctrOk({ exitCode: started.exitCode ?? -1, stdout: String(started.stdout), stderr: String(started.stderr) }, `${name} start`)
      expect(started.exitCode, `${name} start failed: ${started.stderr}`).toBe(0)
      expect(started.stdout, 'expected the shim to print its address').toMatch(/^unix:\/\//)
      const client = await dialTtrpc(started.stdout.trim())
      onCleanup(() => client.close())
      const call = (method: string, request: object) => client.call(TASK, method, `containerd.task.v2.${method === 'Create' ? 'CreateTask' : method}Request`, request, method === 'Shutdown' || method === 'Kill' ? 'google.protobuf.Empty' : `containerd.task.v2.${method === 'Create' ? 'CreateTask' : method}Response`)
      const { pid } = await call('Create', { id, bundle: b, stdin: '', stdout: '', stderr: '' })
      expect(pid, 'expected Create to answer the init\'s PID').toBeGreaterThan(0)
      const wait = call('Wait', { id })
      await call('Start', { id })
      const exit = await wait
      expect(exit.exit_status, `expected ${name} to report exit status 7 through Wait`).toBe(7)
      const kill = await caught(() => call('Kill', { id, signal: 9 }))
      if (binary !== SHIM_ENTRY) runcKill = kill
      else if (runcKill !== null) expect(kill?.code, `a Kill of the exited task answered ${kill ? `code ${kill.code}: ${kill.message}` : 'success'} where containerd-shim-runc-v2 answered ${runcKill ? `code ${runcKill.code}: ${runcKill.message}` : 'success'} — what does containerd make of that answer, and of any other?`).toBe(runcKill?.code)
      const deleted = await call('Delete', { id })
      expect(deleted.exit_status, 'expected Delete to answer the exit status').toBe(7)
      await call('Shutdown', { id })
      await new Promise((resolve) => setTimeout(resolve, 300))
      if (binary !== SHIM_ENTRY) runcTopics = [...events.topics]
      expect(events.topics.length, `expected ${name}'s events on the ttrpc server given as TTRPC_ADDRESS (Events/Forward), and none came`).toBeGreaterThan(0)
      // compared with containerd-shim-runc-v2's, not written out here
      if (binary === SHIM_ENTRY && runcTopics !== null) expect(events.topics.join(' ') === runcTopics.join(' '), `${name} published ${JSON.stringify(events.topics)} for create, start, an exit, delete; containerd-shim-runc-v2 published ${runcTopics.length} events for the same calls, and not these in this order — which event does each call publish, and what holds one back behind another (core/runtime/v2/README.md, "Events")?`).toBe(true)
    }, 60_000)
  }
})
