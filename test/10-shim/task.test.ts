/**
 * The Task service's life cycle with a stand-in runtime, reaper and publisher, so that the
 * races containerd meets can be made to happen on purpose: an exit while Start still runs, a
 * Kill while an exec's Start waits for the runtime, a Start that fails.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { constants as osConstants } from 'node:os'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { Publisher } from '../../lib/shim-events.ts'
import { copyStdio } from '#ch/10-shim/stdio.ts'
import type { Exit, Reaper } from '#ch/10-shim/reaper.ts'
import type { Runtime } from '#ch/10-shim/runtime.ts'
import { Task } from '#ch/10-shim/task.ts'
import { mountRootfs, shimCall, taskService, unmountRootfs } from '../../lib/shim.ts'
import { dialTtrpc } from '../../lib/ttrpc-client.ts'
import { describeKernel } from '../support/kernel.ts'
import { Code, RpcError, Status } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { shimSockets } from '../support/daemons.ts'
import { holdersOf, runcAnswers, serveTtrpc, waitUntil } from './support.ts'

const PID = 4242
const EXEC_PID = 4343

/** The one path among the runtime's arguments (alone or after `=`) that does not exist yet. */
function pidFile(args: string[]): string {
  const file = args.map((a) => a.slice(a.indexOf('=') + 1)).find((a) => a.startsWith('/') && !existsSync(a))
  if (!file) throw new Error(`the runtime's ${args[0]} was run as ${JSON.stringify(args)}: what does the shim know of the process once the runtime has exited (chapter 09's text, "The real thing")?`)
  return file
}

/** A Task whose runtime, reaper and publisher are stand-ins the test controls. */
function standIn(options: { onStart?: () => Promise<void>; onDelete?: () => void; onKill?: (args: string[]) => void; execFails?: string; config?: object; execGate?: Promise<void>; createGate?: Promise<void>; execOutputHeld?: boolean; initOutputHeld?: boolean; initOutput?: { stdout: Readable; fifo: string } } = {}) {
  const bundle = tempDir()
  if (options.config) writeFileSync(join(bundle, 'config.json'), JSON.stringify(options.config))
  const calls: string[][] = []
  const topics: string[] = []
  let shutdowns = 0
  let exit!: (e: Exit) => void
  const exited = new Promise<Exit>((resolve) => (exit = resolve))
  let execExit!: (e: Exit) => void
  const execExited = new Promise<Exit>((resolve) => (execExit = resolve))
  const ended = () => {
    const s = new PassThrough()
    s.end()
    return s
  }
  const runtime = {
    async run(args: string[]) {
      calls.push(args)
      if (args[0] === 'exec' && options.execOutputHeld) {
        writeFileSync(pidFile(args), String(EXEC_PID))
        const held = new PassThrough() // a process the exec left behind keeps its stdout open
        onCleanup(() => held.destroy())
        return { stdin: null, stdout: held, stderr: ended() }
      }
      if (args[0] === 'create') {
        await options.createGate
        writeFileSync(pidFile(args), String(PID))
      }
      if (args[0] === 'create' && options.initOutput) return { stdin: null, stdout: options.initOutput.stdout, stderr: ended() }
      if (args[0] === 'create' && options.initOutputHeld) {
        const held = new PassThrough() // the init's output, still being copied when it exits
        onCleanup(() => held.destroy())
        return { stdin: null, stdout: held, stderr: ended() }
      }
      if (args[0] === 'exec' && options.execFails) throw new RpcError(Code.Unknown, options.execFails)
      if (args[0] === 'kill') options.onKill?.(args)
      if (args[0] === 'exec') {
        await options.execGate
        writeFileSync(pidFile(args), String(EXEC_PID))
      }
      if (args[0] === 'start') await options.onStart?.()
      if (args[0] === 'delete') options.onDelete?.() // delete --force ends a process that was created
      return { stdin: null, stdout: ended(), stderr: ended() }
    },
    async ps() {
      return [PID]
    },
  } as unknown as Runtime
  const reaper = { exited: (pid: Promise<number>) => pid.then((n) => (n === PID ? exited : n === EXEC_PID ? execExited : new Promise<Exit>(() => {}))) } as unknown as Reaper
  const told: string[] = [] // each event's topic and the id it names, '/tasks/exit c1'
  const publisher = { publish: (topic: string, event: { id?: string; exec_id?: string }) => (topics.push(topic), told.push(`${topic} ${event.exec_id || event.id || ''}`.trim())), flush: async () => {} } as unknown as Publisher
  const task = new Task({
    id: 'c1', bundle, runtime, reaper, publisher,
    mountRootfs: async () => {}, unmountRootfs: async () => {}, shutdown: () => void shutdowns++,
  })
  const create = () => task.create({ id: 'c1', bundle, rootfs: [], terminal: false, stdin: '', stdout: options.initOutput?.fifo ?? '', stderr: '' })
  return {
    task, bundle, calls, topics, told, create, shutdowns: () => shutdowns,
    exit: (status: number) => exit({ pid: PID, status, at: new Date() }),
    execExit: (status: number) => execExit({ pid: EXEC_PID, status, at: new Date() }),
  }
}

/** The number of the signal a runtime's kill names (by number or name), if its default action ends a process such as sleep. */
function ended(signal: string): number | undefined {
  const signals = osConstants.signals as Record<string, number>
  const name = signal.toUpperCase().replace(/^(?!SIG)/, 'SIG')
  const n = /^\d+$/.test(signal) ? Number(signal) : signals[name]
  const harmless = ['SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGWINCH'].map((s) => signals[s])
  return n && n > 0 && n < 32 && !harmless.includes(n) ? n : undefined
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20))

/** What fd `fd` of this process is open on ('' once it is closed). */
const fdTarget = (fd: string) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return ''
  }
}

/** ctr's side of a new output FIFO: a read end that reads only when the test says so. */
function readerFifo(name = 'stdout') {
  const fifo = join(tempDir(), name)
  execFileSync('mkfifo', [fifo])
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
  onCleanup(() => closeSync(reader))
  return { fifo, reader }
}

describe('the Task service', () => {
  it('Create, then Start', async () => {
    const t = standIn()
    expect(await t.create(), 'expected Create to answer the init\'s PID').toEqual({ pid: PID })
    expect((await t.task.state({ id: 'c1', exec_id: '' }) as { status: number }).status, 'expected CREATED after Create').toBe(Status.CREATED)
    await t.task.start({ id: 'c1', exec_id: '' })
    const runs = t.calls.map((c) => c[0])
    expect(runs.length === 2 && runs[0] !== runs[1], `Create and Start ran the runtime as ${JSON.stringify(runs)} — which of the runtime's commands makes the process and stops it before its command, and which lets it run (chapter 09's text, "The real thing")?`).toBe(true)
    expect((await t.task.state({ id: 'c1', exec_id: '' }) as { status: number }).status, 'expected RUNNING after Start').toBe(Status.RUNNING)
  })

  it('two Creates at once', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const t = standIn({ createGate: gate })
    const first = t.create()
    first.catch(() => {}) // awaited below
    await tick() // the first Create waits for the runtime's create
    const secondly = caught(() => t.create())
    secondly.catch(() => {}) // awaited below (a starter's NotImplementedError, rethrown by caught)
    await tick()
    open()
    const [second, answer] = await Promise.all([secondly, first])
    const runs = t.calls.map((c) => c[0])
    expect(second instanceof RpcError && runs.length === 1, `a second Create came while the first one's runtime create still ran; it ${second ? `answered code ${second.code}: ${second.message}` : 'succeeded'}, and the runtime was run for ${JSON.stringify(runs)} — what did the second Create find when it looked for an init, what had the first not done yet, and what would the second's clean-up do to the first's container (containerd's runc shim: task/service.go, Create)?`).toBe(true)
    expect(answer, 'expected the first Create to answer its PID').toEqual({ pid: PID })
  })

  it('containerd gives up on a Create (ctr interrupted) and sends Delete and Shutdown while the runtime\'s create still runs', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    let t!: ReturnType<typeof standIn>
    t = standIn({ createGate: gate, onDelete: () => t.exit(137) })
    const created = t.create()
    let refused: unknown
    created.catch((error) => (refused = error)) // awaited below
    await tick() // the runtime's create runs
    if (refused instanceof Error && refused.name === 'NotImplementedError') throw refused
    // containerd's Create call was cancelled: it cleans up with Delete and, once Delete has answered, Shutdown (core/runtime/v2: TaskManager.Create, shimTask.delete)
    let answered = false
    let shutdownSent = false
    const deleting = caught(() => t.task.delete({ id: 'c1', exec_id: '' })).finally(() => (answered = true))
    deleting.catch(() => {}) // awaited below (a starter's NotImplementedError, rethrown by caught)
    await tick()
    if (answered) {
      shutdownSent = true
      await t.task.shutdown({ id: 'c1', now: false })
    }
    await tick()
    const leftEarly = t.shutdowns()
    open()
    const deleted = await deleting
    await created.catch(() => {})
    if (!shutdownSent) await t.task.shutdown({ id: 'c1', now: false })
    await tick()
    const runs = t.calls.map((c) => c[0])
    const deletedAfterCreate = runs.includes('create') && runs.lastIndexOf('delete') > runs.indexOf('create')
    expect(leftEarly, `containerd sent Delete and, once it was answered, Shutdown, and the shim was told to go while the runtime's create still ran — what would the runtime's create then leave behind that nobody deletes, and what does containerd's runc shim make a Delete or a Shutdown wait for (task/service.go, Create, and what each of them takes first)?`).toBe(0)
    expect([deleted?.code ?? 'answered', deletedAfterCreate], `containerd sent Delete while the runtime's create still ran; Delete ${deleted ? `answered code ${deleted.code}: ${deleted.message}` : 'succeeded'}, and the runtime ran as ${JSON.stringify(runs)}: is there a container left that nobody will delete? What could Delete see of a Create still under way, and how would it know when that Create is over (TaskBase)?`).toEqual(['answered', true])
    expect(t.shutdowns(), 'expected the shim to leave once the task it made was deleted').toBe(1)
  })

  it('the process exits while the runtime\'s start still runs', async () => {
    let t!: ReturnType<typeof standIn>
    t = standIn({ onStart: async () => {
      t.exit(0)
      await tick()
    } })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    await t.task.wait({ id: 'c1', exec_id: '' })
    const inOrder = t.topics.length === 3 && t.topics.indexOf('/tasks/start') >= 0 && t.topics.indexOf('/tasks/start') < t.topics.indexOf('/tasks/exit')
    expect(inOrder, `the events of a process that died while Start still ran came out as ${JSON.stringify(t.topics)} — which one must containerd see first, and what holds the other back (the text's "The Task service"; core/runtime/v2/README.md, "Events")?`).toBe(true)
  })

  it('two Starts of the init at once, the process exiting while the runtime\'s start runs', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    let t!: ReturnType<typeof standIn>
    t = standIn({ onStart: async () => {
      await gate
      t.exit(0)
    } })
    await t.create()
    // a client that retries, or two of them: containerd passes each Start on to the shim
    const first = caught(() => t.task.start({ id: 'c1', exec_id: '' }))
    first.catch(() => {}) // awaited below
    await tick() // the first Start waits for the runtime's start
    const second = caught(() => t.task.start({ id: 'c1', exec_id: '' }))
    second.catch(() => {}) // awaited below
    await tick()
    open()
    const [one, two] = await Promise.all([first, second])
    if (one instanceof Error && one.name === 'NotImplementedError') throw one
    await t.task.wait({ id: 'c1', exec_id: '' })
    const starts = t.calls.filter((c) => c[0] === 'start').length
    const outcome = `the first Start ${one ? `failed (${one.message})` : 'succeeded'}, the second ${two ? `failed (${two.message})` : 'succeeded'}, the runtime's start ran ${starts} time(s), and the events were ${JSON.stringify(t.topics)}`
    expect(!one && two !== undefined && starts === 1 && JSON.stringify(t.topics) === JSON.stringify(['/tasks/create', '/tasks/start', '/tasks/exit']), `a second Start of the init came while the first still waited for the runtime's start: ${outcome} — what did the second find in the record, and what does containerd's runc shim answer a Start that comes while another runs (pkg/process/init.go, Start)?`).toBe(true)
  })

  it('the runtime\'s start fails, with a Wait sent before it: then Delete, whose runtime delete ends the process, and Shutdown', async () => {
    let t!: ReturnType<typeof standIn>
    t = standIn({
      onStart: async () => {
        throw new RpcError(Code.Unknown, 'runc start failed: cannot start a container that has stopped')
      },
      onDelete: () => t.exit(137),
    })
    await t.create()
    const waiting = t.task.wait({ id: 'c1', exec_id: '' }) // containerd's Wait comes before Start
    const failed = await caught(() => t.task.start({ id: 'c1', exec_id: '' }))
    expect(failed, 'expected Start to fail when the runtime\'s start fails').toBeDefined()
    // containerd deletes what it could not start; the runtime's delete --force ends the process
    const deleted = await caught(() => t.task.delete({ id: 'c1', exec_id: '' }))
    expect(deleted?.code, `after a Start that failed, Delete answered code ${deleted?.code}: ${deleted?.message} — in what state did the failed Start leave the process, and what can containerd do with a task it can neither start nor delete?`).toBeUndefined()
    const told = t.topics.filter((x) => x === '/tasks/exit' || x === '/tasks/delete')
    expect(told.length === 2 && told[0] !== told[1] && told.indexOf('/tasks/exit') < told.indexOf('/tasks/delete'), `Start failed, then Delete's runtime delete ended the process (status 137), and containerd was told ${JSON.stringify(told)} — containerd's runc shim tells an exit before the delete of its task: what held this exit back, or dropped it, when its process never ran?`).toBe(true)
    const answer = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve('no answer'), 5000))])
    expect(answer, 'the process ended after its Start had failed, and the Wait containerd sent before that Start got no answer in 5 s — what is the exit waiting for, and what should have let it go?').toMatchObject({ exit_status: 137 })
    await t.task.shutdown({ id: 'c1', now: false })
    await tick()
    expect(t.shutdowns(), 'expected the shim to leave on Shutdown once its task is deleted').toBe(1)
  })

  it('Create with a terminal, the runtime\'s create failing before it connects to the console socket', async () => {
    const dir = tempDir()
    const stdin = join(dir, 'c1-stdin')
    const stdout = join(dir, 'c1-stdout')
    execFileSync('mkfifo', [stdin, stdout])
    const holding = (_pid: number, links: string[]) => links.includes(stdin) || links.includes(stdout)
    const sockets = shimSockets() // a keeper left behind leaves its console socket's folder too
    onCleanup(async () => {
      for (const pid of holdersOf(holding)) process.kill(pid, 'SIGKILL')
      await waitUntil(() => holdersOf(holding).length === 0, 5000, 'the FIFOs\' holders did not end after SIGKILL')
      sockets()
    })
    const runtime = {
      async run(args: string[]) {
        if (args[0] === 'create') throw new RpcError(Code.Unknown, 'runtime create failed: the config is not one it can run') // before it connects anywhere
        return { stdin: null, stdout: null, stderr: null }
      },
    } as unknown as Runtime
    const never = { exited: () => new Promise<Exit>(() => {}) } as unknown as Reaper
    const publisher = { publish: () => {}, flush: async () => {} } as unknown as Publisher
    const task = new Task({ id: 'c1', bundle: dir, runtime, reaper: never, publisher, mountRootfs: async () => {}, unmountRootfs: async () => {}, shutdown: () => {} })
    const failed = await caught(() => task.create({ id: 'c1', bundle: dir, rootfs: [], terminal: true, stdin, stdout, stderr: '' }))
    expect(failed, 'expected Create to fail when the runtime\'s create fails').toBeDefined()
    const left = () => holdersOf(holding).map((pid) => `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`)
    await waitUntil(() => left().length === 0, 5000, `the runtime's create failed before it connected to the console socket, and 5 s later ${JSON.stringify(left())} still held the process's FIFOs — what is it waiting for, who started it, and who must end it (the text's "A terminal")?`)
  })

  it('two Waits, then an exit with status 137, then State', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const waits = [t.task.wait({ id: 'c1', exec_id: '' }), t.task.wait({ id: 'c1', exec_id: '' })]
    t.exit(137)
    const answers = (await Promise.all(waits)) as { exit_status: number }[]
    expect(answers.map((a) => a.exit_status), 'expected both Waits answered with the exit\'s status').toEqual([137, 137])
    const state = (await t.task.state({ id: 'c1', exec_id: '' })) as { status: number; exit_status: number }
    expect([state.status, state.exit_status], 'expected State to show the exit').toEqual([Status.STOPPED, 137])
    expect(t.topics.filter((x) => x === '/tasks/exit'), 'expected one TaskExit for one exit').toHaveLength(1)
  })

  it('Delete while the process runs, then after it exited with 3', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const refused = await caught(() => t.task.delete({ id: 'c1', exec_id: '' }))
    expect(refused instanceof RpcError && !t.calls.some((c) => c[0] === 'delete'), `Delete of a running process answered ${refused ? `code ${refused.code}: ${refused.message}` : 'success'}, and the runtime was run for ${JSON.stringify(t.calls.map((c) => c[0]))} — what would the runtime's delete do to it behind containerd's back?`).toBe(true)
    t.exit(3)
    await t.task.wait({ id: 'c1', exec_id: '' })
    expect(await t.task.delete({ id: 'c1', exec_id: '' }), 'expected Delete to answer the PID and exit status').toMatchObject({ pid: PID, exit_status: 3 })
    expect(t.calls.map((c) => c[0]), 'expected the runtime\'s delete after the exit').toContain('delete')
    expect(t.topics.at(-1)).toBe('/tasks/delete')
    const gone = await caught(() => t.task.state({ id: 'c1', exec_id: '' }))
    const { stateDeleted } = await runcAnswers()
    expect(gone?.code === stateDeleted?.code, `State of the task once deleted answered ${gone ? `code ${gone.code}: ${gone.message}` : 'success'}, and containerd-shim-runc-v2 answered its deleted task's State ${stateDeleted ? `code ${stateDeleted.code}: ${stateDeleted.message}` : 'success'} — what is left of a deleted task for containerd to ask about?`).toBe(true)
  })

  it('an exec that exits with 4, then its Delete', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['true'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    await t.task.start({ id: 'c1', exec_id: 'e1' })
    t.execExit(4)
    await t.task.wait({ id: 'c1', exec_id: 'e1' })
    const before = t.topics.length
    expect(await t.task.delete({ id: 'c1', exec_id: 'e1' }), 'expected the exec\'s Delete to answer its PID and exit status').toMatchObject({ pid: EXEC_PID, exit_status: 4 })
    const told = t.topics.slice(before)
    expect(told.length, `the exec's Delete told containerd ${JSON.stringify(told)} — what does containerd-shim-runc-v2 publish when an exec is deleted, and what would ctr events and containerd's subscribers take each of these for (task/service.go, Delete)?`).toBe(0)
  })

  it('an exec that exits while a process it left behind holds its stdout', async () => {
    const t = standIn({ execOutputHeld: true })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['sh', '-c', 'sleep 600 & exit 2'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    await t.task.start({ id: 'c1', exec_id: 'e1' })
    t.execExit(2)
    const answer = await Promise.race([t.task.wait({ id: 'c1', exec_id: 'e1' }), new Promise((resolve) => setTimeout(() => resolve('no answer'), 10_000))])
    expect(answer, 'sh -c \'sleep 600 & exit 2\' as an exec: its exit got no Wait answer in 10 s, because sleep still holds the exec\'s stdout — what does ctr task exec, or docker exec, do meanwhile, and what does containerd-shim-runc-v2 do with an exit whose output has not ended (task/service.go; process/exec.go, delete)?').toMatchObject({ exit_status: 2 })
  }, 20_000)

  /** The init's output: `size` bytes, each 4 KiB page numbered, given to the copy as it asks. */
  const numbered = (size: number) => {
    let made = 0
    const stdout = new Readable({
      read() {
        if (made >= size) return void this.push(null)
        const chunk = Buffer.alloc(Math.min(65536, size - made))
        for (let i = 0; i < chunk.length; i += 4096) chunk.writeUInt32BE((made + i) / 4096, i)
        made += chunk.length
        this.push(chunk)
      },
    })
    onCleanup(() => stdout.destroy())
    return stdout
  }
  const readSome = (fd: number, buffer: Buffer) => {
    try {
      return readSync(fd, buffer)
    } catch {
      return 0 // EAGAIN: nothing in the FIFO now
    }
  }

  it('the init exits with 192 KiB of output still on its way to a reader that takes 4 KiB every 250 ms', async () => {
    const size = 192 << 10
    const { fifo, reader } = readerFifo()
    const t = standIn({ initOutput: { stdout: numbered(size), fifo } })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    t.exit(0) // the process is gone; the rest of its output is in the pipe, the copy and the FIFO
    const buffer = Buffer.alloc(4096)
    let got = 0
    let gotWhenTold = -1
    for (const end = Date.now() + 45_000; got < size && Date.now() < end; ) {
      if (gotWhenTold < 0 && t.told.includes('/tasks/exit c1')) gotWhenTold = got
      got += readSome(reader, buffer)
      await new Promise((resolve) => setTimeout(resolve, 250)) // a slow reader, but one that never stops
    }
    await waitUntil(() => t.told.includes('/tasks/exit c1'), 10_000, `the reader had read all ${got} bytes, and the exit was not told within 10 s`)
    if (gotWhenTold < 0) gotWhenTold = got
    expect(gotWhenTold, `the init exited with ${size} bytes of output still on their way to a reader that took 4 KiB every 250 ms and never stopped, and TaskExit was published when it had got ${gotWhenTold} — what does ctr 1.6.20 do with its FIFOs when it hears of the exit, and how would the shim tell a slow reader from one that has gone?`).toBe(size)
  }, 70_000)

  it('the init exits with 1 MiB of output still on its way to a reader that took 64 KiB and then stopped reading, and is deleted', async () => {
    const { fifo, reader } = readerFifo()
    const t = standIn({ initOutput: { stdout: numbered(1 << 20), fifo } })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    t.exit(0)
    const buffer = Buffer.alloc(65536)
    for (let got = 0, end = Date.now() + 10_000; got < 65536 && Date.now() < end; ) {
      got += readSome(reader, buffer.subarray(got))
      await tick()
    }
    // the reader stops here, with the FIFO still open: a ctr that was killed with its process group, say
    const answer = await Promise.race([t.task.wait({ id: 'c1', exec_id: '' }), new Promise((resolve) => setTimeout(() => resolve('no answer'), 15_000))])
    expect(answer, 'the init exited, and its reader took 64 KiB of its output and then read no more: Wait got no answer in 15 s — what would ctr run, and containerd after it, be waiting for, and for how long?').toMatchObject({ exit_status: 0 })
    await t.task.delete({ id: 'c1', exec_id: '' })
    // what this process has open on the reader's FIFO, besides the reader's own end
    const onFifo = () => readdirSync('/proc/self/fd').filter((fd) => Number(fd) !== reader && fdTarget(fd) === fifo)
    await waitUntil(() => onFifo().length === 0, 2000, '').catch(() => {})
    expect(onFifo(), `the init's exit was told and the task deleted; 2 s later the shim still had fds ${onFifo().join(', ')} open on the FIFO of a reader that had stopped reading — whose are they now, what else of that process's output is still held with them, and what would a reader that comes back to that FIFO find (runc's shim: process/init.go, delete)?`).toEqual([])
  }, 30_000)

  it('the init exits while an exec runs, whose exit the reaper reports after the init\'s', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['sleep', '600'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    await t.task.start({ id: 'c1', exec_id: 'e1' })
    t.exit(137) // the init dies; the kernel kills what else runs in its PID namespace
    await tick()
    t.execExit(137) // and the reaper reports the exec's end after the init's
    await Promise.race([Promise.all([t.task.wait({ id: 'c1', exec_id: '' }), t.task.wait({ id: 'c1', exec_id: 'e1' })]), new Promise((resolve) => setTimeout(resolve, 5000))])
    const exits = t.told.filter((x) => x.startsWith('/tasks/exit'))
    expect(exits.length === 2 && exits.indexOf('/tasks/exit e1') >= 0 && exits.indexOf('/tasks/exit e1') < exits.indexOf('/tasks/exit c1'), `the init died while exec e1 ran, then e1 died with it, and containerd was told ${JSON.stringify(exits)} — what does containerd, and dockerd after it, do with a task once it hears its init has exited, and where does an exec's exit told after that go (containerd 2.x's task/service.go)?`).toBe(true)
  })

  it('Start of an exec once the init has died, its output still being copied', async () => {
    const t = standIn({ initOutputHeld: true })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['true'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    t.exit(137) // reaped; its output has not reached its reader yet
    await tick()
    const started = await caught(() => t.task.start({ id: 'c1', exec_id: 'e1' }))
    const ran = t.calls.some((c) => c[0] === 'exec')
    expect(started instanceof RpcError && !ran, `the init had died (reaped, its exit not yet told while its output was still being copied) when Start of exec e1 came, and Start ${started ? `answered code ${started.code}: ${started.message}` : 'succeeded'}${ran ? ', after running the runtime\'s exec' : ''} — what would that exec join, and what did the init's record still say (containerd 2.x's task/service.go, Start)?`).toBe(true)
  })

  it('Kill of a process that has exited', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    t.exit(0)
    await t.task.wait({ id: 'c1', exec_id: '' })
    const error = await caught(() => t.task.kill({ id: 'c1', exec_id: '', signal: 9, all: false }))
    const { killExited } = await runcAnswers()
    expect(error?.code === killExited?.code, `Kill of an exited process answered ${error ? `code ${error.code}: ${error.message}` : 'success'}, and containerd-shim-runc-v2 answered the Kill of its exited task ${killExited ? `code ${killExited.code}: ${killExited.message}` : 'success'} — what does containerd, and docker kill after it, make of each answer?`).toBe(true)
  })

  it('Kill of an exec whose Start still waits for the runtime, and of one never started', async () => {
    let open!: () => void
    const t = standIn({ execGate: new Promise<void>((resolve) => (open = resolve)) })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['sleep', '600'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    await t.task.exec({ id: 'c1', exec_id: 'e2', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    // SIGWINCH, which nothing here minds, tells whether a Kill reached this process's own group
    let group = 0
    const hit = () => void group++
    process.on('SIGWINCH', hit)
    onCleanup(() => void process.off('SIGWINCH', hit))
    const starting = t.task.start({ id: 'c1', exec_id: 'e1' }) // the runtime's exec has not returned
    await tick()
    const during = await caught(() => t.task.kill({ id: 'c1', exec_id: 'e1', signal: osConstants.signals.SIGWINCH, all: false }))
    const never = await caught(() => t.task.kill({ id: 'c1', exec_id: 'e2', signal: osConstants.signals.SIGWINCH, all: false }))
    await tick()
    open()
    await starting
    expect(group, `Kill of exec e1, sent while its Start still waited for the runtime's exec, ${during ? `failed (${during.message})` : 'succeeded'}, and the shim's own process group got the signal — which PID did Kill signal, what does kill(2) do with it, and what did the process's record say while its Start ran?`).toBe(0)
    const { killExecNeverStarted: theirs } = await runcAnswers()
    expect(during?.code === theirs?.code && never?.code === theirs?.code, `Kill of exec e1 while its Start ran answered ${during ? `code ${during.code}` : 'success'}, and of e2, never started, ${never ? `code ${never.code}` : 'success'}; containerd-shim-runc-v2 answered the Kill of an exec it had never started ${theirs ? `code ${theirs.code}: ${theirs.message}` : 'success'} — is there a process to signal yet, and what will containerd make of each answer?`).toBe(true)
  })
  it('the init of a container that has no PID namespace of its own exits while an exec runs', async () => {
    // runc spec's namespaces but the pid one: the container's processes live in the host's PID namespace
    const config = { ociVersion: '1.0.2', process: { args: ['sleep', '600'], cwd: '/' }, root: { path: 'rootfs' }, linux: { namespaces: ['network', 'ipc', 'uts', 'mount'].map((type) => ({ type })) } }
    let t!: ReturnType<typeof standIn>
    // the stand-in runtime's kill does to e1 what runc's would do to that sleep (runc kill; signal(7))
    t = standIn({ config, onKill: (args) => void (args.includes('--all') && ended(args.at(-1)!) && t.execExit(128 + ended(args.at(-1)!)!)) })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['sleep', '600'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    await t.task.start({ id: 'c1', exec_id: 'e1' })
    t.exit(0) // the init ends; with no PID namespace of its own, the kernel kills nobody else
    const waits = Promise.all([t.task.wait({ id: 'c1', exec_id: 'e1' }), t.task.wait({ id: 'c1', exec_id: '' })])
    const answered = await Promise.race([waits.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000))])
    const exits = t.told.filter((x) => x.startsWith('/tasks/exit'))
    expect(answered && exits.length === 2, `the init of a container whose config.json gives it no PID namespace of its own exited while exec e1 (sleep 600) ran; 5 s later the Waits of e1 and of the init were ${answered ? '' : 'not '}both answered, and containerd had been told ${JSON.stringify(exits)} — who ends e1 when the kernel does not, what would ctr run --rm and dockerd wait for meanwhile, and what does containerd's runc shim do the moment an init's exit comes in (service.go at v1.6.20, checkProcesses)?`).toBe(true)
  })

  it('an exec whose runtime fails, with a Wait sent before its Start', async () => {
    const t = standIn({ execFails: 'exec failed: unable to start container process: exec: "/nosuch": stat /nosuch: no such file or directory' })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const before = readdirSync(t.bundle)
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['/nosuch'], cwd: '/' })) }
    await t.task.exec({ id: 'c1', exec_id: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })
    const waiting = t.task.wait({ id: 'c1', exec_id: 'e1' }) // ctr task exec, and dockerd, wait before they start
    waiting.catch(() => {}) // raced below
    const failed = await caught(() => t.task.start({ id: 'c1', exec_id: 'e1' }))
    const { execNoSuchFile: theirs } = await runcAnswers()
    // the words containerd-shim-runc-v2 put before the runtime's own
    const prefix = theirs?.message.slice(0, theirs.message.indexOf('exec failed: unable')) ?? ''
    expect(failed instanceof RpcError && failed.code === theirs?.code && failed.message.startsWith(prefix) && /no such file/.test(failed.message), `the runtime's exec failed with "exec failed: ...: no such file or directory", and Start answered ${failed ? `code ${failed.code}: ${failed.message}` : 'success'}; containerd-shim-runc-v2 answered the same failure ${theirs ? `code ${theirs.code}: ${theirs.message}` : 'success'} — what does containerd show for it, and what would it conclude from the code (the text's "The runtime's command line")?`).toBe(true)
    const answer = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve('no answer'), 5000))]).catch((e) => `code ${e.code}: ${e.message}`)
    expect(answer, 'the runtime\'s exec made no process, and the Wait sent for e1 before its Start got no answer in 5 s — what exit is it waiting for, what would ctr task exec or docker exec do meanwhile, and what does containerd\'s runc shim do with that Wait when runc exec fails (process/exec.go, start)?').not.toBe('no answer')
    const { execNoSuchFileWait: theirWait } = await runcAnswers()
    const shown = (a: unknown) => JSON.stringify(a, (key, value) => (key === 'exited_at' ? undefined : value))
    expect(shown(answer), `the Wait sent for e1 before its failed Start was answered ${shown(answer)}, and containerd-shim-runc-v2 answered the Wait of its exec that failed the same way ${shown(theirWait)} — which process's exit status is that, and what would a client waiting on it take it for?`).toBe(shown(theirWait))
    const deleted = await caught(() => t.task.delete({ id: 'c1', exec_id: 'e1' }))
    expect(deleted, `after its failed Start, Delete of exec e1 answered code ${deleted?.code}: ${deleted?.message} — in what state did the failed Start leave its record?`).toBeUndefined()
    const left = readdirSync(t.bundle).filter((f) => !before.includes(f))
    expect(left, 'the exec that failed left these in the bundle — who else would ever remove them?').toEqual([])
  })

  it('execs whose ids are "../NAME" and "x/../../NAME", each started', async () => {
    const t = standIn({ execOutputHeld: true })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const outside = dirname(t.bundle)
    const name = `exec-${process.pid}-${Date.now()}` // made at test time: nothing else in the bundle's parent carries it
    const mine = () => readdirSync(outside).filter((f) => f.includes(name))
    onCleanup(() => mine().forEach((f) => rmSync(join(outside, f), { recursive: true, force: true })))
    const before = readdirSync(t.bundle)
    const spec = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args: ['sleep', '600'], cwd: '/' })) }
    const said: string[] = []
    for (const execId of [`../${name}`, `x/../../${name}`]) {
      const failed = await caught(async () => {
        await t.task.exec({ id: 'c1', exec_id: execId, terminal: false, stdin: '', stdout: '', stderr: '', spec })
        await t.task.start({ id: 'c1', exec_id: execId })
      })
      said.push(failed ? `${execId}: code ${failed.code}: ${failed.message}` : `${execId}: started`)
    }
    expect(mine(), `after execs ${JSON.stringify(said)}, these appeared beside the bundle, in ${outside} — whose word named them, and what does containerd check of an exec id before it reaches a shim (and does every client of a shim go through containerd)?`).toEqual([])
    const unclear = said.filter((s) => !s.endsWith(': started') && !s.slice(s.indexOf(': code ') + 7).includes(name))
    expect(unclear, 'these execs were refused with words that do not name the exec id they refused — how would whoever sent it find out what was wrong?').toEqual([])
    const left = readdirSync(t.bundle).filter((f) => !before.includes(f))
    expect(left, `after those execs the bundle holds ${JSON.stringify(left)} that it did not before — who would ever remove them?`).toEqual([])
  })
})

describeKernel('Create, on the kernel', () => {
  it('a rootfs of two mounts whose second fails, Create sent over ttrpc', async () => {
    const bundle = tempDir('minidocker-create-mounts-')
    const rootfs = join(bundle, 'rootfs')
    mkdirSync(rootfs)
    const mountsOnRootfs = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.split(' ')[4] === rootfs).length
    onCleanup(() => {
      for (let i = 0; i < 10 && mountsOnRootfs() > 0; i++) execFileSync('umount', ['-l', rootfs])
    })
    const runs: string[][] = []
    const runtime = {
      async run(args: string[]) {
        runs.push(args)
        throw new RpcError(Code.Unknown, 'the runtime is not meant to run here')
      },
      async ps() {
        return []
      },
    } as unknown as Runtime
    const never = { exited: (pid: Promise<number>) => pid.then(() => new Promise<Exit>(() => {})) } as unknown as Reaper
    const publisher = { publish: () => {}, flush: async () => {} } as unknown as Publisher
    const task = new Task({ id: 'c1', bundle, runtime, reaper: never, publisher, mountRootfs: (m) => mountRootfs(bundle, m), unmountRootfs: () => unmountRootfs(bundle), shutdown: () => {} })
    // containerd's side of the wire: the shim's Task service on a socket, and a client
    const server = await serveTtrpc([taskService(task)])
    const client = await dialTtrpc(server.path)
    onCleanup(() => client.close())
    // a snapshot of two mounts: a tmpfs, then an overlay whose lower layer was removed meanwhile
    const upper = join(bundle, 'upper')
    const work = join(bundle, 'work')
    mkdirSync(upper)
    mkdirSync(work)
    const mounts = [
      { type: 'tmpfs', source: 'tmpfs', target: '', options: ['size=1m'] },
      { type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=${join(bundle, 'gone')}`, `upperdir=${upper}`, `workdir=${work}`] },
    ]
    const failed = await caught(() => shimCall(client, 'Create', { id: 'c1', bundle, rootfs: mounts, terminal: false, stdin: '', stdout: '', stderr: '' }))
    if (server.thrown()) throw server.thrown()
    expect(failed instanceof RpcError, `the second of Create's two rootfs mounts failed (its lower layer is gone), and containerd was told ${failed ? `${failed.message}` : 'that Create succeeded, with a PID'} — what reached the wire for that error, and what does a status carry for an error that Node or the helper threw (what is its \`code\`)?`).toBe(true)
    expect(failed.code === Code.Unknown && /gone|no such file/i.test(failed.message), `containerd was told code ${failed.code}: ${failed.message} — which code does containerd's runc shim give a mount that failed, and do the words say why?`).toBe(true)
    expect([mountsOnRootfs(), runs.length], `Create failed at the second rootfs mount; ${mountsOnRootfs()} mount(s) stayed on the bundle's rootfs and the runtime ran ${runs.length} time(s) — what of it was already done when the second failed, who takes it off again, and when (containerd's runc shim: runc/container.go, NewContainer)?`).toEqual([0, 0])
  })
})

describe('the copy into containerd\'s FIFOs', () => {
  it('"hello" left unread in the stdout FIFO, then read', async () => {
    const { fifo, reader } = readerFifo()
    const output = new PassThrough()
    output.end('hello\n')
    let done = false
    const copying = copyStdio({ stdin: '', stdout: fifo, stderr: '' }, { stdin: null, stdout: output, stderr: null })
    copying.done.then(() => (done = true))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(done, 'expected the copy not done while "hello" waits unread in the FIFO — what does ctr 1.6.20 do to its FIFOs once it hears of the exit, and when is output really delivered (the text\'s "The FIFOs")?').toBe(false)
    const buffer = Buffer.alloc(64)
    const n = readSync(reader, buffer)
    expect(buffer.subarray(0, n).toString(), 'expected the output in the FIFO').toBe('hello\n')
    await Promise.race([copying.done, new Promise((resolve) => setTimeout(resolve, 5000))])
    expect(done, 'expected the copy done once the reader had read the FIFO').toBe(true)
  })

  it('an exec\'s stderr that has ended already, empty, before the copy begins', async () => {
    const { fifo } = readerFifo('stderr')
    // as runc exec --detach leaves it for a quick exec: read to its end before the shim copies it
    const output = new PassThrough()
    output.resume()
    output.end()
    await once(output, 'end')
    let done = false
    const copying = copyStdio({ stdin: '', stdout: '', stderr: fifo }, { stdin: null, stdout: null, stderr: output })
    copying.done.then(() => (done = true))
    await Promise.race([copying.done, new Promise((resolve) => setTimeout(resolve, 10_000))])
    expect(done, 'the exec\'s stderr had ended, with nothing in it, before copyStdio got it, and 10 s later the copy into its FIFO is not done: ctr waits for that FIFO\'s end-of-file — in what state are its pipes when copyStdio gets them, and which ways of copying notice an end that has come already?').toBe(true)
  })

  it('32 MiB of output into a FIFO whose reader waits, then reads it all', async () => {
    const { fifo, reader } = readerFifo() // ctr's side, not reading yet
    const size = 32 << 20
    let made = 0 // how much of the process's output the copy has taken so far
    const output = new Readable({
      read() {
        if (made >= size) return void this.push(null)
        const n = Math.min(65536, size - made)
        const chunk = Buffer.alloc(n)
        for (let i = 0; i < n; i += 4096) chunk.writeUInt32BE((made + i) / 4096, i) // each 4 KiB page numbered
        made += n
        this.push(chunk)
      },
    })
    onCleanup(() => output.destroy())
    let done = false
    const copying = copyStdio({ stdin: '', stdout: fifo, stderr: '' }, { stdin: null, stdout: output, stderr: null })
    copying.done.then(() => (done = true))
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(made, `the reader had read nothing yet, and the copy had already taken ${made} of the process's ${size} bytes — where did it put them, and what happens to the shim with a container that writes for ever to a reader that has gone away for a while (containerd restarting)? What keeps a writer from running ahead of its reader?`).toBeLessThanOrEqual(8 << 20)
    const buffer = Buffer.alloc(1 << 20)
    let got = 0
    let wrong = -1
    for (const end = Date.now() + 30_000; got < size && Date.now() < end; ) {
      let n = 0
      try {
        n = readSync(reader, buffer)
      } catch {} // EAGAIN: nothing in the FIFO now
      if (n === 0) {
        await new Promise((resolve) => setImmediate(resolve))
        continue
      }
      for (let i = (4096 - (got % 4096)) % 4096; i + 4 <= n && wrong < 0; i += 4096) if (buffer.readUInt32BE(i) !== (got + i) / 4096) wrong = got + i
      got += n
    }
    expect([got, wrong], `the reader got ${got} of ${size} bytes${wrong >= 0 ? `, the first out of place at byte ${wrong}` : ''} — what became of the rest?`).toEqual([size, -1])
    await Promise.race([copying.done, new Promise((resolve) => setTimeout(resolve, 5000))])
    expect(done, 'expected the copy done once the reader had read everything').toBe(true)
  }, 60_000)

  it('stdin: "abc" written, then CloseIO at once', async () => {
    const fifo = join(tempDir(), 'stdin')
    execFileSync('mkfifo', [fifo])
    const input = new PassThrough() // the process's stdin
    let read = ''
    let ended = false
    input.on('data', (chunk: Buffer) => (read += chunk))
    input.on('end', () => (ended = true))
    const copying = copyStdio({ stdin: fifo, stdout: '', stderr: '' }, { stdin: input, stdout: null, stderr: null })
    // ctr's side: it writes what its stdin held and, at its stdin's end, sends CloseIO at once
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
    onCleanup(() => closeSync(writer))
    writeFileSync(writer, 'abc\n')
    copying.closeStdin()
    for (const end = Date.now() + 5000; !ended && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 20))
    expect({ read, ended }, 'CloseIO right after ctr\'s last write: expected the process to read every byte, then end-of-file — what becomes of what the FIFO holds when CloseIO comes (the text\'s "The FIFOs")?').toEqual({ read: 'abc\n', ended: true })
  })
})
