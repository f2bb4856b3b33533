/**
 * What docker 28.2.2's client does that only watching it (or reading its source) can tell:
 * its words, its counts, its lists. Given to chapter 12, so that the chapter's work is when and
 * why each of them applies; the chapter's tests compare a run with docker's all the same.
 */
import { logLine } from './cli-format.ts'

/**
 * The signals the client catches and never passes on: SIGCHLD and SIGPIPE are the client's own
 * (signals.go, ForwardAllSignals, skips them); SIGURG and SIGPROF are Go's runtime's, which never
 * hands them to the CLI (and ignores SIGPROF).
 */
export const KEPT_SIGNALS: ReadonlySet<string> = new Set(['SIGCHLD', 'SIGPIPE', 'SIGURG', 'SIGPROF'])

/** A signal as the client names it to the kill endpoint, `signal=TERM` (the daemon takes `SIGTERM` and `15` too). */
export const killName = (signal: NodeJS.Signals) => signal.slice('SIG'.length)

/**
 * cmd/docker's main (forceExitAfter3TerminationSignals) counts the SIGINTs and SIGTERMs the
 * client gets, and the third ends the client, not passed on, with these words on stderr and
 * exit code 1; the container runs on.
 */
export const FORCED_EXIT = { signals: 3, words: '\ngot 3 SIGTERM/SIGINTs, forcefully exiting' } as const

/** -it with a stdin that is no terminal: refused after the ping, before any other request (run.go, CheckTty), in these words, exit code 1. */
export const NOT_A_TTY = 'the input device is not a TTY'

/**
 * The first resize, refused (tty.go, initTtySize): tried `tries` times more, the nth after
 * n × `stepMs` ms, and then `words` on stderr. Later resizes are sent once.
 */
export const FIRST_RESIZE = { tries: 10, stepMs: 10, words: 'failed to resize tty, using default size\n' } as const

/** Detach keys the client's table cannot read, which the daemon took (hijack.go, setupInput): this warning on stderr, and the default keys watched instead. */
export const invalidDetachKeys = (reason: string) => logLine('warning', `invalid detach escape keys, using default: ${reason}`)

/** The wait's body was no exit code: the words moby's client gives the CLI for it. */
export class WaitBodyError extends Error {}

/**
 * The wait's body as moby's client reads it (client/container_wait.go, ContainerWait): the
 * first JSON value of the body. No value at all is the decoder's EOF, half of one its unexpected
 * EOF, and a body that is not JSON (a proxy's own answer, once the 200 has gone out) is given
 * back as the error's words, as it is.
 */
export function decodeWait(text: string): { StatusCode: number; Error: { Message: string } | null } {
  if (text.trim() === '') throw new WaitBodyError('EOF')
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new WaitBodyError(/end of JSON input/.test(String(error)) ? 'unexpected EOF' : text)
  }
}

/**
 * The log line of a wait that failed (utils.go, waitExitOrRemoved), after which the run exits
 * 125: `daemon`, the Error the daemon put in its answer; or `failure`, what reading the answer
 * threw (a WaitBodyError's words; a connection that broke is half a value).
 */
export const waitFailure = (problem: { daemon: string } | { failure: unknown }) =>
  logLine('error', 'daemon' in problem
    ? `Error waiting for container: ${problem.daemon}`
    : `error waiting for container: ${problem.failure instanceof WaitBodyError ? problem.failure.message : 'unexpected EOF'}`)
