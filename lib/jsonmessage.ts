/**
 * Docker's progress messages (moby's pkg/jsonmessage): what dockerd streams to a client
 * during a pull, one JSON object per line, and the size format its bars use. Chapter 07
 * reports them, the daemon streams them, the client draws them.
 */

/** One progress message, with moby's field names. */
export interface JSONMessage {
  status?: string
  /** what the line is about: a layer's short digest, or the tag being pulled */
  id?: string
  progressDetail?: { current?: number; total?: number }
  /** the bar, as text, for clients that do not draw their own */
  progress?: string
  error?: string
  errorDetail?: { message: string }
}

/** Where progress goes: the terminal renderer, the daemon's response stream, a test's array. */
export type ProgressSink = (message: JSONMessage) => void

/** The 12 hex digits Docker shows for a digest or an ID. */
export const shortDigest = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12)

/**
 * Bytes as docker's go-units HumanSizeWithPrecision writes them: decimal units, `precision`
 * significant digits (HumanSize's 4: "772.8kB").
 */
export function humanSize(bytes: number, precision = 4): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${Number(value.toPrecision(precision))}${units[unit]}`
}
