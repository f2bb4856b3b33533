/**
 * Chapter 10's given ttrpc client, which the starter and the reference share: calls go out on
 * one connection, many at once, each answer matched to its call by stream id. It frames with
 * the chapter's encodeFrame and FrameReader (ttrpc.ts), so it speaks exactly what they do.
 */
import { connect, type Socket } from 'node:net'
import { FrameReader, TYPE_REQUEST, TYPE_RESPONSE, encodeFrame, type Frame } from '#ch/10-shim/ttrpc.ts'
import { Code, RpcError, decode, encode } from './containerd-proto.ts'

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
      let frames: Frame[]
      try {
        frames = reader.push(chunk)
      } catch (error) {
        // a reader that cannot read (not written yet, say) fails the calls with its own error
        for (const call of this.#pending.values()) call.reject(error as Error)
        this.#pending.clear()
        return socket.destroy()
      }
      for (const frame of frames) this.#settle(frame)
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
    const call = this.#pending.get(frame.streamId)
    if (!call || frame.type !== TYPE_RESPONSE) return
    this.#pending.delete(frame.streamId)
    if (!frame.payload) return call.reject(new RpcError(Code.ResourceExhausted, `response of ${frame.length} bytes is over the limit`))
    try {
      const response = decode('ttrpc.Response', frame.payload)
      if (response.status && response.status.code !== Code.OK) call.reject(new RpcError(response.status.code, response.status.message))
      else call.resolve(response.payload)
    } catch (error) {
      call.reject(error as Error)
    }
  }

  /** Call SERVICE/METHOD with `request` (a REQUEST message); resolves with the decoded RESPONSE. */
  async call(service: string, method: string, requestType: string, request: object, responseType: string): Promise<any> {
    if (this.#socket.destroyed) throw new RpcError(Code.Unavailable, 'ttrpc: connection closed')
    const streamId = this.#next
    this.#next += 2
    const payload = encode('ttrpc.Request', { service, method, payload: encode(requestType, request) })
    const answer = new Promise<Buffer>((resolve, reject) => this.#pending.set(streamId, { resolve, reject }))
    try {
      this.#socket.write(encodeFrame(streamId, TYPE_REQUEST, payload))
    } catch (error) {
      this.#pending.delete(streamId) // never sent: nothing will answer it
      throw error
    }
    return decode(responseType, await answer)
  }

  close(): void {
    this.#socket.destroy()
  }
}
// #endregion TtrpcClient

/**
 * Throws the chapter's own error (its NotImplementedError, say) when its FrameReader cannot read
 * a frame yet: a caller fails there, visibly, rather than on a connection that goes quiet.
 */
export function requireFraming(): void {
  new FrameReader().push(encodeFrame(1, TYPE_REQUEST, new Uint8Array(0)))
}

/** Connect to a ttrpc server on a unix socket (a path, or an address with `unix://`). */
export function dialTtrpc(address: string): Promise<TtrpcClient> {
  return new Promise((resolve, reject) => {
    requireFraming() // before a server's answers meet a reader that cannot read them
    const socket = connect(address.replace(/^unix:\/\//, ''))
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve(new TtrpcClient(socket))
    })
  })
}
