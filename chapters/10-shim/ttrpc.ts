/**
 * ttrpc, containerd's small RPC protocol for talking to shims over a unix socket: gRPC's
 * services, codes and protobuf messages without HTTP/2. Each message is a frame: a header of
 * HEADER_SIZE bytes, as ttrpc's channel.go lays it out, then the payload. A request carries a
 * ttrpc.Request, its answer a ttrpc.Response. Many calls share one connection.
 */
import { connect, type Socket } from 'node:net'
import { Code, RpcError, decode, encode } from '../../lib/containerd-proto.ts'
import { NotImplementedError } from '../../lib/errors.ts'

/** The size of a frame's header in bytes (ttrpc's channel.go, messageHeaderLength). What it holds is the text's first question. */
export const HEADER_SIZE = 10
/** ttrpc's messageLengthMax (channel.go). */
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
  // TODO(10): one message as the bytes ttrpc puts on the wire, so that containerd's own ttrpc reads it.
  //   1. Write exactly what ttrpc's channel.go writes before and after a payload: read its
  //      messageHeader and writeMessageHeader rather than guess (the flags stay empty here).
  //   2. A payload the other side would refuse must never be sent: which limit, and which gRPC code
  //      says "too big"? The error names the length and the limit.
  //   3. Where to look: ttrpc's channel.go (messageHeader, writeMessageHeader, messageLengthMax).
  throw new NotImplementedError('10-shim', 'encodeFrame')
}
// #endregion encodeFrame

// #region FrameReader
/**
 * Cuts a byte stream into frames, whatever chunks the socket delivers. A frame whose announced
 * length is over MAX_MESSAGE comes out with `payload: null`, so that the server can answer it.
 */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0)
  /** bytes of an oversized payload still to skip */
  #skip = 0

  push(chunk: Buffer): Frame[] {
    // TODO(10): frames out of a byte stream, whatever the socket's chunks look like.
    //   1. A socket delivers bytes, not frames: a chunk may end inside a header or a payload, or hold
    //      several frames. When is a frame complete, and what must survive until the next push?
    //      Frames come out in the order they were sent.
    //   2. A header may announce far more than MAX_MESSAGE (4 GiB, from a broken or hostile client):
    //      that must never make the shim hold it in memory, nor wait for all of it before answering.
    //      Its bytes still arrive and must not be read as the next header. The caller still learns of
    //      the frame, to answer it (see Frame's payload).
    //   3. Where to look: ttrpc's channel.go (recv, and what it does past messageLengthMax).
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
 * Serve ttrpc on one accepted connection: every request gets an answer on its own stream,
 * whatever a client sends, an error status if need be, and never a crash.
 */
export function serveConnection(socket: Socket, services: Service[]): void {
  // TODO(10): serve ttrpc on one connection: every request answered, the server never crashed.
  //   1. containerd sends Wait before Start and keeps it open until the container exits, on this
  //      same connection. What must never hold back the next request, and how does each answer
  //      find its way back to the call it answers?
  //   2. Which frames are requests at all, and what of the others (ttrpc leaves room for later
  //      types)? Which stream ids may a client use?
  //   3. Anything a client sends gets an answer with a gRPC status, and the connection goes on: a
  //      frame over the limit, a stream id a client may not use, a service or method this server
  //      does not have (or has without a handler), bytes that do not decode, a handler that
  //      throws. Which gRPC code fits each fault (the text's table says what each code means;
  //      a handler's RpcError keeps its own)?
  //   4. A peer may go away at any moment: a late answer to it, or a socket error, must not crash
  //      the process.
  //   5. Where to look: ttrpc's server.go (serveConn, its worker loop) and services.go (call); the
  //      messages are lib/proto/ttrpc/request.proto; the text's "Many calls on one connection".
  throw new NotImplementedError('10-shim', 'serveConnection')
}

// #endregion serveConnection

// #region TtrpcClient
/** A ttrpc client on one connection: many calls in flight, each answer matched to its call. */
export class TtrpcClient {
  #socket: Socket
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
    // TODO(10): an answer for the call that waits for it.
    //   1. Which frames answer a call, and which call? A frame nobody waits for is dropped, and a
    //      call is settled once only.
    //   2. A ttrpc.Response carries either a status or the answer: a failed status reaches the caller
    //      as the RpcError the server threw (same code, same message).
    //   3. An answer over the limit or that does not decode fails its call; nothing may throw out of
    //      the socket's data handler.
    throw new NotImplementedError('10-shim', 'settle')
  }

  /** Call SERVICE/METHOD with `request` (a REQUEST message); resolves with the decoded RESPONSE. */
  async call(service: string, method: string, requestType: string, request: object, responseType: string): Promise<any> {
    // TODO(10): one call: a request out, its own answer back, while other calls are in flight.
    //   1. Which stream ids may a client take, and why must one never be used twice on a connection?
    //      (The text's "Many calls on one connection".) An answer can arrive very fast: be ready for
    //      it before the request leaves.
    //   2. The request and the answer are wrapped: which message of request.proto carries the
    //      service, the method and the encoded request, and what is in the answer's?
    //   3. A connection that is already gone fails the call at once, as one that closes fails the
    //      calls still waiting (the constructor).
    //   4. Where to look: ttrpc's client.go (Call, dispatch, and how it picks stream ids).
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
