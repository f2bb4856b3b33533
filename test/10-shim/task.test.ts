/**
 * The Task service's life cycle with a stand-in runtime, reaper and publisher, so that the
 * races containerd meets can be made to happen on purpose: an exit while Start still runs.
 */
import { closeSync, constants, openSync, readSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Publisher } from '#ch/10-shim/events.ts'
import { copyStdio } from '#ch/10-shim/stdio.ts'
import type { Exit, Reaper } from '#ch/10-shim/reaper.ts'
import type { Runtime } from '#ch/10-shim/runtime.ts'
import { Task } from '#ch/10-shim/task.ts'
import { FrameReader, TYPE_RESPONSE, encodeFrame } from '#ch/10-shim/ttrpc.ts'
import { Code, Status, decode, encode } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'

const PID = 4242

/** A Task whose runtime, reaper and publisher are stand-ins the test controls. */
function standIn(options: { onStart?: () => Promise<void> } = {}) {
  const bundle = tempDir()
  const calls: string[][] = []
  const topics: string[] = []
  let exit!: (e: Exit) => void
  const exited = new Promise<Exit>((resolve) => (exit = resolve))
  const ended = () => {
    const s = new PassThrough()
    s.end()
    return s
  }
  const runtime = {
    async run(args: string[]) {
      calls.push(args)
      if (args[0] === 'create') writeFileSync(args[args.indexOf('--pid-file') + 1]!, String(PID))
      if (args[0] === 'start') await options.onStart?.()
      return { stdin: null, stdout: ended(), stderr: ended() }
    },
    async ps() {
      return [PID]
    },
  } as unknown as Runtime
  const reaper = { exited: (pid: number) => (pid === PID ? exited : new Promise<Exit>(() => {})) } as unknown as Reaper
  const publisher = { publish: (topic: string) => topics.push(topic), flush: async () => {} } as unknown as Publisher
  const task = new Task({
    id: 'c1', bundle, runtime, reaper, publisher,
    mountRootfs: async () => {}, unmountRootfs: async () => {}, shutdown: () => {},
  })
  const create = () => task.create({ id: 'c1', bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '' })
  return { task, calls, topics, exit: (status: number) => exit({ pid: PID, status, at: new Date() }), create }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20))

describe('the Task service', () => {
  it('runs create and start through the runtime and answers the PID', async () => {
    const t = standIn()
    expect(await t.create(), 'expected Create to answer the PID from the runtime\'s pid file').toEqual({ pid: PID })
    expect((await t.task.state({ id: 'c1', exec_id: '' }) as { status: number }).status, 'expected CREATED after Create').toBe(Status.CREATED)
    await t.task.start({ id: 'c1', exec_id: '' })
    expect(t.calls.map((c) => c[0]), 'expected the runtime\'s create, then its start').toEqual(['create', 'start'])
    expect((await t.task.state({ id: 'c1', exec_id: '' }) as { status: number }).status, 'expected RUNNING after Start').toBe(Status.RUNNING)
  })

  it('publishes TaskExit only after TaskStart, even when the process exits while Start still runs', async () => {
    let t!: ReturnType<typeof standIn>
    t = standIn({ onStart: async () => {
      t.exit(0)
      await tick()
    } })
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    await t.task.wait({ id: 'c1', exec_id: '' })
    expect(t.topics, 'expected /tasks/create, /tasks/start, /tasks/exit — TaskExit went out before TaskStart: does the exit wait until a Start in progress has published TaskStart?').toEqual(['/tasks/create', '/tasks/start', '/tasks/exit'])
  })

  it('answers Wait and State with the exit status, once and the same for every caller', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const waits = [t.task.wait({ id: 'c1', exec_id: '' }), t.task.wait({ id: 'c1', exec_id: '' })]
    t.exit(137)
    const answers = (await Promise.all(waits)) as { exit_status: number }[]
    expect(answers.map((a) => a.exit_status), 'expected both waiters to get 137').toEqual([137, 137])
    const state = (await t.task.state({ id: 'c1', exec_id: '' })) as { status: number; exit_status: number }
    expect([state.status, state.exit_status], 'expected State STOPPED with exit status 137').toEqual([Status.STOPPED, 137])
    expect(t.topics.filter((x) => x === '/tasks/exit'), 'expected exactly one TaskExit').toHaveLength(1)
  })

  it('refuses to delete a running process, and deletes a stopped one with its exit status', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    const refused = await caught(() => t.task.delete({ id: 'c1', exec_id: '' }))
    expect(refused?.code, `expected Delete of a running process to fail with FailedPrecondition (9) but saw ${refused?.code ?? 'success'} — containerd must kill it first`).toBe(Code.FailedPrecondition)
    t.exit(3)
    await t.task.wait({ id: 'c1', exec_id: '' })
    expect(await t.task.delete({ id: 'c1', exec_id: '' }), 'expected Delete to answer the PID and exit status').toMatchObject({ pid: PID, exit_status: 3 })
    expect(t.calls.map((c) => c[0]), 'expected the runtime\'s delete after the exit').toContain('delete')
    expect(t.topics.at(-1)).toBe('/tasks/delete')
    const gone = await caught(() => t.task.state({ id: 'c1', exec_id: '' }))
    expect(gone?.code, 'expected NotFound (5) for the task once deleted').toBe(Code.NotFound)
  })

  it('answers NotFound when killing a process that already exited', async () => {
    const t = standIn()
    await t.create()
    await t.task.start({ id: 'c1', exec_id: '' })
    t.exit(0)
    await t.task.wait({ id: 'c1', exec_id: '' })
    const error = await caught(() => t.task.kill({ id: 'c1', exec_id: '', signal: 9, all: false }))
    expect([error?.code, error?.message], `Kill of an exited process answered ${error ? `code ${error.code}: ${error.message}` : 'success'} — containerd takes a kill's error for "the process is gone" only when it has the code and words of kill's doc comment; any other error it passes on to ctr task kill and docker kill as a failure`).toEqual([Code.NotFound, expect.stringMatching(/process already finished/)])
  })
})

describe('the event publisher', () => {
  it('sends events one at a time, in order, and dials again when containerd comes back', async () => {
    const path = join(tempDir(), 'ttrpc.sock')
    const received: string[] = []
    const sockets: Socket[] = []
    let firstAnswered = false
    let early = ''
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => socket.destroy())
      const reader = new FrameReader()
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          const topic = decode('containerd.services.events.ttrpc.v1.ForwardRequest', decode('ttrpc.Request', frame.payload!).payload).envelope.topic
          if (received.length > 0 && !firstAnswered) early ||= topic
          const first = received.length === 0
          received.push(topic)
          setTimeout(() => {
            if (first) firstAnswered = true
            if (socket.writableEnded) return // this connection was closed: the publisher must dial again
            socket.write(encodeFrame(frame.streamId, TYPE_RESPONSE, encode('ttrpc.Response', { payload: Buffer.alloc(0) })))
            if (topic === '/tasks/start') socket.end() // containerd goes away after the second event
          }, first ? 300 : 0)
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    onCleanup(() => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    })
    const publisher = new Publisher(path, 'ns')
    publisher.publish('/tasks/create', { container_id: 'c' })
    publisher.publish('/tasks/start', { container_id: 'c', pid: 1 })
    publisher.publish('/tasks/exit', { container_id: 'c', pid: 1, exit_status: 0 })
    await publisher.flush()
    expect(early, `expected nothing sent before the first event was answered, but ${early} was — is each event sent only after the one before it was delivered?`).toBe('')
    // an event whose answer was lost with the connection may arrive twice: delivery is at least once
    expect([...new Set(received)], 'expected create, start, exit in order; exit after the connection was closed — does a failed call dial again?').toEqual(['/tasks/create', '/tasks/start', '/tasks/exit'])
    expect(sockets.length, 'expected a second connection after containerd closed the first').toBe(2)
  })
})

describe('the copy into containerd\'s FIFOs', () => {
  it('is done only once the reader has read the output: ctr closes its FIFOs when it hears of the exit', async () => {
    const fifo = join(tempDir(), 'stdout')
    execFileSync('mkfifo', [fifo])
    // ctr's side: a read end that reads only when the test says so
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    onCleanup(() => closeSync(reader))
    const output = new PassThrough()
    output.end('hello\n')
    let done = false
    const copying = copyStdio({ stdin: '', stdout: fifo, stderr: '' }, { stdin: null, stdout: output, stderr: null })
    copying.done.then(() => (done = true))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(done, 'expected the copy not done while "hello" waits unread in the FIFO — ctr 1.6.20 closes its FIFOs as soon as the exit is reported: does done wait until the reader has read the FIFO (outputRead)?').toBe(false)
    const buffer = Buffer.alloc(64)
    const n = readSync(reader, buffer)
    expect(buffer.subarray(0, n).toString(), 'expected the output in the FIFO').toBe('hello\n')
    await Promise.race([copying.done, new Promise((resolve) => setTimeout(resolve, 5000))])
    expect(done, 'expected the copy done once the reader had read the FIFO').toBe(true)
  })
})
