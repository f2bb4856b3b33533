/**
 * ttrpc, containerd's small RPC protocol for talking to shims over a unix socket: gRPC's
 * services, codes and protobuf messages without HTTP/2. Each message is a frame: a 10-byte
 * big-endian header (payload length, stream id, type, flags), then the payload. A request
 * carries a ttrpc.Request, its answer a ttrpc.Response on the same stream id. Many calls share
 * one connection, and answers come back in whatever order the calls finish.
 */
import { connect, type Socket } from 'node:net'
import { Code, RpcError, decode, encode } from '../../lib/containerd-proto.ts'
import { NotImplementedError } from '../../lib/errors.ts'

/** Header: uint32 length, uint32 stream id, uint8 type, uint8 flags. */
export const HEADER_SIZE = 10
/** ttrpc's messageLengthMax: a larger payload is refused, never buffered. */
export const MAX_MESSAGE = 4 << 20
export const TYPE_REQUEST = 1
export const TYPE_RESPONSE = 2

export interface Frame {
  streamId: number
  type: number
  flags: number
  /** null when the announced length was over MAX_MESSAGE: the payload was skipped */
  payload: Buffer | null
  /** the length the header announced */
  length: number
}

// #region encodeFrame
/** One frame: the header, then the payload. */
export function encodeFrame(streamId: number, type: number, payload: Uint8Array): Buffer {
  // TODO(10): frame one message as ttrpc 1.1 does.
  //   1. The header is 10 bytes, big-endian: the payload's length (uint32), the stream id
  //      (uint32), the type (one byte: request or response), the flags (one byte, 0 here).
  //      The length counts the payload only, never the header.
  //   2. A payload over MAX_MESSAGE is refused before anything is written: an RpcError with
  //      code ResourceExhausted that says the length and the limit.
  //   3. Where to look: ttrpc's channel.go (writeMessageHeader), the text's "ttrpc in 30 lines".
  throw new NotImplementedError('10-shim', 'encodeFrame')
}
// #endregion encodeFrame

// #region FrameReader
/**
 * Cuts a byte stream into frames. Chunks arrive as the socket delivers them: a header may be
 * split over two chunks, and one chunk may hold several frames. An announced length over
 * MAX_MESSAGE is not buffered: its bytes are skipped as they arrive and the frame is returned
 * with `payload: null`, so the server can answer it and go on.
 */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0)
  /** bytes of an oversized payload still to skip */
  #skip = 0

  push(chunk: Buffer): Frame[] {
    // TODO(10): cut the byte stream into frames, whatever the socket's chunks look like.
    //   1. A chunk may end in the middle of a header or of a payload: keep what is left for the
    //      next push. One chunk may also hold several frames: return them all, in order.
    //   2. A header that announces more than MAX_MESSAGE must never make you buffer that much (a
    //      client could announce 4 GiB). Skip those bytes as they arrive (#skip), and return the
    //      frame with payload null and the announced length, so the server can answer it.
    //   3. Where to look: ttrpc's channel.go (recv, and what it does with messageLengthMax).
    throw new NotImplementedError('10-shim', 'push')
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

// #region serveConnection
/**
 * Serve ttrpc on one accepted connection. Each request is handled as soon as it arrives, and
 * its answer is written when it is ready, so a Wait that blocks until the container exits
 * never holds back the Start behind it. Whatever a client sends (an oversized frame, an even
 * stream id, an unknown service or method, bytes that are no protobuf) is answered with an
 * error status on that stream, never with a crash.
 */
export function serveConnection(socket: Socket, services: Service[]): void {
  // TODO(10): serve ttrpc on one connection, answering every request, never crashing.
  //   1. Hand each request to its method as soon as its frame is complete, and write the answer
  //      (a response frame on the SAME stream id) when the method is done. Do not wait for one
  //      call before reading the next: containerd keeps a Wait outstanding while it sends Start.
  //   2. Frames of another type than request are ignored. An oversized frame (payload null) is
  //      answered ResourceExhausted, an even stream id InvalidArgument (client streams are odd).
  //   3. The payload is a ttrpc.Request (service, method, payload). An unknown service or a
  //      method without a handler answers Unimplemented (12), bytes that do not decode (as a
  //      ttrpc.Request, or as the method's request message) InvalidArgument, a handler's
  //      RpcError its own code, any other error Unknown. The answer is a ttrpc.Response with
  //      either a status or the encoded response message.
  //   4. A write to a connection that is gone must not throw; a socket error ends the connection.
  //   5. Where to look: ttrpc's server.go (serveConn, the worker loop) and services.go (call);
  //      the text's "Many calls on one connection".
  throw new NotImplementedError('10-shim', 'serveConnection')
}

// #endregion serveConnection

// #region TtrpcClient
/** A ttrpc client on one connection: calls go out on odd, increasing stream ids. */
export class TtrpcClient {
  #socket: Socket
  #next = 1
  #pending = new Map<number, { resolve(payload: Buffer): void; reject(error: Error): void }>()
  /** settles when the connection is gone */
  readonly closed: Promise<void>

  constructor(socket: Socket) {
    this.#socket = socket
    const reader = new FrameReader()
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) this.#settle(frame)
    })
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        for (const call of this.#pending.values()) call.reject(new RpcError(Code.Unavailable, 'ttrpc: connection closed'))
        this.#pending.clear()
        resolve()
      }),
    )
    socket.on('error', () => socket.destroy())
  }

  /** A response frame settles the call waiting on its stream id: with its payload, or its status as an RpcError. */
  #settle(frame: Frame): void {
    // TODO(10): settle the call waiting on this frame's stream id.
    //   1. Only response frames for a stream id with a pending call count; the call is pending no
    //      more once settled.
    //   2. The payload is a ttrpc.Response: a status with a code other than OK rejects with an
    //      RpcError of that code and message; otherwise resolve with the response's payload.
    //   3. A payload that is null (over the limit) or does not decode rejects the call; it must
    //      not throw out of the socket's data handler.
    throw new NotImplementedError('10-shim', 'settle')
  }

  /** Call SERVICE/METHOD with `request` (a REQUEST message); resolves with the decoded RESPONSE. */
  async call(service: string, method: string, requestType: string, request: object, responseType: string): Promise<any> {
    // TODO(10): send one request and wait for its answer.
    //   1. Stream ids of a client are odd and increase (1, 3, 5, ...); never reuse one on this
    //      connection. Register the pending call before the frame goes out.
    //   2. The frame's payload is a ttrpc.Request naming the service and method, whose payload is
    //      the request message encoded as `requestType`; the answer decodes as `responseType`.
    //   3. A connection already closed rejects with Unavailable at once.
    //   4. Where to look: ttrpc's client.go (Call, dispatch).
    throw new NotImplementedError('10-shim', 'call')
  }

  close(): void {
    this.#socket.destroy()
  }
}
// #endregion TtrpcClient

/** Connect to a ttrpc server on a unix socket (a path, or an address with `unix://`). */
export function dialTtrpc(address: string): Promise<TtrpcClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.replace(/^unix:\/\//, ''))
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve(new TtrpcClient(socket))
    })
  })
}
