/**
 * The exits the helper's reaper reports. The shim's long-lived process runs below a small C
 * parent that is a child subreaper (prctl PR_SET_CHILD_SUBREAPER): when the runtime's `create`
 * exits, the container's process is reparented to it instead of to init, and it reaps it and
 * says so on a socket, one line per process: "PID exit CODE" or "PID signal SIG". Node itself
 * could do neither: it can only wait for processes it spawned.
 */
import type { Readable } from 'node:stream'
import { NotImplementedError } from '../../lib/errors.ts'

/** How a process ended, as containerd reports it: the exit code, or 128 + the signal. */
export interface Exit {
  pid: number
  status: number
  at: Date
}

// #region parseReaperLine
/** One line of the reaper's report as an Exit; null for a line that is not one. */
export function parseReaperLine(line: string, at = new Date()): Exit | null {
  // TODO(10): one line of the helper's reaper report as an Exit.
  //   1. The helper writes "PID exit CODE" or "PID signal SIG" (native/helper.c, op_reaper).
  //   2. containerd wants one number: the exit code, or 128 + the signal, as a shell reports it.
  //   3. Anything else is not an exit: null, never a throw.
  throw new NotImplementedError('10-shim', 'parseReaperLine')
}
// #endregion parseReaperLine

// #region Reaper
/**
 * Hands each exit to whoever waits for that PID. An exit can be reported before anyone asks
 * for it: a container that dies at once may be reaped before the shim has read its PID from
 * the runtime's pid file. Such an exit is kept until it is asked for, and never lost.
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
    // TODO(10): hand a reported exit to whoever waits for that PID.
    //   1. Nobody may be waiting yet: a process can be reaped before the shim has read its PID from
    //      the runtime's pid file. Keep such an exit; never lose one.
    //   2. runc's shim meets the same race: see containerd's runc shim, service.go (processExits,
    //      and the exits it keeps for processes that are still starting).
    throw new NotImplementedError('10-shim', 'report')
  }

  /** Resolves once `pid` has exited, also when it exited before this was called. */
  exited(pid: number): Promise<Exit> {
    // TODO(10): a promise of `pid`'s exit.
    //   1. The exit may already be here (kept by #report): then it settles at once, and that kept
    //      exit is given away, once.
    //   2. Otherwise it settles when #report hands it over.
    throw new NotImplementedError('10-shim', 'exited')
  }
}
// #endregion Reaper
