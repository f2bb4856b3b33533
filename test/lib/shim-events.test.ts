/**
 * The shim's given event publisher (lib/shim-events.ts): events reach containerd one at a time,
 * in order, also across a connection containerd closed.
 */
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FrameReader, TYPE_RESPONSE, encodeFrame } from '#ch/10-shim/ttrpc.ts'
import { decode, encode } from '../../lib/containerd-proto.ts'
import { Publisher } from '../../lib/shim-events.ts'
import { onCleanup, tempDir } from '../support/files.ts'

describe('the event publisher', () => {
  it('three events, the first answered late, the connection closed after the second', async () => {
    const path = join(tempDir(), 'ttrpc.sock')
    const received: string[] = []
    const sockets: Socket[] = []
    let firstAnswered = false
    let early = ''
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => socket.destroy())
      const reader = new FrameReader()
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          const topic = decode('containerd.services.events.ttrpc.v1.ForwardRequest', decode('ttrpc.Request', frame.payload!).payload).envelope.topic
          if (received.length > 0 && !firstAnswered) early ||= topic
          const first = received.length === 0
          received.push(topic)
          setTimeout(() => {
            if (first) firstAnswered = true
            if (socket.writableEnded) return // this connection was closed: the publisher must dial again
            socket.write(encodeFrame(frame.streamId, TYPE_RESPONSE, encode('ttrpc.Response', { payload: Buffer.alloc(0) })))
            if (topic === '/tasks/start') socket.end() // containerd goes away after the second event
          }, first ? 300 : 0)
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    onCleanup(() => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    })
    const publisher = new Publisher(path, 'ns')
    publisher.publish('/tasks/create', { container_id: 'c' })
    publisher.publish('/tasks/start', { container_id: 'c', pid: 1 })
    publisher.publish('/tasks/exit', { container_id: 'c', pid: 1, exit_status: 0 })
    await publisher.flush()
    expect(early, `expected nothing sent before the first event was answered, but ${early} was — what would two events in flight at once do to their order (the text's "Events", publisher.go)?`).toBe('')
    // an event whose answer was lost with the connection may arrive twice: delivery is at least once
    expect([...new Set(received)], 'expected create, start, exit in order; exit after the connection was closed — what does a publish do when its connection is gone (publisher.go)?').toEqual(['/tasks/create', '/tasks/start', '/tasks/exit'])
    expect(sockets.length, 'expected a second connection after containerd closed the first — who opens it?').toBe(2)
  })
})
