/**
 * How the docker CLI lays its answers out, given to chapter 12: tables aligned as Go's
 * text/tabwriter aligns them (padding 3), times and sizes in go-units' words, and its log lines.
 */
import { humanSize } from './jsonmessage.ts'

/**
 * Rows as `docker ps` and `docker images` print them: every cell but the last of a row is
 * padded to its column's widest cell plus 3 spaces, and to 10 at least (the CLI's
 * text/tabwriter has minwidth 10 and padding 3; the last cell of a line is never padded).
 */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.slice(0, -1).forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 10, [...cell].length + 3)))
  return rows.map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]! + cell.length - [...cell].length) : cell)).join('') + '\n').join('')
}

/** A duration as go-units HumanDuration words it: "Less than a second", "About a minute", "3 weeks". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(seconds / 60)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(ms / 3_600_000)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`
}

/** "2 minutes ago" for a time in unix seconds, as the CREATED columns show it. */
export const ago = (unixSeconds: number, now = Date.now()) => `${humanDuration(now - unixSeconds * 1000)} ago`

/** Bytes as go-units HumanSizeWithPrecision(size, 3) writes them, as `docker images` does: "2.79MB". */
export const imageSize = (bytes: number): string => humanSize(bytes, 3)

const GO_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' }

/** A string quoted as Go's strconv.Quote quotes it (its ASCII escapes; other characters as they are). */
export function goQuote(text: string): string {
  return `"${text.replace(/["\\\x00-\x1f\x7f]/g, (c) => GO_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`
}

/** A line of the CLI's log as logrus writes it (its text format, on a pipe and a terminal alike here): the run's warnings and errors on stderr. */
export const logLine = (level: string, message: string) => `time="${new Date().toISOString().replace(/\.\d+/, '')}" level=${level} msg=${goQuote(message)}\n`

/** A command as `docker ps` shows it: cut to 20 characters with "…", then quoted. */
export function shortCommand(command: string): string {
  const chars = [...command]
  return goQuote(chars.length > 20 ? `${chars.slice(0, 19).join('')}…` : command)
}
