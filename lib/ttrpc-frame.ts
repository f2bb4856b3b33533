/**
 * ttrpc's frame, as its channel.go lays it out: a header of HEADER_SIZE bytes, then the payload.
 * Its constants are given here; writing frames, reading them back out of a byte stream and
 * serving them is the chapter's (chapters/10-shim/ttrpc.ts).
 */

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
  /** what the reader passes on of the frame's payload (ttrpc's channel.go, recv) */
  payload: Buffer | null
  /** the header's length field (channel.go, messageHeader) */
  length: number
}
