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
  // What must a Reaper remember between a report and a call of exited(), in either order?
  // Declare it here: #report and exited share it.

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
    // TODO(10): an exit reaches the process it belongs to, and no other.
    //   1. Who can be waiting here, and what if nobody is yet? Think of a container that dies at
    //      once: when does the shim learn its PID, and when does the helper reap it?
    //   2. Not every exit is a container's: the subreaper adopts every orphan below it. An exit
    //      nobody can ever claim, kept, is waiting for the next process the kernel gives that PID.
    //      Which exits may you keep, and until when?
    //   3. Where to look: containerd's runc shim meets the same race, service.go at v1.6.20
    //      (checkProcesses) and in 2.x (processExits, preStart, handleStarted: which exits does it
    //      keep, and for how long?); the text's "Exits, also early ones".
    throw new NotImplementedError('10-shim', 'report')
  }

  /**
   * The exit of the process whose PID `pid` resolves with. Called before the process is made
   * (`pid` resolves once the runtime has told it): its exit may be reported before the PID is
   * known, or after. Rejects if `pid` does (no process was made).
   */
  exited(pid: Promise<number>): Promise<Exit> {
    // TODO(10): the exit of a process that is about to be made, whenever it comes.
    //   1. The same race seen from the other side: the exit may come before `pid` settles, or
    //      after. Both must settle with that process's exit, and with nothing older.
    //   2. Creates and execs overlap: an exec can start while another one's runtime still runs.
    //      Whose exits may each of them claim: those reaped while it runs, before it began, or both?
    //   3. What does the Reaper still hold once it has answered, or once `pid` has failed, and
    //      whom could that answer next?
    throw new NotImplementedError('10-shim', 'exited')
  }
}
// #endregion Reaper
