/**
 * The frames' reader (frames.ts), the read side of moby's StdCopy: frames written by chapter
 * 11's reference writer, fed in chunks no daemon would choose; the daemon's error in the
 * stream, a stream number StdCopy does not know, a stream cut inside a frame, and megabytes.
 * What docker 28.2.2 makes of such streams is asked of it in output.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { frameReader } from '#ch/12-client/frames.ts'
import { frame as written } from '../../lib/output-streams.ts'
import { frame, short } from '../support/frames.ts'

/** `input` pushed `size` bytes at a time, then the end: what reached each side (long runs shortened), and what was thrown. */
function feed(input: Buffer, size: number) {
  const out: Buffer[] = []
  const err: Buffer[] = []
  // copies: a reader may hand on a view of a chunk it is given, and the test reuses nothing
  const reader = frameReader({ stdout: { write: (b: Buffer) => out.push(Buffer.from(b)) }, stderr: { write: (b: Buffer) => err.push(Buffer.from(b)) } })
  let thrown: string | undefined
  try {
    for (let i = 0; i < input.length; i += size) reader.push(input.subarray(i, i + size))
    reader.end()
  } catch (error) {
    thrown = (error as Error).message
  }
  return { stdout: short(Buffer.concat(out).toString()), stderr: short(Buffer.concat(err).toString()), thrown }
}

describe('frameReader (moby\'s StdCopy, read side)', () => {
  it('fed a stream 1 byte, 7 bytes, 4 KiB at a time, and whole: each payload whole, on its side', () => {
    const big = 'x'.repeat(70_000) + '\n'
    const small = [frame('stdout', 'out 1\n'), frame('stderr', 'err 1\n'), frame(0, 'in\n')]
    const all = Buffer.concat([...small, frame('stdout', big), frame('stderr', 'err 2\n')])
    const cases = [
      ['one byte a chunk', 1, Buffer.concat(small), { stdout: 'out 1\nin\n', stderr: 'err 1\n' }],
      ['7 bytes a chunk', 7, Buffer.concat(small), { stdout: 'out 1\nin\n', stderr: 'err 1\n' }],
      ['4 KiB a chunk', 4096, all, { stdout: short(`out 1\nin\n${big}`), stderr: 'err 1\nerr 2\n' }],
      ['one chunk', all.length, all, { stdout: short(`out 1\nin\n${big}`), stderr: 'err 1\nerr 2\n' }],
    ] as const
    for (const [what, size, input, expected] of cases) {
      expect(feed(input, size), `frames of stdout "out 1", stderr "err 1", stream 0 "in"${input === all ? ', 70 000 bytes of stdout and stderr "err 2"' : ''}, fed ${what}: what reached each side — what does a header say, in which byte order, and what must one push leave for the next? (see "Frames")`).toEqual({ ...expected, thrown: undefined })
    }
  })

  it('refuses the daemon\'s error in the stream and a stream number it does not know, as soon as the header is in', () => {
    // the substance here (the daemon's words, the number); docker 28.2.2's own words for both are output.test.ts's
    const gone = feed(Buffer.concat([frame('stdout', 'before\n'), frame(3, 'the container is gone')]), 4096)
    const said = 'stdout "before", then a frame of stream 3 saying "the container is gone"'
    expect({ stdout: gone.stdout, stderr: gone.stderr }, `${said}: what reached each side — where does StdCopy write a frame of stream 3? (see "Frames")`).toEqual({ stdout: 'before\n', stderr: '' })
    expect(gone.thrown ?? 'nothing', `${said}: what your reader threw — what does StdCopy return then, and with whose words in it? (see "Frames")`).toMatch(/the container is gone/)
    const unknown = feed(frame(7, 'x'.repeat(1000)).subarray(0, 11), 11)
    const seven = 'the header of a frame of stream 7, with 3 of its 1000 bytes, then the end'
    expect({ stdout: unknown.stdout, stderr: unknown.stderr }, `${seven}: what reached each side`).toEqual({ stdout: '', stderr: '' })
    expect(unknown.thrown ?? 'nothing', `${seven}: what your reader threw — must StdCopy wait for the payload before it refuses the frame, and which number does its error name? (see "Frames")`).toMatch(/\b7\b/)
  })

  it('drops a frame the stream ended inside, its header or its payload, and says nothing', () => {
    for (const length of [12, 5]) {
      const cut = feed(Buffer.concat([frame('stdout', 'whole\n'), frame('stderr', 'cut short\n').subarray(0, length)]), 4096)
      expect(cut, `a whole stdout frame, then the stream cut after ${length} bytes of a stderr frame ("cut short"): what does StdCopy write of a frame it never got whole, and is the end an error? (see "Frames")`).toEqual({ stdout: 'whole\n', stderr: '', thrown: undefined })
    }
  })

  it('fed megabytes: one payload of 64 MiB in 4 KiB chunks, and 300 000 small frames in 1 MiB chunks', () => {
    // each push costs about its own size: a reader that joined what it holds on every push would take minutes here
    const line = frame('stdout', 'x')
    const lines = Buffer.alloc(line.length * 300_000)
    for (let at = 0; at < lines.length; at += line.length) line.copy(lines, at)
    const cases = [
      { what: 'one stdout frame of 64 MiB in 4 KiB chunks', input: Buffer.concat([written('stdout', Buffer.alloc(64 << 20, 'y')), frame('stderr', 'done\n')]), size: 4096, bytes: 64 << 20 },
      { what: '300 000 stdout frames of one byte in 1 MiB chunks', input: Buffer.concat([lines, frame('stderr', 'done\n')]), size: 1 << 20, bytes: 300_000 },
    ]
    for (const { what, input, size, bytes } of cases) {
      let [stdout, stderr] = [0, '']
      const reader = frameReader({ stdout: { write: (b: Buffer) => (stdout += b.length) }, stderr: { write: (b: Buffer) => (stderr += b.toString()) } })
      for (let pushed = 0; pushed < input.length; pushed += size) reader.push(input.subarray(pushed, pushed + size))
      reader.end()
      expect({ stdout, stderr }, `${what}, then stderr "done": the bytes each side got`).toEqual({ stdout: bytes, stderr: 'done\n' })
    }
  }, 60_000)
})
