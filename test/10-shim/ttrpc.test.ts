/**
 * ttrpc framing, server and client, on a real unix socket: what containerd sends a shim, and
 * what a hostile or broken client may send instead.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FrameReader, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, dialTtrpc, encodeFrame, serveConnection, type Service } from '#ch/10-shim/ttrpc.ts'
import { Code, RpcError, decode, encode } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'

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
      Kill: { request: 'containerd.task.v2.KillRequest', response: 'google.protobuf.Empty', handle: async () => { throw new RpcError(Code.NotFound, 'process already finished: not found') } },
      Pause: { request: 'containerd.task.v2.PauseRequest', response: 'google.protobuf.Empty' },
    },
  }
  return { service, release }
}

/** What serveConnection threw, if it did: the test reports that rather than a silence. */
let serverError: unknown

async function listen(service: Service): Promise<string> {
  const path = join(tempDir(), 's.sock')
  const sockets: Socket[] = []
  serverError = undefined
  const server: Server = createServer((socket) => {
    sockets.push(socket)
    try {
      serveConnection(socket, [service])
    } catch (error) {
      serverError = error
      socket.destroy()
    }
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  onCleanup(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return path
}

/** A raw connection that collects the response frames it receives. */
async function raw(path: string): Promise<{ socket: Socket; frames: ReturnType<FrameReader['push']>; next(): Promise<ReturnType<FrameReader['push']>[number]> }> {
  const socket = connect(path)
  await new Promise((resolve) => socket.once('connect', resolve))
  onCleanup(() => socket.destroy())
  const reader = new FrameReader()
  const frames: ReturnType<FrameReader['push']> = []
  let wake = () => {}
  socket.on('data', (chunk: Buffer) => {
    frames.push(...reader.push(chunk))
    wake()
  })
  return {
    socket,
    frames,
    async next() {
      const deadline = Date.now() + 5000
      while (frames.length === 0) {
        if (serverError) throw serverError
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

describe('ttrpc frames', () => {
  it('encodeFrame(5, TYPE_REQUEST, "abc")', () => {
    const frame = encodeFrame(5, TYPE_REQUEST, Buffer.from('abc'))
    expect([...frame], `encodeFrame(5, TYPE_REQUEST, "abc") gave [${[...frame]}], not the bytes containerd's ttrpc writes for that request — compare with ttrpc's channel.go (writeMessageHeader)`).toEqual([0, 0, 0, 3, 0, 0, 0, 5, 1, 0, 97, 98, 99])
  })

  it('a 70000-byte payload on stream 0x01020305, encoded and read back', () => {
    const payload = Buffer.alloc(70_000, 7)
    payload.write('end', payload.length - 3)
    const streamId = 0x01020305
    const frame = encodeFrame(streamId, TYPE_RESPONSE, payload)
    expect(frame.length, `a frame of a 70000-byte payload was ${frame.length} bytes long — what does a frame hold besides its payload?`).toBe(70_010)
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
    const header = Buffer.alloc(10)
    header.writeUInt32BE(MAX_MESSAGE + 1, 0)
    header.writeUInt32BE(1, 4)
    header.writeUInt8(TYPE_REQUEST, 8)
    const first = reader.push(header)
    expect(first.map((f) => [f.streamId, f.payload, f.length]), 'expected the oversized frame as soon as its header was in, payload null — what does ttrpc\'s channel.go (recv) do with a length over messageLengthMax?').toEqual([[1, null, MAX_MESSAGE + 1]])
    const filler = Buffer.alloc(MAX_MESSAGE + 1)
    const after = [...reader.push(filler.subarray(0, 1000)), ...reader.push(Buffer.concat([filler.subarray(1000), encodeFrame(3, TYPE_REQUEST, Buffer.from('ok'))]))]
    expect(after.map((f) => [f.streamId, f.payload?.toString()]), 'expected only the next frame after the oversized payload — what did the reader make of that payload\'s bytes?').toEqual([[3, 'ok']])
  })

  it('encodeFrame of a payload of MAX_MESSAGE + 1 bytes', async () => {
    const error = await caught(() => encodeFrame(1, TYPE_REQUEST, Buffer.alloc(MAX_MESSAGE + 1)))
    expect(error?.message, 'expected encodeFrame to throw, with a message that names the limit (4194304) — what would containerd\'s ttrpc do with such a frame (channel.go)?').toMatch(/4194304/)
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

  it('a Kill whose handler throws RpcError(NotFound, ...)', async () => {
    const client = await dialTtrpc(await listen(testService().service))
    onCleanup(() => client.close())
    const error = await caught(() => client.call(SERVICE, 'Kill', 'containerd.task.v2.KillRequest', { id: 'c', signal: 9 }, 'google.protobuf.Empty'))
    expect(error, 'expected the call to reject with an RpcError').toBeInstanceOf(RpcError)
    expect([error.code, error.message], 'expected the handler\'s code and message in the response\'s status').toEqual([Code.NotFound, 'process already finished: not found'])
  })

  it('an unknown method, an unknown service, and a method without a handler', async () => {
    const conn = await raw(await listen(testService().service))
    conn.socket.write(encodeFrame(1, TYPE_REQUEST, request('Frobnicate', 'containerd.task.v2.StateRequest', {})))
    conn.socket.write(encodeFrame(3, TYPE_REQUEST, encode('ttrpc.Request', { service: 'no.such.Service', method: 'State' })))
    conn.socket.write(encodeFrame(5, TYPE_REQUEST, request('Pause', 'containerd.task.v2.PauseRequest', { id: 'c' })))
    const answers = [await conn.next(), await conn.next(), await conn.next()].sort((a, b) => a.streamId - b.streamId)
    expect(answers.map((f) => [f.streamId, f.type, status(f)?.code]), 'expected an answer on each request\'s own stream id, with the code containerd turns into "not implemented" — which one (the text\'s table in "Many calls on one connection")?').toEqual([[1, TYPE_RESPONSE, 12], [3, TYPE_RESPONSE, 12], [5, TYPE_RESPONSE, 12]])
  })

  it('an oversized frame, a request on stream 2, a truncated protobuf, then a State', async () => {
    const conn = await raw(await listen(testService().service))
    const header = Buffer.alloc(10)
    header.writeUInt32BE(5 << 20, 0)
    header.writeUInt32BE(1, 4)
    header.writeUInt8(TYPE_REQUEST, 8)
    conn.socket.write(Buffer.concat([header, Buffer.alloc(5 << 20)]))
    const big = await conn.next()
    expect([big.streamId, status(big)?.code], `a frame over 4 MiB on stream 1 was answered on stream ${big.streamId} with code ${status(big)?.code} — which gRPC code says a message is too big (the text's table of codes)?`).toEqual([1, Code.ResourceExhausted])
    conn.socket.write(encodeFrame(2, TYPE_REQUEST, request('State', 'containerd.task.v2.StateRequest', { id: 'c' })))
    const even = await conn.next()
    expect([even.streamId, status(even)?.code], `a request on an even stream id was answered with code ${status(even)?.code} — which stream ids may a client use (ttrpc's server.go), and which gRPC code fits one it may not (the text's table of codes)?`).toEqual([2, Code.InvalidArgument])
    const truncated = Buffer.from(request('State', 'containerd.task.v2.StateRequest', { id: 'c' })).subarray(0, 12)
    conn.socket.write(encodeFrame(3, TYPE_REQUEST, truncated))
    const bad = await conn.next()
    expect([bad.streamId, status(bad)?.code], `a request that is not valid protobuf was answered with code ${status(bad)?.code} — which gRPC code says the client sent something wrong (the text's table of codes)?`).toEqual([3, Code.InvalidArgument])
    conn.socket.write(encodeFrame(5, TYPE_REQUEST, request('State', 'containerd.task.v2.StateRequest', { id: 'c' })))
    const good = await conn.next()
    expect(decode('containerd.task.v2.StateResponse', decode('ttrpc.Response', good.payload!).payload), 'expected an answer to the State that followed the bad frames').toMatchObject({ pid: 42 })
  })
})

describe('a ttrpc client', () => {
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
    expect(seen, 'expected the stream ids a ttrpc client gives its first two calls on a connection — see the text\'s "Many calls on one connection" and ttrpc\'s client.go').toEqual([1, 3])
  })
})
