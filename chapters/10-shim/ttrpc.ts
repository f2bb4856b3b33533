/**
 * ttrpc, containerd's small RPC protocol for talking to shims over a unix socket: gRPC's
 * services, codes and protobuf messages without HTTP/2. Each message is a frame: a header of
 * HEADER_SIZE bytes, as ttrpc's channel.go lays it out, then the payload. A request carries a
 * ttrpc.Request, its answer a ttrpc.Response. Many calls share one connection. The client
 * side (lib/ttrpc-client.ts) is given, and frames with what you write here.
 */
import type { Socket } from 'node:net'
import { NotImplementedError } from '../../lib/errors.ts'

// The frame's constants are given (lib/ttrpc-frame.ts): what you write frames, reads frames and serves them.
import { HEADER_SIZE, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, type Frame } from '../../lib/ttrpc-frame.ts'
export { HEADER_SIZE, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, type Frame }

// #region encodeFrame
/** One frame: its header, then the payload. The given client (lib/ttrpc-client.ts) frames its requests with it. */
export function encodeFrame(streamId: number, type: number, payload: Uint8Array): Buffer {
  // TODO(10): one frame, byte for byte as containerd's ttrpc writes it.
  //   1. Which fields does the header hold, in which order, each of what size and byte order, and
  //      what does the length count? (ttrpc's PROTOCOL.md, "Message Frame"; channel.go.)
  //   2. What does the other side's ttrpc do with a frame whose payload is over MAX_MESSAGE
  //      (channel.go, recv), and what should become of one here?
  throw new NotImplementedError('10-shim', 'encodeFrame')
}
// #endregion encodeFrame

// #region FrameReader
/** Cuts a byte stream into frames, whatever chunks the socket delivers. */
export class FrameReader {
  // What must a reader remember from one push to the next? Declare it here.

  push(chunk: Buffer): Frame[] {
    // TODO(10): frames out of a byte stream, whatever the socket's chunks look like.
    //   1. A socket delivers bytes, not frames: a chunk may end inside a header or a payload, or hold
    //      several frames. When is a frame complete, and what must survive until the next push?
    //      Frames come out in the order they were sent.
    //   2. A header may announce far more than MAX_MESSAGE (4 GiB, from a broken or hostile client),
    //      and its bytes may follow, in whatever chunks. What does ttrpc's recv do with such a frame,
    //      and what should yours cost the shim, and the client that sent it? How large can the
    //      header's numbers be, and what does your reader make of them?
    //   3. A socket under load hands over small chunks: a 4 MiB frame can come in thousands of them.
    //      How much work does a push do, and how often is each byte copied before its frame is out?
    //   4. Where to look: ttrpc's channel.go (recv: how it reads a payload, and what it does past
    //      messageLengthMax).
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
  //   3. Anything a client sends gets an answer with a gRPC status, and the connection goes on.
  //      What can a broken or hostile client send, and which gRPC code is the honest answer to
  //      each (the text's table says what the codes mean; ttrpc's server.go and services.go
  //      meet the same faults, and which layer of ttrpc reads which bytes decides its answer)?
  //      A handler can fail with anything, not only an RpcError: what does a status carry then,
  //      and what does the client make of it?
  //   4. A peer may go away at any moment: a late answer to it, or a socket error, must not crash
  //      the process. And an answer is bytes on the wire too: is every answer a handler can give
  //      one the client will read (how many processes can a container have)?
  //   5. Where to look: ttrpc's server.go (serveConn, its worker loop) and services.go (call); the
  //      messages are lib/proto/ttrpc/request.proto; the text's "Many calls on one connection".
  throw new NotImplementedError('10-shim', 'serveConnection')
}

// #endregion serveConnection
