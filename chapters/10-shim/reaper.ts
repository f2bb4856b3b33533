/**
 * The exits the helper's reaper reports (native/helper.ts, reaper()), one line per process it
 * reaped, on a socket the shim reads (lib/shim.ts, parseReaperLine, reads a line). Which
 * processes it reaps depends on how the shim was started (lib/shim-command.ts, startShim; the
 * text's "Why the shim outlives containerd"): the container's, the runtime's leftovers, and any
 * orphan the kernel hands the subreaper.
 */
import type { Readable } from 'node:stream'
import { parseReaperLine, type Exit } from '../../lib/shim.ts'
import { NotImplementedError } from '../../lib/errors.ts'

export type { Exit } from '../../lib/shim.ts'

// #region Reaper
/**
 * Hands each exit to the process it belongs to (the text's "Exits, also early ones").
 */
export class Reaper {
  // What must a Reaper remember from one call of exited() to another? Declare it here.

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
    // TODO(10): the exit of a process that is about to be made, whenever it comes, and no other.
    //   1. Think of a container that dies at once: when does the shim learn its PID, and when does
    //      the helper reap it? Both orders must end with that process's exit.
    //   2. Not every exit is a container's: the subreaper adopts every orphan below it, and the
    //      kernel reuses PIDs. Which reported exits can still belong to this process, and which can
    //      only ever answer a later process that got the same PID?
    //   3. Creates and execs overlap: an exec can start while another one's runtime still runs, and
    //      a process whose PID is known can die meanwhile, its PID handed out again at once. What
    //      can one call know about the exits another call has already been given?
    //   4. What does the Reaper still hold once it has answered, or once `pid` has failed?
    //   5. Where to look: containerd's runc shim meets the same race, service.go at v1.6.20
    //      (checkProcesses) and in 2.x (processExits, preStart, handleStarted: which exits does it
    //      keep, and for how long?); the text's "Exits, also early ones".
    throw new NotImplementedError('10-shim', 'exited')
  }
}
// #endregion Reaper
