/**
 * ttrpc, containerd's small RPC protocol for talking to shims over a unix socket: gRPC's
 * services, codes and protobuf messages without HTTP/2. Each message is a frame: a header of
 * HEADER_SIZE bytes, as ttrpc's channel.go lays it out, then the payload. A request carries a
 * ttrpc.Request, its answer a ttrpc.Response. Many calls share one connection. The client
 * side (lib/ttrpc-client.ts) is given, and frames with what is written here.
 */
import type { Socket } from 'node:net'
import { Code, RpcError, decode, encode } from '../../lib/containerd-proto.ts'

// The frame's constants are given (lib/ttrpc-frame.ts): what you write frames, reads frames and serves them.
import { HEADER_SIZE, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, type Frame } from '../../lib/ttrpc-frame.ts'
export { HEADER_SIZE, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, type Frame }

// #region encodeFrame
/** One frame: its header, then the payload. The given client (lib/ttrpc-client.ts) frames its requests with it. */
export function encodeFrame(streamId: number, type: number, payload: Uint8Array): Buffer {
  // ttrpc 1.1's send writes it anyway and the reader discards it: refused here, the caller learns at once
  if (payload.length > MAX_MESSAGE) throw new RpcError(Code.ResourceExhausted, `message length ${payload.length} exceeds the maximum message size of ${MAX_MESSAGE}`)
  const header = Buffer.alloc(HEADER_SIZE)
  header.writeUInt32BE(payload.length, 0)
  header.writeUInt32BE(streamId, 4)
  header.writeUInt8(type, 8)
  header.writeUInt8(0, 9)
  return Buffer.concat([header, payload])
}
// #endregion encodeFrame

// #region FrameReader
/**
 * Cuts a byte stream into frames, whatever chunks the socket delivers. A frame whose announced
 * length is over MAX_MESSAGE comes out with `payload: null`, so that the server can answer it.
 */
export class FrameReader {
  /** the bytes received and not yet part of a frame, as the socket delivered them */
  #chunks: Buffer[] = []
  /** how many bytes #chunks holds */
  #held = 0
  /** bytes of an oversized payload still to skip */
  #skip = 0

  push(chunk: Buffer): Frame[] {
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, chunk.length)
      this.#skip -= n
      chunk = chunk.subarray(n)
    }
    if (chunk.length) {
      this.#chunks.push(chunk)
      this.#held += chunk.length
    }
    const frames: Frame[] = []
    while (this.#held >= HEADER_SIZE) {
      const head = this.#first(HEADER_SIZE)
      const length = head.readUInt32BE(0)
      const streamId = head.readUInt32BE(4)
      const type = head.readUInt8(8)
      const flags = head.readUInt8(9)
      if (length > MAX_MESSAGE) {
        // skip what is here, and the rest as it arrives
        this.#drop(HEADER_SIZE)
        const here = Math.min(length, this.#held)
        this.#drop(here)
        this.#skip = length - here
        frames.push({ streamId, type, flags, payload: null, length })
        if (this.#skip > 0) break
        continue
      }
      if (this.#held < HEADER_SIZE + length) break // joined only once it is all in
      const whole = this.#first(HEADER_SIZE + length)
      frames.push({ streamId, type, flags, payload: Buffer.from(whole.subarray(HEADER_SIZE, HEADER_SIZE + length)), length })
      this.#drop(HEADER_SIZE + length)
    }
    return frames
  }

  /** The held bytes from the start, at least `n` of them in one buffer: chunks are joined only if the first is shorter. */
  #first(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks, this.#held)]
    return this.#chunks[0]!
  }

  /** Let go of the first `n` held bytes. */
  #drop(n: number): void {
    this.#held -= n
    while (n > 0) {
      const first = this.#chunks[0]!
      if (first.length <= n) {
        this.#chunks.shift()
        n -= first.length
      } else {
        this.#chunks[0] = first.subarray(n)
        n = 0
      }
    }
  }
}
// #endregion FrameReader

/** A method: takes the decoded request, returns the response object (or throws an RpcError). */
export type Method = (request: any) => Promise<object>
/** A service: its full name, and each method's request and response message names. */
export interface Service {
  name: string
  methods: Record<string, { request: string; response: string; handle?: Method }>
}

/** A ttrpc.Response for a failure: gRPC's code and the message. */
function errorResponse(error: unknown): Uint8Array {
  // only gRPC's own codes: Node's errors carry string codes ('ENOENT'), which a status would carry as 0, OK
  const code = error instanceof RpcError && Number.isInteger(error.code) && error.code > Code.OK && error.code <= 16 ? error.code : Code.Unknown
  const message = error instanceof Error ? error.message : String(error)
  return encode('ttrpc.Response', { status: { code, message } })
}

// #region serveConnection
/**
 * Serve ttrpc on one accepted connection: every request gets an answer on its own stream,
 * whatever a client sends, an error status if need be, and never a crash.
 */
export function serveConnection(socket: Socket, services: Service[]): void {
  const reader = new FrameReader()
  const reply = (streamId: number, payload: Uint8Array) => {
    // An answer over the limit would be refused by the client's ttrpc (and encodeFrame refuses to
    // frame it): the call still gets an answer, a status that says so.
    if (payload.length > MAX_MESSAGE) payload = errorResponse(new RpcError(Code.ResourceExhausted, `response of ${payload.length} bytes exceeds the maximum message size of ${MAX_MESSAGE}`))
    if (socket.destroyed) return
    // ttrpc writes each answer before it takes the next request: a client that reads no answers
    // stops being read, rather than having the shim hold its answers without limit
    if (!socket.write(encodeFrame(streamId, TYPE_RESPONSE, payload))) socket.pause()
  }
  socket.on('drain', () => socket.resume())
  socket.on('error', () => socket.destroy())
  socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) {
      // the length is the channel's to refuse (channel.go, recv), before anyone looks at the type
      if (frame.payload === null) {
        reply(frame.streamId, errorResponse(new RpcError(Code.ResourceExhausted, `message length ${frame.length} exceeds the maximum message size of ${MAX_MESSAGE}`)))
        continue
      }
      if (frame.type !== TYPE_REQUEST) continue // ttrpc ignores other types, for later versions
      if (frame.streamId % 2 !== 1) {
        reply(frame.streamId, errorResponse(new RpcError(Code.InvalidArgument, `stream id ${frame.streamId} must be odd for client-initiated streams`)))
        continue
      }
      handle(services, frame.payload).then((payload) => reply(frame.streamId, payload))
    }
  })
}

/** One request to its response, every failure turned into a status. */
async function handle(services: Service[], bytes: Buffer): Promise<Uint8Array> {
  try {
    let request
    try {
      request = decode('ttrpc.Request', bytes)
    } catch (error) {
      throw new RpcError(Code.InvalidArgument, `malformed ttrpc request: ${(error as Error).message}`)
    }
    const service = services.find((s) => s.name === request.service)
    if (!service) throw new RpcError(Code.Unimplemented, `service ${request.service} is not implemented`)
    const method = service.methods[request.method]
    if (!method?.handle) throw new RpcError(Code.Unimplemented, `method ${request.service}/${request.method} is not implemented`)
    let input
    try {
      input = decode(method.request, request.payload)
    } catch (error) {
      // ttrpc's own answer (services.go): the envelope was fine, and the method could not read its message
      throw new RpcError(Code.Internal, `error unmarshalling ${method.request}: ${(error as Error).message}`)
    }
    const output = await method.handle(input)
    return encode('ttrpc.Response', { payload: encode(method.response, output) })
  } catch (error) {
    return errorResponse(error)
  }
}
// #endregion serveConnection
