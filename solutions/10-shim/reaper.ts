/**
 * The exits the helper's reaper reports (native/helper.ts, reaper()), one line per process it
 * reaped, on a socket the shim reads: "PID exit CODE" or "PID signal SIG". Which processes it
 * reaps depends on how startShim set things up (the text's "Why the shim outlives containerd").
 */
import type { Readable } from 'node:stream'

/** How a process ended, as containerd reports it: the exit code, or 128 + the signal. */
export interface Exit {
  pid: number
  status: number
  at: Date
}

// #region parseReaperLine
/** One line of the reaper's report as an Exit; null for a line that is not one. */
export function parseReaperLine(line: string, at = new Date()): Exit | null {
  const m = /^(\d+) (exit|signal) (\d+)$/.exec(line)
  if (!m) return null
  const n = Number(m[3])
  return { pid: Number(m[1]), status: m[2] === 'signal' ? 128 + n : n, at }
}
// #endregion parseReaperLine

// #region Reaper
/**
 * Hands each exit to whoever waits for that PID (the text's "Exits, also early ones").
 */
export class Reaper {
  #waiting = new Map<number, (exit: Exit) => void>()
  #early = new Map<number, Exit>()

  constructor(socket: Readable) {
    let rest = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        const exit = parseReaperLine(line)
        if (exit) this.#report(exit)
      }
    })
  }

  #report(exit: Exit): void {
    const waiter = this.#waiting.get(exit.pid)
    if (waiter) {
      this.#waiting.delete(exit.pid)
      waiter(exit)
    } else this.#early.set(exit.pid, exit)
  }

  /** Resolves with `pid`'s exit. */
  exited(pid: number): Promise<Exit> {
    const early = this.#early.get(pid)
    if (early) {
      this.#early.delete(pid)
      return Promise.resolve(early)
    }
    return new Promise((resolve) => this.#waiting.set(pid, resolve))
  }
}
// #endregion Reaper
