/**
 * The exits the helper's reaper reports (native/helper.ts, reaper()), one line per process it
 * reaped, on a socket the shim reads: "PID exit CODE" or "PID signal SIG". Which processes it
 * reaps depends on how startShim set things up (the text's "Why the shim outlives containerd").
 */
import type { Readable } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

/** How a process ended, as containerd reports it: one number for an exit or a death by signal. */
export interface Exit {
  pid: number
  status: number
  at: Date
}

// #region parseReaperLine
/** One line of the reaper's report as an Exit; null for a line that is not one. */
export function parseReaperLine(line: string, at = new Date()): Exit | null {
  // TODO(10): one line of the reaper's report as the exit containerd will pass on.
  //   1. The helper's two kinds of line are at the top of this file (native/helper.c, op_reaper,
  //      writes them).
  //   2. containerd, like a shell, reports both as one number, and `ctr run` exits with it: how does
  //      a death by signal stay distinguishable from an exit code (the text's "Exits, also early ones";
  //      bash(1), EXIT STATUS)?
  //   3. A line that is not an exit is no exit, and never an exception: the shim reads on.
  throw new NotImplementedError('10-shim', 'parseReaperLine')
}
// #endregion parseReaperLine

// #region Reaper
/**
 * Hands each exit to whoever waits for that PID (the text's "Exits, also early ones").
 */
export class Reaper {
  // TODO(10): what must a Reaper remember between a report and a call of exited(), in both
  //   orders? Declare it here (#report and exited below share it).

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
    // TODO(10): an exit reaches whoever waits for that PID.
    //   1. Who can be waiting here, and what if nobody is yet? Think of a container that dies at
    //      once: when does the shim learn its PID, and when does the helper reap it?
    //   2. What becomes of an exit nobody has asked for yet, and for how long?
    //   3. Where to look: containerd's runc shim meets the same race, service.go (processExits, and
    //      the exits it keeps for processes still starting); the text's "Exits, also early ones".
    throw new NotImplementedError('10-shim', 'report')
  }

  /** Resolves with `pid`'s exit. */
  exited(pid: number): Promise<Exit> {
    // TODO(10): `pid`'s exit, whenever it happened.
    //   1. The same race seen from the other side: the exit may have come before this call, or may
    //      come later. Both must settle, with the one exit of that PID.
    //   2. What does the Reaper still hold once it has answered, and whom could that answer next?
    throw new NotImplementedError('10-shim', 'exited')
  }
}
// #endregion Reaper
