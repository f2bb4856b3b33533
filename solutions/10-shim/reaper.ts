/**
 * The exits the helper's reaper reports (native/helper.ts, reaper()), one line per process it
 * reaped, on a socket the shim reads (lib/shim.ts, parseReaperLine, reads a line). Which
 * processes it reaps depends on how the shim was started (lib/shim-command.ts, startShim; the
 * text's "Why the shim outlives containerd"): the container's, the runtime's leftovers, and any
 * orphan the kernel hands the subreaper.
 */
import type { Readable } from 'node:stream'
import { parseReaperLine, type Exit } from '../../lib/shim.ts'

export type { Exit } from '../../lib/shim.ts'

// #region Reaper
/**
 * Hands each exit to the process it belongs to (the text's "Exits, also early ones").
 */
export class Reaper {
  /** whoever waits for a known PID */
  #waiting = new Map<number, (exit: Exit) => void>()
  /** one per create or exec whose PID is not known yet: the exits reported since it began */
  #pending = new Set<Map<number, Exit>>()

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
      return waiter(exit)
    }
    // It may be the process of a create or exec still running: each of those keeps it. If none
    // runs, nobody can ever claim it (an orphan the subreaper adopted), and kept it would answer
    // the next process the kernel gives the same PID.
    for (const seen of this.#pending) seen.set(exit.pid, exit)
  }

  /**
   * The exit of the process whose PID `pid` resolves with. Called before the process is made
   * (`pid` resolves once the runtime has told it): its exit may be reported before the PID is
   * known, or after. Rejects if `pid` does (no process was made).
   */
  exited(pid: Promise<number>): Promise<Exit> {
    const seen = new Map<number, Exit>()
    this.#pending.add(seen)
    return pid.then(
      (n) => {
        this.#pending.delete(seen)
        const early = seen.get(n)
        if (early) return early
        return new Promise<Exit>((resolve) => this.#waiting.set(n, resolve))
      },
      (error) => {
        this.#pending.delete(seen)
        throw error
      },
    )
  }
}
// #endregion Reaper
