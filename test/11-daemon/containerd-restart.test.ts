/**
 * containerd restarts under a running daemon, against the real containerd 1.6: the chapter's
 * Daemon runs in this process, served on a unix socket to the real docker CLI, through a client
 * of the real containerd that lets the test act at the moments that matter. containerd is
 * killed (its shims and containers run on), one container ends while it is down, and it is
 * started again on the same socket and state. What each container exited with is asked of
 * containerd itself, never written here. Then a client's stdin meets a start whose Tasks.Create
 * the test holds, and so does a second start.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import type { Server } from 'node:http'
import { Duplex, PassThrough, Writable } from 'node:stream'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it, vi } from 'vitest'
import { Daemon } from '#ch/11-daemon/daemon.ts'
import { imageRef, route } from '../../lib/engine-routes.ts'
import { readLog } from '../../lib/output-streams.ts'
import type { Container } from '../../lib/container-records.ts'
import { connectContainerd, type Containerd as Client } from '../../lib/containerd.ts'
import { serveUnix } from '../../lib/engine-http.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { prepareStore } from '../../lib/image.ts'
import { describeKernel } from '../support/kernel.ts'
import { answersAgain, docker, imageRegistry, processGone, registeredLate, startContainerd, stopInProcessDaemon, type Containerd, witnessExits } from '../support/daemon.ts'
import type { Registry } from '../support/registry.ts'

const NAMESPACE = 'minidocker-test'
vi.setConfig({ testTimeout: 90_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const SECTION = 'the text\'s "When containerd restarts"'

let dir: string | undefined
let containerd: Containerd | undefined
let down = false
let registry: Registry | undefined
let client: Client | undefined
let daemon: Daemon | undefined
let server: Server | undefined
let host = ''
let witness: { close(): void } | undefined

/** The containers, by role, and what containerd itself said each exited with. */
const ids: Record<string, string> = {}
const exits = new Map<string, number>()
/** from containerd's restart on: the containers the daemon asked containerd about, and how often it subscribed */
let restarted = false
/** when containerd was started again, in ms since the epoch */
let restartedAt = 0
const asked = new Set<string>()
let resubscribed = 0
/** what the staged client saw of the `again` container while it held back containerd's answer */
let againStarted: string | undefined
/** while the staged client asks containerd about `again` itself, the daemon's Tasks.Delete of it waits */
let deleting: Promise<unknown> | undefined
/** a NotImplementedError the daemon met when its stream ended (a resume not written yet) */
let unwritten: unknown
/** a container whose Tasks.Create the staged client holds until `gate` resolves; `called` once the daemon has sent it */
let holdCreate: { id: string; called(): void; gate: Promise<void> } | undefined
/** a container whose exits the staged client keeps from the daemon's subscription until the test lets them through */
let holdExits: { id: string; held: (() => void)[] } | undefined
/** per container, the daemon's Tasks.Kill calls, each settled once containerd has answered it */
const kills = new Map<string, Promise<unknown>[]>()
const trap = (error: unknown) => {
  if (error instanceof NotImplementedError) unwritten = error
}

/** Poll until `done` holds, for up to `ms`. */
async function until(done: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  for (let waited = 0; waited < ms && !(await done()); waited += 100) await sleep(100)
  return done()
}
/** Whether the daemon's record of `id` says it runs. */
const running = (id: string) => daemon!.containers.get(id)?.State.Running !== false

/**
 * The client the daemon gets: the real containerd, except that after containerd's restart the
 * daemon's first question about `between` ends it once containerd has answered that it runs,
 * and its first question about `again` ends it first, takes containerd's answer (stopped) before
 * the daemon may delete the task, then holds that answer back until the exit has been heard on
 * the stream and the container started again.
 */
function stagedClient(real: Client): Client {
  const get = async (request: Record<string, unknown>) => {
    const id = request.container_id as string
    if (!restarted || asked.has(id)) return real.tasks.Get(request)
    asked.add(id)
    const end = async () => {
      await real.tasks.Kill({ container_id: id, signal: 9, all: false })
      exits.set(id, (await real.tasks.Wait({ container_id: id })).exit_status)
    }
    let release = () => {}
    if (id === ids.again) {
      // containerd's answer is taken before the daemon, hearing the exit on its stream, can delete the task
      deleting = new Promise((resolve) => (release = () => resolve(undefined)))
      await end()
    }
    const answer = await real.tasks.Get(request).finally(release)
    if (id === ids.between) {
      await end()
      await sleep(500) // containerd has published the exit by now
    } else if (id === ids.again) {
      // the exit is heard on the stream and the container runs again before this answer arrives
      if (await until(() => !running(id), 10_000)) {
        const started = await docker('28.2.2', host, ['start', id], { timeout: 20_000 })
        againStarted = started.exitCode === 0 ? 'yes' : started.stderr
      }
    } else if (answer.process.status === 'STOPPED') exits.set(id, answer.process.exit_status)
    return answer
  }
  const del = async (request: Record<string, unknown>) => {
    if (request.container_id === ids.again) await deleting
    return real.tasks.Delete(request)
  }
  const create = async (request: Record<string, unknown>) => {
    const hold = holdCreate
    if (hold && request.container_id === hold.id) {
      hold.called()
      await hold.gate
    }
    return real.tasks.Create(request)
  }
  const kill = (request: Record<string, unknown>) => {
    const answer = real.tasks.Kill(request)
    const id = request.container_id as string
    kills.set(id, [...(kills.get(id) ?? []), answer.catch(() => {})])
    return answer
  }
  const staged: Record<string, unknown> = { Get: get, Delete: del, Create: create, Kill: kill }
  return {
    ...real,
    tasks: new Proxy(real.tasks, { get: (target, method) => (typeof method === 'string' && staged[method]) || Reflect.get(target, method) }),
    // each subscription is in place only a second after the call, as containerd may put it
    events: registeredLate({
      ...real.events,
      // an exit published while containerd was down may still come: the shim retries forwarding it for some
      // seconds, then drops it. Held back here, so that the daemon meets the case where it never comes.
      Subscribe: (filters, onEnvelope, onEnd) => {
        if (restarted) resubscribed++
        return real.events.Subscribe(filters, (envelope) => {
          if (restartedAt && Number(envelope.timestamp.seconds) * 1000 + envelope.timestamp.nanos / 1e6 < restartedAt) return
          if (holdExits && envelope.event.container_id === holdExits.id) holdExits.held.push(() => onEnvelope(envelope))
          else onEnvelope(envelope)
        }, onEnd)
      },
    }, 1000),
  }
}

/** Every path under `root`, its folders' contents too (symbolic links not followed). */
function walk(root: string): string[] {
  const paths: string[] = []
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name)
    paths.push(path)
    if (entry.isDirectory()) paths.push(...walk(path))
  }
  return paths
}

/** Everything the tests need, made once by the first test (a starter fails there, not in a hook). */
let made: Promise<void> | undefined
const ready = () => (made ??= (async () => {
  process.on('unhandledRejection', trap)
  dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-'))
  containerd = await startContainerd(join(dir, 'containerd'))
  registry = await imageRegistry()
  const root = join(dir, 'daemon', 'data')
  prepareStore(root)
  client = connectContainerd(containerd.socket, NAMESPACE)
  daemon = new Daemon({ root, runRoot: join(dir, 'daemon', 'exec'), containerd: stagedClient(connectContainerd(containerd.socket, NAMESPACE)), cgroupParent: containerd.cgroupParent })
  await daemon.restore()
  const socket = join(dir, 'daemon', 'd.sock')
  // route() answers its own errors; one that escapes it is a chapter not written yet
  server = await serveUnix(socket, 0o600, (call) => route(daemon!, call).catch((error: Error) => {
    if (call.res && !call.res.headersSent) call.res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: error.message }))
    else (call.res ?? call.socket)?.destroy()
  }))
  host = `unix://${socket}`
  const gate = join(dir, 'gate')
  mkdirSync(gate)
  const busybox = `${registry.host}/busybox`
  const pulled = await docker('28.2.2', host, ['pull', '-q', busybox], { timeout: 45_000 })
  if (pulled.exitCode !== 0) throw new Error(`docker pull failed: ${pulled.stderr}`)
  const run = async (args: string[]) => {
    const result = await docker('28.2.2', host, ['run', '-d', '--network', 'none', ...args], { timeout: 20_000 })
    if (result.exitCode !== 0) throw new Error(`docker run -d ${args.join(' ')} failed: ${result.stderr}`)
    return result.stdout.trim()
  }
  // each of `outage` and `after` ends, with a code of its own choosing, once its file is in the gate
  const gated = (name: string) => ['-v', `${gate}:/gate`, busybox, 'sh', '-c', `while [ ! -e /gate/${name} ]; do sleep 0.05; done; exit $((RANDOM % 200 + 1))`]
  // `again` is killed (137) and started again, then ends on SIGTERM with a code of its own choosing, never 137
  const again = [busybox, 'sh', '-c', 'trap "exit $((RANDOM % 100 + 1))" TERM; while :; do sleep 0.1; done']
  ;[ids.outage, ids.after, ids.between, ids.again] = await Promise.all([run(gated('outage')), run(gated('after')), run([busybox, 'sleep', '300']), run(again)])
  const pid = Number((await docker('28.2.2', host, ['inspect', '-f', '{{.State.Pid}}', ids.outage])).stdout.trim())
  if (!(pid > 0)) throw new Error(`docker inspect gave no PID for a running container: ${pid}`)

  await containerd.crash()
  down = true
  writeFileSync(join(gate, 'outage'), '')
  await processGone(pid, 'the container meant to end while containerd was down', 5000)
  restarted = true
  restartedAt = Date.now()
  await containerd.restart()
  down = false
  // the test's own witness of every exit from here on, once containerd answers again
  await answersAgain(client!)
  witness = witnessExits(client, NAMESPACE, exits)
})())

/** The first test makes everything; each then fails for a resume not written yet, if that is what happened. */
async function afterRestart(): Promise<void> {
  await ready()
  if (unwritten) throw unwritten
}

/** What the record says, as `docker inspect` shows it. */
async function state(id: string): Promise<string> {
  const shown = (await docker('28.2.2', host, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim()
  return shown.startsWith('exited') ? shown : shown.split(' ')[0]!
}

afterAll(async () => {
  process.off('unhandledRejection', trap)
  witness?.close()
  // a containerd left down ends no task: start it again so that its stop ends them
  if (down) await containerd?.restart().catch(() => {})
  await stopInProcessDaemon({ daemon, closers: [server, daemon, client], containerd, registry, dir })
}, 120_000)

describeKernel('containerd restarts under a running daemon', () => {
  it('a container that ended while containerd was down', async () => {
    await afterRestart()
    const id = ids.outage!
    // containerd's word: the answer it gave the daemon, or, if the daemon never asked, the test's own question
    if (!(await until(() => exits.has(id), 8000)) && !asked.has(id)) {
      const { process } = (await client!.tasks.Get({ container_id: id })) as { process: { status: string; exit_status: number } }
      if (process.status === 'STOPPED') exits.set(id, process.exit_status)
    }
    const code = exits.get(id)
    expect(code, 'containerd, started again, should report the container that ended while it was down as stopped').toBeDefined()
    const why = `containerd reports that this container exited with ${code} while containerd was down, and it never sends that exit on a stream again${asked.has(id) ? '' : ' (your daemon never asked containerd about it after the restart)'}: what must the daemon ask once containerd answers again, and about which containers (${SECTION})?`
    const waited = await docker('28.2.2', host, ['wait', id], { timeout: 10_000, stuck: `docker wait of a container that ended while containerd was down never answered: ${why}` })
    expect({ wait: waited.stdout.trim(), state: await state(id) }, `docker wait and docker inspect of a container that ended while containerd was down: ${why}`)
      .toEqual({ wait: String(code), state: `exited ${code}` })
  })

  it('a container killed right after containerd, back, answered that it runs', async () => {
    await afterRestart()
    const id = ids.between!
    expect(await until(() => asked.has(id), 20_000), `after containerd's restart your daemon had not asked containerd about a container it runs 20 s later: an exit during the outage would stay unknown. Does it ask at all, and does an earlier question wait on an exit it could only hear once subscribed again (${SECTION})?`).toBe(true)
    await until(() => exits.has(id) && !running(id))
    expect(await state(id), `the container was killed right after containerd answered the daemon's question that it runs, and containerd reported its exit (status ${exits.get(id)}): the record should say so 5 s later. When did your daemon's new subscription start to receive, and what did it know of that moment when it asked (${SECTION})?`)
      .toBe(`exited ${exits.get(id)}`)
  })

  it('a container started again before containerd\'s answer about its previous run arrived', async () => {
    await afterRestart()
    const id = ids.again!
    expect(await until(() => asked.has(id), 20_000), `after containerd's restart your daemon never asked containerd about a container it runs (${SECTION})`).toBe(true)
    await until(() => againStarted !== undefined, 30_000)
    expect(againStarted, `the container was killed after the daemon asked containerd about it, and containerd reported the exit (status ${exits.get(id)}) on the stream; the test then waited 10 s for the record to say so, to start it again, before it let containerd's answer (stopped) reach the daemon. Where could the daemon have heard of that exit, and from when on (${SECTION})?`).toBe('yes')
    await sleep(1000) // the held-back answer has arrived by now
    const { process } = (await client!.tasks.Get({ container_id: id })) as { process: { status: string } }
    const record = await state(id)
    expect({ record, containerd: process.status },
      `containerd's answer that the container had stopped reached the daemon after the container was started again: a second later the record said ${record} while containerd said its task was ${process.status}. Which run did that answer end, and what tells one run from the next (${SECTION})?`)
      .toEqual({ record: 'running', containerd: 'RUNNING' })
    const before = exits.get(id)
    exits.delete(id)
    await client!.tasks.Kill({ container_id: id, signal: 15, all: false })
    const why = `Which run did containerd's held-back answer about the previous run (status ${before}) end, and what tells one run from the next (${SECTION})?`
    const waited = await docker('28.2.2', host, ['wait', id], { timeout: 10_000, stuck: `docker wait of the container started again, then stopped, never answered. ${why}` })
    expect(waited.stdout.trim(), `the container started again, then stopped: docker wait should report the status containerd reported for this run (${exits.get(id) ?? 'no exit yet'}). ${why}`).toBe(String(exits.get(id)))
  })

  it('a container that ends once containerd is back', async () => {
    await afterRestart()
    expect(await until(() => resubscribed > 0, 10_000), `containerd answers again, but 10 s later your daemon has not subscribed to its events again: no exit from now on reaches it (${SECTION})`).toBe(true)
    const id = ids.after!
    writeFileSync(join(dir!, 'gate', 'after'), '')
    await until(() => exits.has(id))
    const waited = await docker('28.2.2', host, ['wait', id], { timeout: 10_000, stuck: `docker wait of a container that ended after containerd's restart never answered (containerd reported its exit, status ${exits.get(id)}): is your daemon subscribed to the new containerd's events (${SECTION})?` })
    expect(waited.stdout.trim(), 'a container that ended after containerd\'s restart: docker wait should report the status containerd reported').toBe(String(exits.get(id)))
  })
})

/** what the container wrote, both streams, line by line, from its log */
const logged = (c: Container) => readLog(c.LogPath, { stdout: true, stderr: true, tail: 'all', since: 0, timestamps: false }).entries.map((e) => e.log)
/** the client's side of a hijacked connection: what it sends comes from `input`, what it receives goes nowhere */
const clientSocket = (input: PassThrough) => Duplex.from({ readable: input, writable: new Writable({ write: (_chunk, _encoding, done) => done() }) })
/** one turn of the event loop, for what the daemon does with a chunk it was given */
const turn = () => new Promise((resolve) => setImmediate(resolve))
/** After a test that held `c`'s Tasks.Create: the hold released and forgotten, and `c` removed. */
async function letGo(c: Container, release: () => void): Promise<void> {
  release()
  holdCreate = undefined
  await daemon?.remove(c, true).catch(() => {})
}
/** container `id`'s next Tasks.Create held by the staged client: `asked` once the daemon has sent it, until `release` */
function holdNextCreate(id: string): { asked: Promise<void>; release: () => void } {
  let called = () => {}
  let release = () => {}
  const asked = new Promise<void>((resolve) => (called = resolve))
  holdCreate = { id, called, gate: new Promise<void>((resolve) => (release = resolve)) }
  return { asked, release }
}

describeKernel('a container\'s stdin and its starts', () => {
  it('stdin sent before the start and while Tasks.Create is under way', async () => {
    await ready()
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, HostConfig: { NetworkMode: 'none' } }, undefined, imageRef)
    const lines = ['sent before the start\n', 'sent while containerd creates the task\n', 'and the last line\n']
    const input = new PassThrough()
    const { asked, release } = holdNextCreate(c.ID)
    try {
      daemon!.attach(c, clientSocket(input), { stdin: true, stdout: true, stderr: true, logs: false, stream: true })
      input.write(lines[0])
      await turn()
      const started = daemon!.start(c)
      started.catch(() => {})
      const held = await Promise.race([asked.then(() => true), started.then(() => false, () => false)])
      expect(held, 'the start ended without asking containerd to create the task').toBe(true)
      // the client goes on sending, and ends its input, while containerd creates the task
      input.write(lines[1])
      input.end(lines[2])
      await turn()
      await turn()
      release()
      await started
      const exited = await until(() => !c.State.Running, 15_000)
      const read = logged(c)
      const sent = 'one line before the start, the next two and the end while containerd was creating the task (the test held Tasks.Create)'
      expect(read, read.length === 0
        ? `cat read none of the stdin the client sent, ${sent}: who held the stdin FIFO open at each of those moments, and what does a FIFO keep once nobody does (fifo(7))?`
        : `cat echoed its stdin, but not as the client sent it, ${sent}: where did each chunk wait at each of those moments, and what decided which reached the FIFO first (the text's "Start, and the FIFOs")?`)
        .toEqual(lines)
      expect(exited, 'cat echoed all of its stdin but never saw its end, sent while containerd was creating the task: when may that end be passed on, and to whom (the text\'s "Attach, wait and the exit")?').toBe(true)
    } finally {
      release()
      holdCreate = undefined
      input.destroy()
      await daemon?.remove(c, true).catch(() => {})
    }
  })

  it('a second start of a container while its first is in Tasks.Create', async () => {
    await ready()
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['sh', '-c', 'echo ran; exit 3'], HostConfig: { NetworkMode: 'none' } }, undefined, imageRef)
    const { asked, release } = holdNextCreate(c.ID)
    try {
      // as the route starts a container, twice: the second `docker start` comes while containerd creates the first's task
      const first = daemon!.starting(c.ID, daemon!.start(c))
      first.catch(() => {})
      const held = await Promise.race([asked.then(() => true), first.then(() => false, () => false)])
      expect(held, 'the start ended without asking containerd to create the task').toBe(true)
      const second = daemon!.starting(c.ID, daemon!.start(c))
      second.catch(() => {})
      await Promise.race([second.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 500))])
      release()
      const answers = await Promise.allSettled([first, second])
      const said = answers.map((a) => (a.status === 'fulfilled' ? a.value : `refused: ${(a.reason as Error).message}`))
      expect(said, 'two `docker start` of one container, the second sent while the first was in containerd\'s Tasks.Create (held by the test): what did your second start find of the first, and what did it do to it (moby daemon/start.go)?')
        .toEqual(['started', 'already'])
      await until(() => !c.State.Running, 15_000)
      const read = logged(c)
      expect({ running: c.State.Running, exitCode: c.State.ExitCode, error: c.State.Error, output: read }, 'after two starts at once, the container should have run once, and its record say how that run ended')
        .toEqual({ running: false, exitCode: 3, error: '', output: ['ran\n'] })
    } finally {
      await letGo(c, release)
    }
  })
})

/** Split a multiplexed stream's bytes (8-byte headers, moby's stdcopy) into its stdout's text; `rest` is an unfinished frame. */
function demux(bytes: Buffer): string {
  let out = ''
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = bytes.readUInt32BE(at + 4)
    if (at + 8 + size > bytes.length) break
    if (bytes[at] === 1) out += bytes.subarray(at + 8, at + 8 + size).toString()
    at += 8 + size
  }
  return out
}

/** A raw `POST path` with `Upgrade: tcp` on the daemon's socket: everything that comes back, head and stream, in `received`. */
function upgradeRequest(path: string): { received: () => Buffer; close(): void } {
  const socket = connect(host.slice('unix://'.length))
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {})
  socket.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`)
  return { received: () => Buffer.concat(chunks), close: () => socket.destroy() }
}

/**
 * A raw attach (`POST path`, `Upgrade: tcp`) that keeps no bytes, made by a process of its own,
 * as the CLI is (a reader in the daemon's own event loop would fall behind it): how much stdout
 * payload its multiplexed stream carried, and whether it ended. With `reading` false it reads
 * nothing until read() is called, as a client whose terminal or pipe does not keep up.
 */
function countingAttach(path: string, reading: boolean): { head: () => string; payload: () => number; ended: Promise<void>; read(): void; close(): void } {
  // the reader first when the CPU is scarce: a busy machine that leaves it unscheduled for a
  // moment lets the daemon's buffer for it grow past the daemon's limit, as if it did not read
  const argv = [process.execPath, '-e', COUNTER, host.slice('unix://'.length), path, reading ? '1' : '0']
  const child = reading ? spawn('nice', ['-n', '-10', ...argv], { stdio: ['pipe', 'pipe', 'inherit'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
  let head = ''
  let payload = 0
  let lines = ''
  child.stdout.on('data', (chunk: Buffer) => {
    lines += chunk.toString()
    for (let nl = lines.indexOf('\n'); nl !== -1; nl = lines.indexOf('\n')) {
      const report = JSON.parse(lines.slice(0, nl)) as { head?: string; payload?: number }
      lines = lines.slice(nl + 1)
      if (report.head !== undefined) head = report.head
      if (report.payload !== undefined) payload = report.payload
    }
  })
  child.stdin.on('error', () => {})
  const ended = new Promise<void>((resolve) => child.once('close', () => resolve()))
  return { head: () => head, payload: () => payload, ended, read: () => child.stdin.write('read\n'), close: () => child.kill('SIGKILL') }
}

/** countingAttach's process: argv socket, path, reading; reports `{"head"}` once, `{"payload"}` as it grows and at the end; "read" on stdin starts a paused one; its stdin's end ends it. */
const COUNTER = `
const [socketPath, path, reading] = process.argv.slice(1)
const socket = require('node:net').connect(socketPath)
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
let pending = Buffer.alloc(0), headDone = false, left = 0, payload = 0, told = 0
socket.on('data', (chunk) => {
  let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
  pending = Buffer.alloc(0)
  if (!headDone) {
    const end = data.indexOf('\\r\\n\\r\\n')
    if (end === -1) return void (pending = data)
    say({ head: data.subarray(0, end).toString() })
    data = data.subarray(end + 4)
    headDone = true
    if (reading !== '1') socket.pause()
  }
  while (data.length > 0) {
    if (left > 0) { const n = Math.min(left, data.length); payload += n; left -= n; data = data.subarray(n) }
    else if (data.length < 8) { pending = Buffer.from(data); return }
    else { left = data.readUInt32BE(4); data = data.subarray(8) }
  }
})
setInterval(() => { if (payload !== told) say({ payload: told = payload }) }, 100).unref()
socket.on('error', () => {})
socket.on('close', () => { say({ payload }); process.exit(0) })
socket.write('POST ' + path + ' HTTP/1.1\\r\\nHost: docker\\r\\nConnection: Upgrade\\r\\nUpgrade: tcp\\r\\nContent-Length: 0\\r\\n\\r\\n')
process.stdin.on('data', () => socket.resume())
process.stdin.on('end', () => process.exit(0))
`

/** What the flooding container writes: lines of 4 KiB (4095 x's and a newline), 24 MiB in all, little enough to
 * pass through a loaded machine's log and FIFOs in time. */
const FLOOD_LINES = 6144

describeKernel('a wait, a stop and an attach at the moments that matter', () => {
  it('a wait for not-running sent while a start of the container is in Tasks.Create', async () => {
    await ready()
    // the first run exits 3; every later one exits 7
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['sh', '-c', 'if [ -e /gate/waited ]; then exit 7; fi; touch /gate/waited; exit 3'], HostConfig: { NetworkMode: 'none', Binds: [`${join(dir!, 'gate')}:/gate`] } }, undefined, imageRef)
    let release = () => {}
    try {
      await daemon!.starting(c.ID, daemon!.start(c))
      expect(await until(() => !c.State.Running && c.State.ExitCode === 3, 15_000), 'the first run should have exited 3').toBe(true)
      const held = holdNextCreate(c.ID)
      release = held.release
      // a script's `docker start c & docker wait c`: the wait comes while containerd creates the task
      const started = daemon!.starting(c.ID, daemon!.start(c))
      started.catch(() => {})
      expect(await Promise.race([held.asked.then(() => true), started.then(() => false, () => false)]), 'the start ended without asking containerd to create the task').toBe(true)
      const waiting = daemon!.wait(c, 'not-running')
      let answered: number | undefined
      void waiting.done.then((code) => (answered = code))
      for (let i = 0; i < 5; i++) await turn()
      const early = answered
      release()
      await started
      const code = await Promise.race([waiting.done, sleep(15_000).then(() => 'no answer in 15 s')])
      expect({ beforeTheRunBegan: early ?? 'no', answer: code },
        `a wait for not-running, sent while a second start of the container was in containerd's Tasks.Create (held by the test), should answer that run's exit (7); it answered ${early ?? code}${early !== undefined ? ' before that run had begun' : ''}. Was the container "not running" at that moment, and what does dockerd's wait have to get hold of before it looks (moby container/state.go Wait, daemon/start.go containerStart)?`)
        .toEqual({ beforeTheRunBegan: 'no', answer: 7 })
    } finally {
      await letGo(c, release)
    }
  })

  it('docker stop of a container whose process has ended, its exit not yet heard', async () => {
    await ready()
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } }, undefined, imageRef)
    try {
      await daemon!.starting(c.ID, daemon!.start(c))
      holdExits = { id: c.ID, held: [] }
      // the process ends; containerd publishes its exit, which the test keeps from the daemon for now
      await client!.tasks.Kill({ container_id: c.ID, signal: 9, all: false })
      const status = (await client!.tasks.Wait({ container_id: c.ID })).exit_status as number
      kills.delete(c.ID)
      const stopping = daemon!.stop(c, 30).then((said) => said, (error: Error) => `refused: ${error.message}`)
      // once containerd has answered the daemon's signal, the exit is let through
      await until(async () => (kills.get(c.ID)?.length ?? 0) > 0, 5000)
      await Promise.all(kills.get(c.ID) ?? [])
      for (let i = 0; i < 5; i++) await turn()
      const held = holdExits.held
      holdExits = undefined
      for (const deliver of held) deliver()
      const said = await Promise.race([stopping, sleep(20_000).then(() => 'no answer in 20 s')])
      expect({ stop: said, record: c.State.Running ? 'running' : `exited ${c.State.ExitCode}` },
        `docker stop (t=30) of a container whose process had just ended (status ${status}) while news of that exit was still on its way to the daemon (held by the test until containerd had answered the given stop's signal, then let through). The given stop answers once your monitor has handled the exit (Live.finished): what did your daemon make of that exit when it arrived?`)
        .toEqual({ stop: 'stopped', record: `exited ${status}` })
    } finally {
      for (const deliver of holdExits?.held ?? []) deliver()
      holdExits = undefined
      await daemon?.remove(c, true).catch(() => {})
    }
  })

  it('attach with logs=1&stream=1 to a running container in the middle of a line', async () => {
    await ready()
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['cat'], OpenStdin: true, AttachStdin: true, AttachStdout: true, HostConfig: { NetworkMode: 'none' } }, undefined, imageRef)
    const input = new PassThrough()
    const seen: Buffer[] = []
    let late: { received: () => Buffer; close(): void } | undefined
    try {
      // the container's writes are the test's: cat echoes what this first client sends, when it sends it
      const first = Duplex.from({ readable: input, writable: new Writable({ write: (chunk: Buffer, _e, done) => (seen.push(chunk), done()) }) })
      first.on('error', () => {})
      daemon!.attach(c, first, { stdin: true, stdout: true, stderr: false, logs: false, stream: true })
      await daemon!.starting(c.ID, daemon!.start(c))
      input.write('first\n')
      expect(await until(() => logged(c).includes('first\n')), 'cat\'s first line never reached the log').toBe(true)
      input.write('hel')
      expect(await until(() => demux(Buffer.concat(seen)).endsWith('hel')), 'the start of cat\'s second line never reached the attached client').toBe(true)
      // a second client joins now, with what was written before and what comes next
      late = upgradeRequest(`/v1.41/containers/${c.ID}/attach?logs=1&stream=1&stdout=1&stderr=1`)
      expect(await until(() => late!.received().includes('first\n')), 'the attach with logs=1&stream=1 gave no head and no log in 5 s').toBe(true)
      input.write('lo\nlast\n')
      await until(() => demux(Buffer.concat(seen)).endsWith('last\n'))
      const stream = () => late!.received().subarray(late!.received().indexOf('\r\n\r\n') + 4)
      await until(() => demux(stream()).endsWith('last\n'))
      const got = demux(stream())
      expect(got, `a client attached with logs=1&stream=1 while the container was in the middle of a line ("hel" written, "lo\\n" not yet) should read every byte once, as the container wrote them. Where were the bytes of that line at the moment of the hand-over from the log to the stream, and which of those places did your attach read?`)
        .toBe('first\nhello\nlast\n')
    } finally {
      late?.close()
      input.destroy()
      await daemon?.remove(c, true).catch(() => {})
    }
  })

  it('two clients attached to a container that writes 24 MiB, one of which reads nothing', async () => {
    await ready()
    const total = FLOOD_LINES * 4096
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['sh', '-c', `line=$(head -c 4095 /dev/zero | tr '\\0' x); n=0; while [ $n -lt ${FLOOD_LINES} ]; do echo "$line"; n=$((n+1)); done`], HostConfig: { NetworkMode: 'none' } }, undefined, imageRef)
    const attach = `/v1.41/containers/${c.ID}/attach?stream=1&stdout=1`
    const stuck = countingAttach(attach, false)
    const reader = countingAttach(attach, true)
    try {
      const joined = await until(() => stuck.head().startsWith('HTTP/1.1 101') && reader.head().startsWith('HTTP/1.1 101'))
      expect(joined, `the two attaches were not both answered 101 in 5 s: ${stuck.head().split('\r\n')[0]}`).toBe(true)
      await sleep(200) // the 101 goes out before attach() runs
      await daemon!.starting(c.ID, daemon!.start(c))
      const done = await Promise.race([reader.ended.then(() => true), sleep(120_000).then(() => false)])
      const exited = !c.State.Running
      // only now does the stuck client read: what did the daemon keep for it meanwhile?
      stuck.read()
      await Promise.race([stuck.ended, sleep(10_000)])
      const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`
      expect({ reader: done ? `${mib(reader.payload())} and its end` : `${mib(reader.payload())}, no end in 120 s`, container: exited ? 'exited' : 'running', stuckClientReceived: stuck.payload() < total / 2 ? 'under half' : `${mib(stuck.payload())} of ${mib(total)}` },
        `two clients attached to a container that wrote ${mib(total)} of lines: one read as it came and got ${mib(reader.payload())}${done ? ' and its end' : ', and no end in 120 s'}; the other read nothing until then${exited ? ', after the container had exited' : ''}, and was then handed ${mib(stuck.payload())}. While one client did not read, what did it cost the container, the other client and your daemon's memory, and who should bear the cost of a client that does not keep up (the text's "A client that does not read")?`)
        .toEqual({ reader: `${mib(total)} and its end`, container: 'exited', stuckClientReceived: 'under half' })
    } finally {
      stuck.close()
      reader.close()
      await daemon?.remove(c, true).catch(() => {})
    }
  }, 200_000)

  it('what a container whose start failed leaves on disk, once it is removed', async () => {
    await ready()
    const roots = join(dir!, 'daemon')
    const before = new Set(walk(roots))
    const c = await daemon!.create({ Image: `${registry!.host}/busybox`, Cmd: ['/no/such/program'], OpenStdin: true, HostConfig: { NetworkMode: 'none' } }, undefined, imageRef)
    let left: string[] = []
    try {
      await daemon!.start(c).catch(() => {})
      await daemon!.remove(c, true)
      // what came with this container and is still there: a FIFO, or anything named for it
      left = walk(roots).filter((path) => !before.has(path) && (path.includes(c.ID) || lstatSync(path).isFIFO()))
      expect(left, `a container whose start failed (its command does not exist) was removed, but the daemon's roots still hold what came with it: what did the start make that no run will ever use, and who removes it?`).toEqual([])
    } finally {
      await daemon?.remove(c, true).catch(() => {})
      for (const path of left) rmSync(path, { recursive: true, force: true })
    }
  })
})
