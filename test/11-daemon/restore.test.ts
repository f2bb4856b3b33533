/**
 * The daemon after a restart, and how it learns of exits, against the real containerd 1.6:
 * minidockerd (a child process) runs the containers and is stopped; then the chapter's Daemon
 * is made in this process on the same data and exec roots and restored, through a client of
 * the real containerd that lets the test act at the moments that matter (a container ends
 * while the daemon asks about it; an exit is reported late). Last, that daemon goes too and
 * another restores the same roots while containerd is killed and started again. What each
 * container really exited with is asked of containerd itself, never written here.
 */
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, expect, it, vi } from 'vitest'
import { Daemon } from '#ch/11-daemon/daemon.ts'
import { readLog } from '../../lib/output-streams.ts'
import { timestamp } from '../../lib/containerd-proto.ts'
import { connectContainerd, type Containerd as Client, type Envelope } from '../../lib/containerd.ts'
import type { Container } from '../../lib/engine.ts'
import { describeKernel } from '../support/kernel.ts'
import { answersAgain, docker, imageRegistry, processGone, registeredLate, startContainerd, startMinidockerd, stopInProcessDaemon, type Containerd, witnessExits } from '../support/daemon.ts'
import type { Registry } from '../support/registry.ts'

const NAMESPACE = 'minidocker-test'
// a mistake that keeps an exit from coming makes each CLI call wait for its 20 s cut: room for a few before the assertion says why
vi.setConfig({ testTimeout: 180_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let dir: string | undefined
let containerd: Containerd | undefined
let registry: Registry | undefined
let client: Client | undefined
let daemon: Daemon | undefined
let witness: { close(): void } | undefined
/** whether the test has killed containerd and not yet started it again */
let down = false
/** The test's own ends of `flood`'s output FIFO, a reader and a writer, held while no daemon runs, as a shim that has not let go yet holds them. */
let floodHeld: { reader: number; writer: number } | undefined
/** How long the restore took, in ms. */
let restoreTook = 0

/** The containers the tests restore, by role, and what containerd itself said of their exits. */
const ids: Record<string, string> = {}
const crowd: string[] = []
const outage: string[] = []
const exits = new Map<string, number>()
/** the envelopes of the `late` container, held back from the daemon until the test lets them go */
const held: { envelope: Envelope; deliver: (e: Envelope) => void }[] = []
let holding = true
/** how many times the daemon has asked containerd to delete `late`'s task */
let lateDeletes = 0

/** How long after the daemon's Subscribe containerd puts the subscription in place, in ms. */
const SUBSCRIBED_AFTER = 1500

/**
 * The client the restored daemon gets: the real containerd, except that its subscription is in
 * place only SUBSCRIBED_AFTER ms after the call, asking about `between` ends it (after containerd
 * has answered that it runs), asking about `late` ends it first, and the stream holds back
 * `late`'s events.
 */
function stagedClient(real: Client): Client {
  const asked = new Set<string>()
  const get = async (request: Record<string, unknown>) => {
    const id = request.container_id as string
    if (asked.has(id) || (id !== ids.between && id !== ids.late)) return real.tasks.Get(request)
    asked.add(id)
    const end = async () => {
      if (id === ids.late) writeFileSync(join(dir!, 'gate', 'late'), '41')
      else await real.tasks.Kill({ container_id: id, signal: 9, all: false })
      exits.set(id, (await real.tasks.Wait({ container_id: id })).exit_status)
      await sleep(500) // containerd has published the exit by now
    }
    if (id === ids.late) {
      await end()
      return real.tasks.Get(request)
    }
    const answer = await real.tasks.Get(request)
    await end()
    return answer
  }
  return {
    ...real,
    tasks: new Proxy(real.tasks, {
      get: (target, method) => {
        if (method === 'Get') return get
        if (method === 'Delete') return (request: Record<string, unknown>) => {
          if (request.container_id === ids.late) lateDeletes++
          return real.tasks.Delete(request)
        }
        return Reflect.get(target, method)
      },
    }),
    events: registeredLate({
      ...real.events,
      Subscribe: (filters, onEnvelope, onEnd) => real.events.Subscribe(filters, (envelope) => {
        if (holding && envelope.event?.container_id === ids.late) held.push({ envelope, deliver: onEnvelope })
        else onEnvelope(envelope)
      }, onEnd),
    }, SUBSCRIBED_AFTER),
  }
}

/**
 * A client of the real containerd that kills containerd (by PID, as a crash would) when the daemon
 * first asks about one of the `outage` containers, and passes the question on to the containerd
 * that is no more: the others are asked while it is away. That one (`dropped`) then exits, and
 * containerd is started again on the same state; what it says of `dropped` is kept in `exits`
 * before the daemon may delete the task. Events stamped before the restart (the shim's retried
 * report of that exit) do not reach the daemon.
 */
function crashingClient(real: Client, pids: Map<string, number>): { client: Client; dropped(): string | undefined; back(): Promise<void> | undefined } {
  let restartedAt = 0
  let dropped: string | undefined
  let back: Promise<void> | undefined
  const away = async (id: string) => {
    writeFileSync(join(dir!, 'gate', id.slice(0, 12)), '')
    await processGone(pids.get(id)!, 'the container meant to end while containerd was away')
    restartedAt = Date.now()
    await containerd!.restart()
    down = false
    await answersAgain(client!)
    const { process: task } = (await client!.tasks.Get({ container_id: id })) as { process: { status: string; exit_status: number } }
    if (task.status === 'STOPPED') exits.set(id, task.exit_status)
  }
  const get = async (request: Record<string, unknown>) => {
    const id = request.container_id as string
    if (!dropped && outage.includes(id)) {
      dropped = id
      await containerd!.crash()
      down = true
      back = away(id)
      back.catch(() => {}) // the test awaits it
    }
    return real.tasks.Get(request)
  }
  const del = async (request: Record<string, unknown>) => {
    if (request.container_id === dropped) await back?.catch(() => {})
    return real.tasks.Delete(request)
  }
  const stamped = (e: Envelope) => Number(e.timestamp.seconds) * 1000 + e.timestamp.nanos / 1e6
  return {
    dropped: () => dropped,
    back: () => back,
    client: {
      ...real,
      tasks: new Proxy(real.tasks, { get: (target, method) => (method === 'Get' ? get : method === 'Delete' ? del : Reflect.get(target, method)) }),
      events: {
        ...real.events,
        Subscribe: (filters, onEnvelope, onEnd) => real.events.Subscribe(filters, (envelope) => restartedAt && stamped(envelope) < restartedAt ? undefined : onEnvelope(envelope), onEnd),
      },
    },
  }
}

/** Everything the tests need, made once by the first test (a starter fails there, not in a hook). */
let made: Promise<void> | undefined
const ready = () => (made ??= (async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-'))
  containerd = await startContainerd(join(dir, 'containerd'))
  registry = await imageRegistry()
  const child = await startMinidockerd(join(dir, 'daemon'), containerd)
  const gate = join(dir, 'gate')
  mkdirSync(gate)
  const busybox = `${registry.host}/busybox`
  try {
    const run = async (args: string[]) => {
      const result = await docker('28.2.2', child.host, ['run', '-d', '--network', 'none', ...args], { timeout: 20_000 })
      if (result.exitCode !== 0) throw new Error(`docker run -d ${args.join(' ')} failed: ${result.stderr}`)
      return result.stdout.trim()
    }
    const pulled = await docker('28.2.2', child.host, ['pull', '-q', busybox], { timeout: 45_000 })
    if (pulled.exitCode !== 0) throw new Error(`docker pull failed: ${pulled.stderr}`)
    for (const role of ['between', 'execs', 'lost']) ids[role] = await run([busybox, 'sleep', '300'])
    // ends with the code written to /gate/late, once it is there
    ids.late = await run(['-v', `${gate}:/gate`, busybox, 'sh', '-c', 'while [ ! -s /gate/late ]; do sleep 0.1; done; code=$(cat /gate/late); rm /gate/late; exit $code'])
    // each ends, with a code of its own choosing, once a file named for it is in the gate
    for (let i = 0; i < 3; i++) outage.push(await run(['-v', `${gate}:/gate`, busybox, 'sh', '-c', `${whenGate('$(hostname)')} exit $((RANDOM % 200 + 1))`]))
    for (let i = 0; i < 8; i++) crowd.push(await run(['-v', `${gate}:/gate`, busybox, 'sh', '-c', 'while [ ! -e /gate/go ]; do sleep 0.1; done; exit $((RANDOM % 200 + 1))']))
    // last: each writes a line, then more once the daemon has gone, and ends; `flood` thousands of lines
    ids.away = await run(['-v', `${gate}:/gate`, busybox, 'sh', '-c', `echo up; ${whenGate('away')} echo gone; exit $((RANDOM % 200 + 1))`])
    ids.flood = await run(['-v', `${gate}:/gate`, busybox, 'sh', '-c', `echo up; ${whenGate('flood')} i=0; while [ $i -lt ${FLOOD} ]; do echo "line $i"; i=$((i+1)); done; exit $((RANDOM % 200 + 1))`])
    for (const role of ['away', 'flood']) if (!(await until(() => logged(join(dir!, 'daemon', 'data'), ids[role]!).includes('up\n')))) throw new Error(`the ${role} container's first line did not reach its log in 5 s`)
  } finally {
    await child.stop()
  }
  client = connectContainerd(containerd.socket, NAMESPACE)
  // while no daemon runs: `away` and `flood` write and exit, and containerd forgets `lost`
  // the FIFO keeps `flood`'s output only while someone holds it open: the shim closes its ends once
  // its copy is done, which may come before or after a restarted daemon opens its own
  const { process: floodTask } = await client.tasks.Get({ container_id: ids.flood })
  const floodReader = openSync(floodTask.stdout, constants.O_RDONLY | constants.O_NONBLOCK)
  floodHeld = { reader: floodReader, writer: openSync(floodTask.stdout, constants.O_WRONLY | constants.O_NONBLOCK) }
  for (const role of ['away', 'flood']) {
    writeFileSync(join(gate, role), '')
    for (let i = 0; i < 100 && !exits.has(ids[role]!); i++) {
      const { process } = await client.tasks.Get({ container_id: ids[role] })
      if (process.status === 'STOPPED') exits.set(ids[role]!, process.exit_status)
      else await sleep(100)
    }
    if (!exits.has(ids[role]!)) throw new Error(`the ${role} container, meant to exit while no daemon ran, did not exit in 10 s`)
  }
  await client.tasks.Kill({ container_id: ids.lost, signal: 9, all: false })
  await client.tasks.Wait({ container_id: ids.lost })
  await client.tasks.Delete({ container_id: ids.lost })
  await client.containers.Delete({ id: ids.lost })
  // the test's own witness of every exit from here on
  witness = witnessExits(client, NAMESPACE, exits)
  daemon = new Daemon({ root: join(dir, 'daemon', 'data'), runRoot: join(dir, 'daemon', 'exec'), containerd: stagedClient(connectContainerd(containerd.socket, NAMESPACE)), cgroupParent: containerd.cgroupParent })
  const began = Date.now()
  await daemon.restore()
  restoreTook = Date.now() - began
})())

const record = (role: string): Container => daemon!.containers.get(ids[role]!)!
/** The lines `flood` writes while no daemon runs (about 59 KB). */
const FLOOD = 6000
/** A shell's wait for /gate/NAME. */
const whenGate = (name: string) => `while [ ! -e /gate/${name} ]; do sleep 0.1; done;`
/** What the json log of container `id` under data root `root` says, the lines joined. */
const logged = (root: string, id: string) =>
  readLog(join(root, 'containers', id, `${id}-json.log`), { stdout: true, stderr: true, since: 0, tail: 'all', timestamps: false }).entries.map((e) => e.log).join('')
const taskStatus = async (id: string) => (await client!.tasks.Get({ container_id: id }).catch(() => ({ process: { status: 'not found' } }))).process.status as string
/** What the record and containerd say of `c`, and whether the daemon asked containerd to delete its task since `deletes` such calls. */
async function observed(c: Container, deletes: number): Promise<Record<string, string>> {
  const seen: Record<string, string> = { record: c.State.Running ? 'running' : `exited with ${c.State.ExitCode}`, containerd: await taskStatus(c.ID) }
  if (lateDeletes > deletes) seen.daemonCalled = 'Tasks.Delete'
  return seen
}
/** `observed`'s answer in words. */
const said = (seen: Record<string, string>) =>
  `the record said ${seen.record} while containerd said its task was ${seen.containerd}${seen.daemonCalled ? ', and your daemon had asked containerd to delete that task' : ''}`

/** Poll until `done` holds, for up to `ms`. */
async function until(done: () => boolean, ms = 5000): Promise<boolean> {
  for (let waited = 0; waited < ms && !done(); waited += 100) await sleep(100)
  return done()
}

/** Whether `docker wait` (for not-running) of `c` answers within `ms`. */
async function waitAnswers(c: Container, ms = 5000): Promise<boolean> {
  const wait = daemon!.wait(c, 'not-running')
  const answered = await Promise.race([wait.done.then(() => true), sleep(ms).then(() => false)])
  wait.cancel()
  return answered
}

/** `c` has just been made to end: within 5 s its record says it exited, with the status containerd reported. */
async function endsAsContainerdSays(c: Container, message: string): Promise<void> {
  await until(() => exits.has(c.ID) && !c.State.Running)
  const reported = exits.get(c.ID) ?? 'no exit yet'
  expect({ record: c.State.Running ? 'running' : `exited with ${c.State.ExitCode}` }, `${message} (containerd reported ${reported})`).toEqual({ record: `exited with ${reported}` })
}

afterAll(async () => {
  holding = false
  // a containerd left down ends no task: start it again so that its stop ends them
  if (down) await containerd?.restart().catch(() => {})
  if (floodHeld !== undefined) [floodHeld.writer, floodHeld.reader].forEach((fd) => closeSync(fd))
  witness?.close()
  await stopInProcessDaemon({ daemon, closers: [daemon, client], containerd, registry, dir })
}, 120_000)

describeKernel('a restarted daemon and the exits of its containers', () => {
  it('one container exited while no daemon ran, containerd lost one, and one ended while the daemon asked about it', async () => {
    await ready()
    const away = record('away')
    await until(() => !away.State.Running)
    expect({ running: away.State.Running, code: away.State.ExitCode },
      `a container that exited while no daemon ran: containerd's Tasks.Get reports exit status ${exits.get(ids.away!)}, the restored record says ${away.State.Running ? 'running' : `exited with ${away.State.ExitCode}`} — what does containerd still know of a task that exited unobserved, and what would \`docker wait\` answer under dockerd (the text's "Exits, and a daemon that restarts")?`)
      .toEqual({ running: false, code: exits.get(ids.away!) })
    const lost = record('lost')
    await until(() => !lost.State.Running)
    expect({ running: lost.State.Running, cleanExit: lost.State.ExitCode === 0 },
      `a container whose task and container containerd no longer know (killed and deleted while no daemon ran): the restored record says ${lost.State.Running ? 'running' : `exited with ${lost.State.ExitCode}`}. What would \`docker wait\` answer for it, what would a script that trusts that answer conclude, and what does moby's restore (daemon/daemon.go) record?`)
      .toEqual({ running: false, cleanExit: false })
    const between = record('between')
    const heard = await until(() => !between.State.Running)
    expect(heard,
      `a container that ran when the restored daemon asked containerd about it, and was killed right after containerd answered (containerd reported its exit, status ${exits.get(ids.between!)}; this containerd puts a subscription in place ${SUBSCRIBED_AFTER} ms after the call): 5 s later the record still says running — when did your daemon's subscription start to receive, and what did it know of that moment when it asked (the text's "Is the subscription in place?")?`)
      .toBe(true)
    expect(between.State.ExitCode, 'the container killed while the daemon asked about it: expected the exit status containerd reported').toBe(exits.get(ids.between!))
  }, 300_000) // the shared setup runs inside this first test: containerd, a registry, a daemon, a pull and 14 runs

  it('the output of containers that exited while no daemon ran', async () => {
    await ready()
    const root = join(dir!, 'daemon', 'data')
    const away = await waitAnswers(record('away'))
    expect(away, `a restored container that exited while no daemon ran, its shim's ends of the FIFOs closed long before: \`docker wait\` of it has not answered in 5 s after the restore. What is your daemon still waiting for (the text's "Output that never ends")?`).toBe(true)
    expect(logged(root, ids.away!), 'the log of a container that wrote `up` while the old daemon ran: it should still hold that line').toBe('up\n')
    // the shim's copy may still be writing when containerd reports the exit, for as long as it takes: one line
    // more, later than the output of any other container restored with it ended, then its end
    await sleep(restoreTook + 500)
    try {
      writeSync(floodHeld!.writer, 'last\n')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      expect.fail(`a container that wrote \`up\`, then ${FLOOD} lines once the daemon had stopped: after the restore its output FIFO is full and nothing reads it any more (one line more into it fails with EAGAIN): where was its output then, who held it, and when is it all read (the text's "Output that never ends")?`)
    } finally {
      closeSync(floodHeld!.writer)
      closeSync(floodHeld!.reader)
      floodHeld = undefined
    }
    const flood = await waitAnswers(record('flood'), 10_000)
    const lines = logged(root, ids.flood!).split('\n').length - 1
    expect({ finished: flood, lines }, `a container that wrote \`up\`, then ${FLOOD} lines once the daemon had stopped, and exited (the test held its output FIFO open until now, as a shim whose copy has not finished does, and wrote one line more into it after the restore): its exit status is known at restore, but where was its output then, who held it, and when is it all read (the text's "Output that never ends")?`)
      .toEqual({ finished: true, lines: FLOOD + 2 })
  })

  it('an exec in a restored container exits', async () => {
    await ready()
    const c = record('execs')
    const exec = daemon!.createExec(c, { Cmd: ['sh', '-c', 'exit 3'] })
    const socket = new PassThrough()
    socket.resume()
    await daemon!.startExec(exec, socket)
    expect(exec.ExitCode, 'the exec\'s own exit code').toBe(3)
    await sleep(1000)
    const task = await taskStatus(c.ID)
    expect({ record: c.State.Running ? 'running' : `exited with ${c.State.ExitCode}`, containerd: task },
      `a container one of whose execs exited (status 3): a second later the record said ${c.State.Running ? 'running' : `exited with ${c.State.ExitCode}`} while containerd said its task was ${task} — which process's exit did your daemon take for the container's (the fields of containerd's TaskExit; the text's "Exits, and a daemon that restarts")?`)
      .toEqual({ record: 'running', containerd: 'RUNNING' })
    exits.delete(c.ID)
    await client!.tasks.Kill({ container_id: c.ID, signal: 9, all: false })
    await endsAsContainerdSays(c, 'the container whose exec had exited, then killed — which process\'s exit did your daemon take for the container\'s (the fields of containerd\'s TaskExit; the text\'s "Exits, and a daemon that restarts")?')
  })

  it('a container whose exit is reported late, after it was started again', async () => {
    await ready()
    const c = record('late')
    expect(await until(() => !c.State.Running), 'a container that exited just before the daemon asked about it: expected the record to say it exited').toBe(true)
    expect(c.State.ExitCode, 'the container that exited just before the daemon asked: expected the exit status containerd reported').toBe(exits.get(ids.late!))
    await waitAnswers(c)
    await daemon!.start(c)
    holding = false
    const late = held.splice(0)
    const deletes = lateDeletes
    for (const { envelope, deliver } of late) deliver(envelope)
    await sleep(1500)
    let seen = await observed(c, deletes)
    expect(seen, `a container started again, then containerd's report of its previous run's exit arrived (held back by the test): 1.5 s later ${said(seen)} — which run did the late report end (the text's "Exits, and a daemon that restarts")?`)
      .toEqual({ record: 'running', containerd: 'RUNNING' })
    // the same late report, naming this run's PID
    const pid = c.State.Pid
    const before = lateDeletes
    for (const { envelope, deliver } of late) if (envelope.event?.container_id === c.ID) deliver({ ...envelope, event: { ...envelope.event, pid } })
    await sleep(1500)
    seen = await observed(c, before)
    expect(seen, `a container started again (PID ${pid}), then a late report of its previous run's exit arrived naming PID ${pid}, this run's PID: 1.5 s later ${said(seen)}. Which run did that report end (the text's "Exits, and a daemon that restarts")?`)
      .toEqual({ record: 'running', containerd: 'RUNNING' })
    // the same report once more, naming this run's PID and stamped now
    const stamp = timestamp(new Date())
    const again = lateDeletes
    for (const { envelope, deliver } of late) if (envelope.event?.container_id === c.ID) deliver({ ...envelope, event: { ...envelope.event, pid, exited_at: stamp } })
    await sleep(1500)
    seen = await observed(c, again)
    expect(seen, `a container started again (PID ${pid}), then a late report of its previous run's exit arrived naming PID ${pid} and stamped after this run began: 1.5 s later ${said(seen)}. Which run did that report end (the text's "Exits, and a daemon that restarts")?`)
      .toEqual({ record: 'running', containerd: 'RUNNING' })
    exits.delete(c.ID)
    writeFileSync(join(dir!, 'gate', 'late'), '42')
    await endsAsContainerdSays(c, 'the container started again, then ended, after the test had held back its previous run\'s exit and sent it again naming this run\'s PID: which run did the late report end (the text\'s "Exits, and a daemon that restarts")?')
  })

  it('eight restored containers exiting at the same moment', async () => {
    await ready()
    writeFileSync(join(dir!, 'gate', 'go'), '')
    const containers = crowd.map((id) => daemon!.containers.get(id)!)
    const done = await until(() => containers.every((c) => !c.State.Running) && crowd.every((id) => exits.has(id)), 10_000)
    const seen = Object.fromEntries(containers.map((c) => [c.ID.slice(0, 12), c.State.Running ? 'running' : c.State.ExitCode]))
    const reported = Object.fromEntries(crowd.map((id) => [id.slice(0, 12), exits.get(id) ?? 'no exit yet']))
    expect(done, `eight containers exited at once; 10 s later the records say ${JSON.stringify(seen)}, containerd reported ${JSON.stringify(reported)}`).toBe(true)
    expect(seen, 'eight containers exited at once: expected each record to hold the exit status containerd reported for that container (the text\'s "Exits, and a daemon that restarts")').toEqual(reported)
  })

  it('a daemon restored while containerd went away as it asked about one of its containers', async () => {
    await ready()
    const pids = new Map(outage.map((id) => [id, daemon!.containers.get(id)!.State.Pid]))
    // the daemon restarts once more: the restored one goes, and a new one restores the same roots
    daemon!.close()
    const staged = crashingClient(connectContainerd(containerd!.socket, NAMESPACE), pids)
    daemon = new Daemon({ root: join(dir!, 'daemon', 'data'), runRoot: join(dir!, 'daemon', 'exec'), containerd: staged.client, cgroupParent: containerd!.cgroupParent })
    await daemon.restore()
    expect(staged.dropped(), 'the restored daemon never asked containerd about a container its records call running').toBeDefined()
    await staged.back()
    const dropped = daemon.containers.get(staged.dropped()!)!
    const code = exits.get(dropped.ID)
    await until(() => !dropped.State.Running, 15_000)
    const said = () => (dropped.State.Running ? 'running' : `exited with ${dropped.State.ExitCode}`)
    expect({ record: said(), waitAnswered: await waitAnswers(dropped) },
      `containerd was killed as the restoring daemon asked about this container, so the question failed; the container exited while containerd was away, and containerd, started again on the same state, reports it stopped with status ${code} (its exit event, sent while containerd was away, never reaches the daemon). 15 s after containerd was back the record says ${said()}: what did the failed question tell your daemon of the container, what did it do with the container then, and what do \`docker ps\` and \`docker wait\` show under dockerd (the text's "When containerd restarts")?`)
      .toEqual({ record: `exited with ${code}`, waitAnswered: true })
    // the others, asked about while containerd was away, still run: they end now
    const others = outage.filter((id) => id !== dropped.ID).map((id) => daemon!.containers.get(id)!)
    const ended = others.map((c) => client!.tasks.Wait({ container_id: c.ID }).then(({ exit_status }) => exits.set(c.ID, exit_status as number)))
    for (const c of others) writeFileSync(join(dir!, 'gate', c.ID.slice(0, 12)), '')
    await Promise.all(ended)
    await until(() => others.every((c) => !c.State.Running))
    const short = (f: (c: Container) => unknown) => Object.fromEntries(others.map((c) => [c.ID.slice(0, 12), f(c)]))
    expect(short((c) => (c.State.Running ? 'running' : `exited with ${c.State.ExitCode}`)),
      `two more containers restored in the same pass, asked about while containerd was away, and ended once it was back: containerd reported ${JSON.stringify(short((c) => exits.get(c.ID)))}. What did your daemon make of a question that failed, and of a container whose state it did not know?`)
      .toEqual(short((c) => `exited with ${exits.get(c.ID)}`))
  })
})
