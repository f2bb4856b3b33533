/**
 * The given frameReader (lib/frame-reader.ts), the read side of moby's StdCopy: frames fed in
 * chunks no daemon would choose, the daemon's error in the stream, a stream number StdCopy does
 * not know, a stream cut inside a frame, and megabytes. What docker 28.2.2 makes of such
 * streams is asked of it in chapter 12's output.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { frameReader } from '../../lib/frame-reader.ts'
import { frame as written } from '../../lib/output-streams.ts'
import { frame, short } from '../support/frames.ts'

function collector() {
  const out: Buffer[] = []
  const err: Buffer[] = []
  return {
    outputs: { stdout: { write: (b: Buffer) => out.push(Buffer.from(b)) }, stderr: { write: (b: Buffer) => err.push(Buffer.from(b)) } },
    text: () => ({ stdout: short(Buffer.concat(out).toString()), stderr: short(Buffer.concat(err).toString()) }),
  }
}

describe('frameReader (moby\'s StdCopy, read side)', () => {
  const big = 'x'.repeat(70_000) + '\n'
  const small = [frame('stdout', 'out 1\n'), frame('stderr', 'err 1\n'), frame(0, 'in\n')]
  const stream = Buffer.concat([...small, frame('stdout', big), frame('stderr', 'err 2\n')])
  const expected = { stdout: short(`out 1\nin\n${big}`), stderr: 'err 1\nerr 2\n' }

  it('fed a stream 1 byte, 7 bytes, 4 KiB at a time, and whole: each payload whole, on its side', () => {
    const smallOnly = { input: Buffer.concat(small), expected: { stdout: 'out 1\nin\n', stderr: 'err 1\n' } }
    const all = { input: stream, expected }
    for (const [what, size, { input, expected }] of [['one byte a chunk', 1, smallOnly], ['7 bytes a chunk', 7, smallOnly], ['4 KiB a chunk', 4096, all], ['one chunk', stream.length, all]] as const) {
      const { outputs, text } = collector()
      const reader = frameReader(outputs)
      for (let i = 0; i < input.length; i += size) reader.push(input.subarray(i, i + size))
      reader.end()
      expect(text(), what).toEqual(expected)
    }
  })

  it('refuses the daemon\'s error in the stream and a stream number it does not know, as soon as the header is in', () => {
    const { outputs, text } = collector()
    expect(() => frameReader(outputs).push(Buffer.concat([frame('stdout', 'before\n'), frame(3, 'the container is gone')]))).toThrow('error from daemon in stream: the container is gone')
    expect(text().stdout, 'the frame before the error').toBe('before\n')
    expect(() => frameReader(outputs).push(frame(7, 'x'.repeat(1000)).subarray(0, 11)), 'a header of stream 7, its payload not yet come').toThrow('Unrecognized input header: 7')
  })

  it('drops a frame the stream ended inside, its header or its payload, and says nothing', () => {
    for (const length of [12, 5]) {
      const cut = collector()
      const reader = frameReader(cut.outputs)
      reader.push(Buffer.concat([frame('stdout', 'whole\n'), frame('stderr', 'cut short\n').subarray(0, length)]))
      reader.end()
      expect(cut.text(), `cut after ${length} bytes of the frame`).toEqual({ stdout: 'whole\n', stderr: '' })
    }
  })

  it('fed megabytes: one payload of 64 MiB in 4 KiB chunks, and 300 000 small frames in 1 MiB chunks', () => {
    // each push costs about its own size: a reader that joined what it holds on every push would take minutes here
    const line = frame('stdout', 'x')
    const lines = Buffer.alloc(line.length * 300_000)
    for (let at = 0; at < lines.length; at += line.length) line.copy(lines, at)
    const cases = [
      { input: Buffer.concat([written('stdout', Buffer.alloc(64 << 20, 'y')), frame('stderr', 'done\n')]), size: 4096, bytes: 64 << 20 },
      { input: Buffer.concat([lines, frame('stderr', 'done\n')]), size: 1 << 20, bytes: 300_000 },
    ]
    for (const { input, size, bytes } of cases) {
      let [stdout, stderr] = [0, '']
      const reader = frameReader({ stdout: { write: (b: Buffer) => (stdout += b.length) }, stderr: { write: (b: Buffer) => (stderr += b.toString()) } })
      for (let pushed = 0; pushed < input.length; pushed += size) reader.push(input.subarray(pushed, pushed + size))
      reader.end()
      expect({ stdout, stderr }).toEqual({ stdout: bytes, stderr: 'done\n' })
    }
  }, 60_000)
})
