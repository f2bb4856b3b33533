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
  /** the frame's payload, when the reader hands one over (ttrpc's channel.go, recv) */
  payload: Buffer | null
  /** the length the header announced */
  length: number
}
