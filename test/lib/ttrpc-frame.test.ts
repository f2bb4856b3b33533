/**
 * ttrpc's frame as lib/ttrpc-frame.ts writes it (given to chapter 10): byte for byte what
 * containerd's own ttrpc writes, measured against containerd-shim-runc-v2, and nothing over the
 * limit that ttrpc would refuse.
 */
import { connect } from 'node:net'
import { expect, it } from 'vitest'
import { HEADER_SIZE, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, encodeFrame } from '../../lib/ttrpc-frame.ts'
import { decode, encode } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { onCleanup } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { runcShim } from '../10-shim/support.ts'

it('encodeFrame of a payload of MAX_MESSAGE + 1 bytes', async () => {
  const error = await caught(() => encodeFrame(1, TYPE_REQUEST, Buffer.alloc(MAX_MESSAGE + 1)))
  expect(error?.message, 'expected encodeFrame to refuse it, naming the limit').toMatch(new RegExp(String(MAX_MESSAGE)))
  expect(encodeFrame(1, TYPE_REQUEST, Buffer.alloc(MAX_MESSAGE)).length, 'a payload of exactly the limit is one ttrpc sends and reads').toBe(MAX_MESSAGE + HEADER_SIZE)
})

describeKernel('ttrpc as containerd-shim-runc-v2 frames it', () => {
  it('a State for a task it does not have, framed by encodeFrame, and its answer', async () => {
    const address = await runcShim()
    const socket = connect(address.replace(/^unix:\/\//, ''))
    onCleanup(() => socket.destroy())
    await new Promise((resolve) => socket.once('connect', resolve))
    const chunks: Buffer[] = []
    let last = 0
    socket.on('data', (chunk: Buffer) => (chunks.push(chunk), (last = Date.now())))
    const state = encode('containerd.task.v2.StateRequest', { id: 'no-such-task' })
    socket.write(encodeFrame(1, TYPE_REQUEST, encode('ttrpc.Request', { service: 'containerd.task.v2.Task', method: 'State', payload: state })))
    const end = Date.now() + 3000
    while (Date.now() < end && !(chunks.length > 0 && Date.now() - last > 200)) await new Promise((resolve) => setTimeout(resolve, 20))
    const answer = Buffer.concat(chunks)
    expect(answer.length, 'containerd-shim-runc-v2 sent nothing back in 3 s for a State framed by encodeFrame').toBeGreaterThan(HEADER_SIZE)
    expect(decode('ttrpc.Response', answer.subarray(HEADER_SIZE)).status?.code, 'expected a status for a task the shim does not have').toBeGreaterThan(0)
    const mine = encodeFrame(1, TYPE_RESPONSE, answer.subarray(HEADER_SIZE))
    expect(mine.equals(answer), 'encodeFrame frames containerd-shim-runc-v2\'s own answer differently from the shim').toBe(true)
  })
})
