/**
 * Multiplexed streams for chapter 12's tests: frames as the daemon writes them (chapter 11's
 * reference writer), of stdout, stderr or a stream number no daemon should send, and long
 * runs of one character shortened so that a failure's diff stays readable.
 */
import { frame as written } from '../../lib/output-streams.ts'

/**
 * A frame of stdout, stderr, or another stream number: chapter 11's writer knows only stdout
 * and stderr, so another number is a stdout frame with the byte that tells the two apart set to it.
 */
export function frame(stream: 'stdout' | 'stderr' | number, payload: string | Buffer): Buffer {
  const bytes = Buffer.from(payload)
  if (typeof stream === 'string') return written(stream, bytes)
  const [out, err] = [written('stdout', bytes), written('stderr', bytes)]
  const other = Buffer.from(out)
  other[out.findIndex((byte, i) => byte !== err[i])] = stream
  return other
}

/** Long runs of one character as `<N×c>`. */
export const short = (text: string) => text.replace(/(.)\1{99,}/g, (run, c: string) => `<${run.length}×${c}>`)
