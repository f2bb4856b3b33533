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
  /** the exits a call has answered with: each belongs to one process, so no other call may take it */
  readonly #taken = new WeakSet<Exit>()

  /**
   * Whoever listens for exits now. Each exit the helper reports is handed to every one of them,
   * in the order they were added, and to nobody else.
   */
  readonly #hearing = new Set<(exit: Exit) => void>()

  constructor(socket: Readable) {
    let rest = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        const exit = parseReaperLine(line)
        if (exit) for (const hear of [...this.#hearing]) hear(exit)
      }
    })
  }

  /**
   * The exit of the process whose PID `pid` resolves with. Called before the process is made
   * (`pid` resolves once the runtime has told it): its exit may be reported before the PID is
   * known, or after. Rejects if `pid` does (no process was made).
   */
  exited(pid: Promise<number>): Promise<Exit> {
    // Only exits reported from now on can be this process's: an older one is an orphan's, or
    // another call's, whose PID the kernel may hand to this process. Every one of them is kept:
    // a PID can die twice while this runtime runs, the second time as another call's process.
    const heard = new Map<number, Exit[]>()
    let known = 0
    let answer!: (exit: Exit) => void
    const later = new Promise<Exit>((resolve) => (answer = resolve))
    const take = (exit: Exit): Exit => {
      this.#taken.add(exit)
      this.#hearing.delete(hear)
      return exit
    }
    const hear = (exit: Exit) => {
      if (!known) heard.set(exit.pid, [...(heard.get(exit.pid) ?? []), exit])
      else if (exit.pid === known && !this.#taken.has(exit)) answer(take(exit))
    }
    this.#hearing.add(hear)
    return pid.then(
      (n) => {
        known = n
        // the first that no other call took: a later one with this PID is a later process's
        const early = heard.get(n)?.find((exit) => !this.#taken.has(exit))
        heard.clear() // nobody else's, and never to be claimed by this call
        if (early) return take(early)
        return later
      },
      (error) => {
        this.#hearing.delete(hear)
        throw error
      },
    )
  }
}
// #endregion Reaper
