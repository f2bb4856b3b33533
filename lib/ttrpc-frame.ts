/**
 * ttrpc's frame, as its channel.go lays it out: a header of HEADER_SIZE bytes, then the payload.
 * Writing one is given here; reading them back out of a byte stream is the chapter's (FrameReader
 * in chapters/10-shim/ttrpc.ts), and so is serving them.
 */
import { Code, RpcError } from './containerd-proto.ts'

/** The size of a frame's header in bytes (ttrpc's channel.go, messageHeaderLength). */
export const HEADER_SIZE = 10
/** ttrpc's messageLengthMax (channel.go). */
export const MAX_MESSAGE = 4 << 20
export const TYPE_REQUEST = 1
export const TYPE_RESPONSE = 2

export interface Frame {
  streamId: number
  type: number
  flags: number
  /** the payload (null: when is there none to hand over?) */
  payload: Buffer | null
  /** the length the header announced */
  length: number
}

// #region encodeFrame
/**
 * One frame: the header (the payload's length, the stream id, the type, the flags, each as
 * ttrpc's writeMessageHeader writes it), then the payload. A payload the other side's ttrpc
 * would refuse is never sent: ResourceExhausted, naming the length and the limit.
 */
export function encodeFrame(streamId: number, type: number, payload: Uint8Array): Buffer {
  if (payload.length > MAX_MESSAGE) throw new RpcError(Code.ResourceExhausted, `message length ${payload.length} exceeds the maximum message size of ${MAX_MESSAGE}`)
  const header = Buffer.alloc(HEADER_SIZE)
  header.writeUInt32BE(payload.length, 0)
  header.writeUInt32BE(streamId, 4)
  header.writeUInt8(type, 8)
  header.writeUInt8(0, 9)
  return Buffer.concat([header, payload])
}
// #endregion encodeFrame
