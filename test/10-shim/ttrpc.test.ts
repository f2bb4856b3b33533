/**
 * ttrpc framing, server and client, on a real unix socket: what containerd sends a shim, and
 * what a hostile or broken client may send instead. containerd's own shim, containerd-shim-runc-v2,
 * is the measure: its ttrpc is the one containerd speaks.
 */
import { connect, createServer, type Socket } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FrameReader, HEADER_SIZE, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, encodeFrame, serveConnection, type Service } from '#ch/10-shim/ttrpc.ts'
import { dialTtrpc } from '../../lib/ttrpc-client.ts'
import { Code, RpcError, decode, encode, serviceMethods } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { runcShim, serveTtrpc } from './support.ts'

const SERVICE = 'containerd.task.v2.Task'

/** A Task service whose State answers at once and whose Wait answers when released. */
function testService(): { service: Service; release(): void } {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const service: Service = {
    name: SERVICE,
    methods: {
      State: { request: 'containerd.task.v2.StateRequest', response: 'containerd.task.v2.StateResponse', handle: async (r) => ({ id: r.id, pid: 42, status: 2 }) },
      Wait: { request: 'containerd.task.v2.WaitRequest', response: 'containerd.task.v2.WaitResponse', handle: async () => (await released, { exit_status: 7 }) },
      Kill: { request: 'containerd.task.v2.KillRequest', response: 'google.protobuf.Empty', handle: async () => { throw new RpcError(Code.Unavailable, 'the test service says no') } },
      Pause: { request: 'containerd.task.v2.PauseRequest', response: 'google.protobuf.Empty' },
      // a container with 700000 processes
      Pids: { request: 'containerd.task.v2.PidsRequest', response: 'containerd.task.v2.PidsResponse', handle: async () => ({ processes: Array.from({ length: 700_000 }, (_, i) => ({ pid: 4_000_000 - i })) }) },
    },
  }
  return { service, release }
}

/** What serveConnection threw on the last server listen() made, if it did: the test reports that rather than a silence. */
let thrownBy: () => unknown = () => undefined

async function listen(service: Service): Promise<string> {
  const server = await serveTtrpc([service])
  thrownBy = server.thrown
  return server.path
}

/** A raw connection that collects the response frames it receives. */
async function raw(path: string): Promise<{ socket: Socket; frames: ReturnType<FrameReader['push']>; next(): Promise<ReturnType<FrameReader['push']>[number]> }> {
  const socket = connect(path.replace(/^unix:\/\//, ''))
  await new Promise((resolve) => socket.once('connect', resolve))
  onCleanup(() => socket.destroy())
  const reader = new FrameReader()
  const frames: ReturnType<FrameReader['push']> = []
  let wake = () => {}
  let unread: unknown // what the reader threw (a starter's NotImplementedError, say), reported by next()
  socket.on('data', (chunk: Buffer) => {
    try {
      frames.push(...reader.push(chunk))
    } catch (error) {
      unread ??= error
    }
    wake()
  })
  return {
    socket,
    frames,
    async next() {
      const deadline = Date.now() + 5000
      while (frames.length === 0) {
        if (unread) throw unread
        if (thrownBy()) throw thrownBy()
        if (Date.now() > deadline || socket.destroyed) throw new Error('expected a response frame within 5 s but none came — does the server answer every request, errors included?')
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 50)
        })
      }
      return frames.shift()!
    },
  }
}

const request = (method: string, type: string, value: object) =>
  encode('ttrpc.Request', { service: SERVICE, method, payload: encode(type, value) })
const status = (frame: { payload: Buffer | null }) => decode('ttrpc.Response', frame.payload!).status

/**
 * A header announcing MAX_MESSAGE + 1 bytes on `streamId`, made of encodeFrame's own headers:
 * the bits of the one for MAX_MESSAGE bytes and of the one for 1 byte, together.
 */
function oversizedHeader(streamId: number): Buffer {
  const max = encodeFrame(streamId, TYPE_REQUEST, Buffer.alloc(MAX_MESSAGE)).subarray(0, HEADER_SIZE)
  const one = encodeFrame(streamId, TYPE_REQUEST, Buffer.alloc(1)).subarray(0, HEADER_SIZE)
  return Buffer.from(max.map((byte, i) => byte | one[i]!))
}

/** The bytes a server at `address` sends back for `bytes`, once it has been quiet for 200 ms (3 s at most). */
async function rawAnswer(address: string, bytes: Buffer): Promise<Buffer> {
  const socket = connect(address.replace(/^unix:\/\//, ''))
  onCleanup(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  const chunks: Buffer[] = []
  let last = 0
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    last = Date.now()
  })
  socket.write(bytes)
  const end = Date.now() + 3000
  while (Date.now() < end && !(chunks.length > 0 && Date.now() - last > 200)) await new Promise((resolve) => setTimeout(resolve, 20))
  socket.destroy()
  return Buffer.concat(chunks)
}

/** What a ttrpc answer's payload says, for a failure message: its status, or that it does not decode. */
function said(payload: Buffer): string {
  try {
    const s = decode('ttrpc.Response', payload).status
    return s ? `status ${s.code}: ${s.message}` : 'an answer'
  } catch {
    return 'bytes that are no ttrpc.Response'
  }
}

/**
 * The answers a server gives on one connection to a client that misbehaves, as [stream id, gRPC
 * code] in stream id order: a frame over the limit (1), a request on stream 2, bytes that are no
 * ttrpc.Request (3), an unknown method (5), an unknown service (7), a frame of type 7 (9), a
 * State whose payload is no StateRequest (11), a frame of type 7 over the limit (15). Then a State
 * (13), whose answer shows the connection still serves.
 */
async function misbehave(path: string): Promise<{ faults: [number, number | undefined][]; last: ReturnType<FrameReader['push']>[number] }> {
  const conn = await raw(path)
  const state = (id: string) => request('State', 'containerd.task.v2.StateRequest', { id })
  conn.socket.write(Buffer.concat([oversizedHeader(1), Buffer.alloc(MAX_MESSAGE + 1)]))
  conn.socket.write(encodeFrame(2, TYPE_REQUEST, state('c')))
  conn.socket.write(encodeFrame(3, TYPE_REQUEST, Buffer.from(state('c')).subarray(0, 12)))
  conn.socket.write(encodeFrame(5, TYPE_REQUEST, request('Frobnicate', 'containerd.task.v2.StateRequest', {})))
  conn.socket.write(encodeFrame(7, TYPE_REQUEST, encode('ttrpc.Request', { service: 'no.such.Service', method: 'State' })))
  conn.socket.write(encodeFrame(9, 7, state('c')))
  conn.socket.write(encodeFrame(11, TYPE_REQUEST, encode('ttrpc.Request', { service: SERVICE, method: 'State', payload: Buffer.from([0xff, 0xff, 0xff]) })))
  const oversizedOther = oversizedHeader(15)
  oversizedOther[8] = 7
  conn.socket.write(Buffer.concat([oversizedOther, Buffer.alloc(MAX_MESSAGE + 1)]))
  conn.socket.write(encodeFrame(13, TYPE_REQUEST, state('c')))
  const frames: ReturnType<FrameReader['push']> = []
  while (!frames.some((f) => f.streamId === 13)) frames.push(await conn.next())
  await new Promise((resolve) => setTimeout(resolve, 100)) // anything else it was going to send
  frames.push(...conn.frames.splice(0))
  const last = frames.find((f) => f.streamId === 13)!
  const faults = frames.filter((f) => f !== last).sort((x, y) => x.streamId - y.streamId)
  return { faults: faults.map((f) => [f.streamId, f.type === TYPE_RESPONSE ? status(f)?.code : -f.type]), last }
}

describe('ttrpc frames', () => {
  it('a 70000-byte payload on stream 0x01020305, encoded and read back', () => {
    const payload = Buffer.alloc(70_000, 7)
    payload.write('end', payload.length - 3)
    const streamId = 0x01020305
    const frame = encodeFrame(streamId, TYPE_RESPONSE, payload)
    const got = new FrameReader().push(frame)
    expect(got.map((f) => [f.streamId, f.type, f.length, f.payload?.equals(payload)]), 'the frame did not read back as it was written — its stream id, type, length or payload came back different (ttrpc\'s channel.go: what a peer reads, and in which byte order)').toEqual([[streamId, TYPE_RESPONSE, 70_000, true]])
  })

  it('two frames pushed as chunks of 4 bytes, 8 bytes and the rest', () => {
    const a = encodeFrame(1, TYPE_REQUEST, Buffer.from('first'))
    const b = encodeFrame(3, TYPE_REQUEST, Buffer.from('second'))
    const reader = new FrameReader()
    const all = Buffer.concat([a, b])
    const got = [...reader.push(all.subarray(0, 4)), ...reader.push(all.subarray(4, 12)), ...reader.push(all.subarray(12))]
    expect(got.map((f) => [f.streamId, f.payload?.toString()]), 'expected both frames whole and in order — what became of the bytes of a frame whose rest came in a later chunk?').toEqual([[1, 'first'], [3, 'second']])
  })

  it('a header announcing MAX_MESSAGE + 1 bytes, its payload in two chunks, then a frame', () => {
    const reader = new FrameReader()
    const first = reader.push(oversizedHeader(1))
    // what a server can act on now: a frame for stream 1, and how many of its bytes were handed over
    const seen = first.map((f) => `stream ${f.streamId}, ${f.payload ? `${f.payload.length} bytes of payload` : 'no payload'}, length ${f.length}`)
    expect([first.length, first[0]?.streamId, first[0]?.payload?.length ?? 0, (first[0]?.length ?? 0) > MAX_MESSAGE], `a header announcing MAX_MESSAGE + 1 bytes, pushed alone, came out as ${JSON.stringify(seen)} — when can the server answer that frame, with what, and what would it need to know for it?`).toEqual([1, 1, 0, true])
    const filler = Buffer.alloc(MAX_MESSAGE + 1)
    const after = [...reader.push(filler.subarray(0, 1000)), ...reader.push(Buffer.concat([filler.subarray(1000), encodeFrame(3, TYPE_REQUEST, Buffer.from('ok'))]))]
    expect(after.map((f) => [f.streamId, f.payload?.toString()]), 'expected only the next frame after the oversized payload — what did the reader make of that payload\'s bytes?').toEqual([[3, 'ok']])
  })

  it('a corrupt header, then a client that has been connected for a long time', () => {
    // a broken or hostile client: every bit of the two numbers set (type and flags as a request has them)
    const header = Buffer.from(encodeFrame(1, TYPE_REQUEST, Buffer.alloc(0)).subarray(0, HEADER_SIZE)).fill(0xff, 0, 8)
    const reader = new FrameReader()
    const first = reader.push(header)
    const asSent = first.length === 1 && first[0]!.streamId === 2 ** 32 - 1 && first[0]!.length === 2 ** 32 - 1 && first[0]!.payload === null
    expect(asSent, `a header announcing 4294967295 bytes on stream 4294967295 came out as ${JSON.stringify(first.map((f) => [f.streamId, f.payload && `${f.payload.length} bytes`, f.length]))} ([stream id, payload, length]) — how large can a header's numbers be, and what did your reader turn these into?`).toBe(true)
    const mib = Buffer.alloc(1 << 20)
    const after: ReturnType<FrameReader['push']> = []
    for (let i = 0; i < 4095; i++) after.push(...reader.push(mib))
    after.push(...reader.push(Buffer.concat([mib.subarray(1), encodeFrame(0x80000001, TYPE_REQUEST, Buffer.from('ok'))])))
    expect(after.map((f) => [f.streamId, f.payload?.toString()]), 'expected only the frame on stream 2147483649 once those 4294967295 bytes had gone by — what did the reader make of them, or of that stream id?').toEqual([[0x80000001, 'ok']])
    const answer = new FrameReader().push(encodeFrame(0xfffffffd, TYPE_RESPONSE, Buffer.from('x')))
    expect(answer.map((f) => [f.streamId, f.type, f.payload?.toString()]), 'an answer on stream 4294967293 did not read back as written — which stream ids does a ttrpc client use on a connection that lives long enough?').toEqual([[0xfffffffd, TYPE_RESPONSE, 'x']])
  }, 30_000)

  it('a MAX_MESSAGE payload pushed 64 bytes at a time', () => {
    // A socket under load hands over small chunks: here, 64 bytes each.
    const payload = Buffer.alloc(MAX_MESSAGE, 1)
    payload.write('end', MAX_MESSAGE - 3)
    const bytes = encodeFrame(5, TYPE_REQUEST, payload)
    const reader = new FrameReader()
    const got: ReturnType<FrameReader['push']> = []
    const limit = 10_000
    const began = Date.now()
    for (let at = 0; at < bytes.length; at += 64) {
      got.push(...reader.push(bytes.subarray(at, at + 64)))
      const spent = Date.now() - began
      if (spent > limit) {
        expect.fail(`after ${spent} ms the reader had taken ${at + 64} of the ${bytes.length} bytes of one frame, pushed 64 at a time, and had not finished — what did each push spend its time on?`)
      }
    }
    expect(got.map((f) => [f.streamId, f.length, f.payload?.equals(payload)]), 'expected the one frame, whole').toEqual([[5, MAX_MESSAGE, true]])
  }, 30_000)

  it('64 slow clients, each part way into a large request', () => {
    const header = encodeFrame(1, TYPE_REQUEST, Buffer.alloc(MAX_MESSAGE)).subarray(0, HEADER_SIZE)
    const readers: FrameReader[] = []
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < 64; i++) {
      const reader = new FrameReader()
      readers.push(reader)
      expect(reader.push(Buffer.from(header)), 'a header alone is no frame yet').toEqual([])
      expect(reader.push(Buffer.alloc(100, i)), 'a header and 100 bytes are no frame yet').toEqual([])
    }
    const grown = (process.memoryUsage().arrayBuffers - before) / (1 << 20)
    expect(grown < 32, `64 readers, each with a header announcing ${MAX_MESSAGE} bytes and 100 bytes of its payload, held ${grown.toFixed(0)} MiB more than before, while 6400 bytes of payload had arrived — what was that memory for, and what would 64 more such clients cost?`).toBe(true)
    // the frames still complete
    const rest = Buffer.alloc(MAX_MESSAGE - 100, 9)
    const got = readers[0]!.push(rest)
    expect(got.map((f) => [f.streamId, f.length, f.payload?.length, f.payload?.[0], f.payload?.[100]]), 'expected the frame whole once all its bytes were in').toEqual([[1, MAX_MESSAGE, MAX_MESSAGE, 0, 9]])
  })
})

describe('a ttrpc server', () => {
  it('a State sent while a Wait is outstanding on the same connection', async () => {
    const { service, release } = testService()
    const client = await dialTtrpc(await listen(service))
    onCleanup(() => client.close())
    const wait = client.call(SERVICE, 'Wait', 'containerd.task.v2.WaitRequest', { id: 'c' }, 'containerd.task.v2.WaitResponse')
    wait.catch(() => {}) // awaited below; a failure before then is reported by the first await
    const state = await Promise.race([
      client.call(SERVICE, 'State', 'containerd.task.v2.StateRequest', { id: 'c' }, 'containerd.task.v2.StateResponse'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('State got no answer while Wait was outstanding — what does ctr run send before Start, and what would hold a State back behind it (the text\'s "Many calls on one connection")?')), 3000)),
    ])
    expect(state).toMatchObject({ id: 'c', pid: 42, status: 2 })
    release()
    expect(await wait, 'expected Wait\'s own answer on its own stream').toMatchObject({ exit_status: 7 })
  })

  it('a Kill whose handler throws an RpcError', async () => {
    const client = await dialTtrpc(await listen(testService().service))
    onCleanup(() => client.close())
    const error = await caught(() => client.call(SERVICE, 'Kill', 'containerd.task.v2.KillRequest', { id: 'c', signal: 9 }, 'google.protobuf.Empty'))
    expect(error, 'expected the call to reject with an RpcError').toBeInstanceOf(RpcError)
    expect([error.code, error.message], 'expected the handler\'s code and message in the response\'s status').toEqual([Code.Unavailable, 'the test service says no'])
  })

  it('a method the server lists without a handler', async () => {
    const conn = await raw(await listen(testService().service))
    conn.socket.write(encodeFrame(1, TYPE_REQUEST, request('Pause', 'containerd.task.v2.PauseRequest', { id: 'c' })))
    const answer = await conn.next()
    // the measure: what containerd-shim-runc-v2 answers a method it has no code for
    const theirs = await rawAnswer(await runcShim(), encodeFrame(1, TYPE_REQUEST, request('Frobnicate', 'containerd.task.v2.StateRequest', {})))
    expect([answer.streamId, status(answer)?.code], `a Pause, which the service lists with no handler, was answered ${said(answer.payload!)}, and containerd-shim-runc-v2 answered a method it has no code for ${said(theirs.subarray(HEADER_SIZE))} — what will containerd, and the user behind it, make of your answer?`).toEqual([1, status({ payload: theirs.subarray(HEADER_SIZE) })?.code])
  })

  it('a Pids of a container with 700000 processes, then a State on the same connection', async () => {
    const client = await dialTtrpc(await listen(testService().service))
    onCleanup(() => client.close())
    const pids = client.call(SERVICE, 'Pids', 'containerd.task.v2.PidsRequest', { id: 'c' }, 'containerd.task.v2.PidsResponse')
    const answer = await Promise.race([
      pids.then(() => 'its processes', (error) => (error instanceof RpcError ? `code ${error.code}: ${error.message}` : String(error))),
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer'), 10_000)),
    ])
    if (thrownBy()) throw thrownBy()
    expect(answer, `a Pids of a container with 700000 processes got ${answer} in 10 s — what did your server send, what would containerd's ttrpc client have read of it (channel.go, recv), and what became of the call, and of the server?`).toMatch(/^code /)
    // the measure: containerd-shim-runc-v2's answer to a call that is itself over the limit
    const runc = await dialTtrpc(await runcShim())
    onCleanup(() => runc.close())
    const theirs = await caught(() => runc.call(SERVICE, 'State', 'containerd.task.v2.StateRequest', { id: 'x'.repeat(MAX_MESSAGE) }, 'containerd.task.v2.StateResponse'))
    expect(theirs instanceof RpcError && answer.startsWith(`code ${theirs.code}:`), `the call whose answer was too long came back ${answer}, and containerd-shim-runc-v2 answered a call that was itself too long ${theirs instanceof RpcError ? `code ${theirs.code}: ${theirs.message}` : String(theirs ?? 'success')} — what will containerd make of your answer?`).toBe(true)
    const state = await Promise.race([
      client.call(SERVICE, 'State', 'containerd.task.v2.StateRequest', { id: 'c' }, 'containerd.task.v2.StateResponse'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('after the Pids that was too big, a State on the same connection got no answer in 5 s — what did that Pids leave behind on the connection?')), 5000)),
    ])
    expect(state, 'expected the State answered after it').toMatchObject({ id: 'c', pid: 42 })
  }, 30_000)
})

describe('a ttrpc client', () => {
  it('a client that sends States as fast as it can and reads none of the answers, then reads them all', async () => {
    // each answer is 64 KiB; the client reads nothing until it can no longer hand its requests over
    const big = 'b'.repeat(64 << 10)
    let held = 0 // the most answer bytes the server's socket had queued when a request reached a handler
    let served: Socket | undefined
    const service: Service = {
      name: SERVICE,
      methods: { State: { request: 'containerd.task.v2.StateRequest', response: 'containerd.task.v2.StateResponse', handle: async (r) => {
        held = Math.max(held, served?.writableLength ?? 0)
        return { id: r.id, bundle: big }
      } } },
    }
    const path = join(tempDir(), 'flood.sock')
    let thrown: unknown
    const server = createServer((socket) => {
      served = socket
      try {
        serveConnection(socket, [service])
      } catch (error) {
        thrown = error
        socket.destroy()
      }
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    onCleanup(() => {
      served?.destroy()
      return new Promise((resolve) => server.close(resolve))
    })
    const client = connect(path)
    onCleanup(() => client.destroy())
    await new Promise((resolve) => client.once('connect', resolve))
    const limit = 32 << 20
    const deadline = Date.now() + 20_000
    let sent = 0
    // requests of about 1 KiB each, 16 at a time, until the client's own socket holds 1 MiB it cannot hand over
    while (client.writableLength < 1 << 20) {
      if (thrown) throw thrown
      if (held > limit) {
        expect.fail(`after ${sent} States from a client that reads no answers, the server's socket held ${(held / (1 << 20)).toFixed(0)} MiB of answers nobody had read — how far would that grow, and who should end up waiting for that client?`)
      }
      if (Date.now() > deadline) expect.fail(`in 20 s the client sent ${sent} States and the server held at most ${held} bytes of answers, yet the client's requests still went through`)
      for (let i = 0; i < 16; i++, sent++) client.write(encodeFrame(2 * sent + 1, TYPE_REQUEST, request('State', 'containerd.task.v2.StateRequest', { id: `c${sent}`.padEnd(1000, '.') })))
      await new Promise((resolve) => setImmediate(resolve))
    }
    // now the client reads: every request it sent gets its answer
    const reader = new FrameReader()
    const answered = new Set<number>()
    let failed = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`once the client read, ${answered.size} of its ${sent} States were answered in 20 s — does the server take requests again once its answers are read?`)), 20_000)
      client.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          const answer = decode('ttrpc.Response', frame.payload!)
          if (answer.status?.code) failed ||= `stream ${frame.streamId}: status ${answer.status.code} ${answer.status.message}`
          answered.add(frame.streamId)
        }
        if (answered.size === sent) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    expect(failed, 'expected every State answered with its state').toBe('')
  }, 60_000)

  it('two Starts on one connection, answered in reverse order', async () => {
    const path = join(tempDir(), 'c.sock')
    const seen: number[] = []
    const server = createServer((socket) => {
      const reader = new FrameReader()
      const held: number[] = []
      socket.on('data', (chunk: Buffer) => {
        for (const f of reader.push(chunk)) {
          seen.push(f.streamId)
          held.push(f.streamId)
          if (held.length === 2) {
            // answer the second call first
            for (const id of held.reverse()) socket.write(encodeFrame(id, TYPE_RESPONSE, encode('ttrpc.Response', { payload: encode('containerd.task.v2.StartResponse', { pid: id * 100 }) })))
          }
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    onCleanup(() => new Promise((resolve) => server.close(resolve)))
    const client = await dialTtrpc(path)
    onCleanup(() => client.close())
    const a = client.call(SERVICE, 'Start', 'containerd.task.v2.StartRequest', { id: 'a' }, 'containerd.task.v2.StartResponse')
    const b = client.call(SERVICE, 'Start', 'containerd.task.v2.StartRequest', { id: 'b' }, 'containerd.task.v2.StartResponse')
    b.catch(() => {}) // awaited below, after a
    expect([await a, await b], 'expected each call to get the answer for its own stream id').toEqual([{ pid: 100 }, { pid: 300 }])
    expect(new Set(seen).size, `two calls in flight went out on stream ids ${seen.join(' and ')} — how would each answer find its call?`).toBe(2)
  })
})

describeKernel('ttrpc as containerd-shim-runc-v2 speaks it', () => {
  it('handlers that fail with something other than an RpcError, then a State', async () => {
    // the fault a shim's own code meets: a path through a file, ENOTDIR. containerd-shim-runc-v2
    // meets it in its Create (options.json under a bundle that is a file), and answers the measure
    const notDir = join(tempDir(), 'file')
    writeFileSync(notDir, '')
    const runc = await dialTtrpc(await runcShim())
    onCleanup(() => runc.close())
    const theirs = await caught(() => runc.call(SERVICE, 'Create', 'containerd.task.v2.CreateTaskRequest', { id: 'ttrpc', bundle: notDir }, 'containerd.task.v2.CreateTaskResponse'))
    const { service } = testService()
    const types = serviceMethods(SERVICE)
    const failing: Service = {
      name: SERVICE,
      methods: {
        ...service.methods,
        // the same fault, met by Node
        Connect: { ...types.Connect!, handle: async () => JSON.parse(readFileSync(join(notDir, 'init.pid'), 'utf8')) },
        // an RpcError made from such an error, keeping the error's own code
        Stats: { ...types.Stats!, handle: async () => { try { readFileSync(join(notDir, 'stats')) } catch (error) { throw new RpcError((error as { code: number }).code, (error as Error).message) } return {} } },
        // a handler that throws before it returns its promise
        Update: { ...types.Update!, handle: ((request: { id: string }) => { throw new TypeError(`no resources for ${request.id.toUpperCase()}`) }) as unknown as Service['methods'][string]['handle'] },
      },
    }
    const client = await dialTtrpc(await listen(failing))
    onCleanup(() => client.close())
    const outcome = async (c: typeof client, method: string) => {
      const error = await caught(() => Promise.race([
        c.call(SERVICE, method, types[method]!.request, { id: 'c' }, types[method]!.response),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 3 s')), 3000)),
      ]))
      return error instanceof RpcError ? `code ${error.code}: ${error.message}` : error ? String(error.message) : 'success'
    }
    const said = { Connect: await outcome(client, 'Connect'), Stats: await outcome(client, 'Stats'), Update: await outcome(client, 'Update') }
    if (thrownBy()) throw thrownBy()
    const measure = theirs instanceof RpcError ? `code ${theirs.code}: ` : 'no status'
    const wrong = Object.entries(said).filter(([, answer]) => !answer.startsWith(measure) || !/not a directory|no resources/i.test(answer))
    expect(wrong.map(([method, answer]) => `${method}: ${answer}`), `handlers that failed with a Node error (Connect), with an RpcError built from one (Stats) and with a TypeError thrown before any promise (Update) were answered ${JSON.stringify(said)}, and containerd-shim-runc-v2 answered the same fault in its Create "${theirs instanceof RpcError ? `code ${theirs.code}: ${theirs.message}` : String(theirs)}" — what did the client make of each status, and what in each error led your server to that answer?`).toEqual([])
    const state = await Promise.race([
      client.call(SERVICE, 'State', 'containerd.task.v2.StateRequest', { id: 'c' }, 'containerd.task.v2.StateResponse'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('after those failures, a State on the same connection got no answer in 3 s — what became of the connection, or of the server?')), 3000)),
    ])
    expect(state, 'expected the State answered after them').toMatchObject({ id: 'c', pid: 42 })
  })

  it('a State for a task it does not have, framed by encodeFrame, and its answer', async () => {
    const address = await runcShim()
    const state = encode('containerd.task.v2.StateRequest', { id: 'no-such-task' })
    const answer = await rawAnswer(address, encodeFrame(1, TYPE_REQUEST, encode('ttrpc.Request', { service: SERVICE, method: 'State', payload: state })))
    expect(answer.length, 'containerd-shim-runc-v2 sent nothing back in 3 s for a State framed by your encodeFrame — what did it read in your header, and what was it waiting for (channel.go, recv)?').toBeGreaterThan(HEADER_SIZE)
    const mine = encodeFrame(1, TYPE_RESPONSE, answer.subarray(HEADER_SIZE))
    expect(mine.equals(answer), `containerd-shim-runc-v2 framed its answer as ${answer.subarray(0, HEADER_SIZE).toString('hex')}, and your encodeFrame frames the same payload on the same stream as ${mine.subarray(0, HEADER_SIZE).toString('hex')} — which field differs, and how does channel.go write it?`).toBe(true)
  })

  it('a State whose request is over the limit, then one that is not, from your client to containerd-shim-runc-v2', async () => {
    const client = await dialTtrpc(await runcShim())
    onCleanup(() => client.close())
    const state = (id: string) => caught(() => client.call(SERVICE, 'State', 'containerd.task.v2.StateRequest', { id }, 'containerd.task.v2.StateResponse'))
    const big = await state('x'.repeat(MAX_MESSAGE))
    const small = await state('no-such-task')
    expect([big instanceof RpcError, small instanceof RpcError && small.code !== big?.code && /not (found|created)/.test(small.message)], `a State of ${MAX_MESSAGE} bytes of id ended ${big instanceof RpcError ? `with code ${big.code}: ${big.message}` : String(big?.message ?? 'in success')}, and a small State after it on the same connection ${small instanceof RpcError ? `with code ${small.code}: ${small.message}` : String(small?.message ?? 'in success')} — what does containerd's ttrpc do with a frame over its limit (channel.go, recv; server.go), and what did yours put on the wire?`).toEqual([true, true])
  })

  it('the same misbehaving client, against containerd-shim-runc-v2 and against your server', async () => {
    const theirs = await misbehave(await runcShim())
    const mine = await misbehave(await listen(testService().service))
    // compared stream by stream; only where the answers differ is said, not what runc's shim answered
    const answers = (faults: [number, number | undefined][], stream: number) => JSON.stringify(faults.filter(([s]) => s === stream).map(([, code]) => code))
    const streams = [...new Set([...theirs.faults, ...mine.faults].map(([s]) => s))].sort((x, y) => x - y)
    const differ = streams.filter((s) => answers(mine.faults, s) !== answers(theirs.faults, s))
    expect(differ, `to a frame over the limit on stream 1, a request on stream 2, bytes that are no ttrpc.Request on 3, an unknown method on 5, an unknown service on 7, a frame of type 7 on 9, a State whose payload is no StateRequest on 11 and a frame of type 7 over the limit on 15, your server answered ${JSON.stringify(mine.faults)} ([stream id, gRPC code, or minus the type of a frame that is no response]), and containerd-shim-runc-v2 answered otherwise on stream ${differ.join(', ')} — what does ttrpc's server.go do with each, and what does each code tell the client (the text's table)?`).toEqual([])
    expect([mine.last.streamId, decode('containerd.task.v2.StateResponse', decode('ttrpc.Response', mine.last.payload!).payload ?? Buffer.alloc(0))], 'expected the State on stream 13 answered after all that, on the same connection').toMatchObject([13, { pid: 42 }])
  })

  it('two States from your client to containerd-shim-runc-v2 at once', async () => {
    const address = await runcShim()
    const expected = said((await rawAnswer(address, encodeFrame(1, TYPE_REQUEST, request('State', 'containerd.task.v2.StateRequest', { id: 'no-such-task' })))).subarray(HEADER_SIZE))
    const client = await dialTtrpc(address)
    onCleanup(() => client.close())
    const state = () => caught(() => client.call(SERVICE, 'State', 'containerd.task.v2.StateRequest', { id: 'no-such-task' }, 'containerd.task.v2.StateResponse'))
    const errors = await Promise.all([state(), state()])
    expect(errors.map((e) => (e instanceof RpcError ? `status ${e.code}: ${e.message}` : String(e))), 'expected both calls answered as the shim answers a State for a task it does not have — which stream ids does a ttrpc server take from a client (client.go, server.go)?').toEqual([expected, expected])
  })
})
