/**
 * `docker run` as the docker CLI makes it: the requests in its order (cli/command/container
 * run.go and create.go), the pull when the image is missing, the attached streams, the
 * terminal, the signals, and the exit code.
 */
import type { Socket } from 'node:net'
import { constants } from 'node:os'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { ANONYMOUS_AUTH, pullQuery, readAll, type RunPlan, type Stdio } from '../../lib/client.ts'
import type { JSONMessage, ProgressSink } from '../../lib/jsonmessage.ts'
import { DaemonError, type Engine } from './engine.ts'
import { copyOutput } from './stdcopy.ts'

// #region pullImage
/**
 * `POST /images/create`: the daemon pulls and streams its progress as JSON messages, one per
 * line, each handed to `progress`. An error before the stream is a DaemonError (call() makes
 * it); one in the stream (`errorDetail`) ends the pull with its message.
 */
export async function pullImage(engine: Engine, image: string, progress: ProgressSink): Promise<void> {
  // TODO(12): the pull that run makes when the image is missing, and `pull` itself (the text's "Pulling").
  //   1. Which endpoint, and how does the CLI split the image into its query (lib/client.ts
  //      has the split)? Which header does an anonymous pull carry?
  //   2. The body is JSON messages one per line, arriving in chunks that need not end at a line:
  //      how do you hand each whole message to `progress`?
  //   3. Errors come two ways: a status before the stream, or a message with errorDetail inside
  //      it. What must each become?
  throw new NotImplementedError('12-client', 'pullImage')
}
// #endregion pullImage

// #region createContainer
/**
 * `POST /containers/create`; when the daemon has no such image, say so on stderr as the CLI
 * does, pull it with its progress on stderr, and create again. Returns the container's ID.
 */
export async function createContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<string> {
  // TODO(12): create, and pull on "No such image" (docker's cli/command/container/create.go).
  //   1. Which status and which words tell "the daemon has no such image" from every other error?
  //   2. What exactly does the CLI print, on which stream, before it pulls? Which name does it show?
  //   3. After the pull the create is sent again, unchanged: with the name, if one was given.
  throw new NotImplementedError('12-client', 'createContainer')
}
// #endregion createContainer

// #region runError
/**
 * A failed `run` as the CLI reports it: its name, the error, a pointer to the help, and the
 * exit code that says whose fault it was: 127 the command was not found, 126 it could not
 * be executed, 125 anything else before the container ran (docker run's documented codes).
 */
export function runError(error: unknown): ContainerError {
  // TODO(12): run's failures, as the docker CLI reports them (the text's "Exit codes").
  //   1. What does the real CLI print for a failed run: which prefix, which words after the error?
  //      (Compare with the real docker: the tests do, with "docker" read as "minidocker".)
  //   2. Which exit code says the command was not found in the image, which that it could not be
  //      executed, and which that the failure was the client's or the daemon's? Which words in
  //      the daemon's message decide it?
  throw new NotImplementedError('12-client', 'runError')
}
// #endregion runError

// #region attachTerminal
/**
 * With -t at a terminal. With -i too (`raw`), the client's terminal goes raw at once, before
 * stdin is read: each key goes to the container as it is typed, ^C and ^D included, and none
 * of them ends the client's stdin. resize() gives the pty behind `resizePath` (a container's
 * or an exec's) our size; call it once the process runs, and it runs again at every SIGWINCH.
 * restore() undoes it all; it must run on every way out, even a signal.
 */
export function attachTerminal(engine: Engine, resizePath: string, stdio: Stdio, raw: boolean): { resize(): void; restore(): void } {
  // TODO(12): the client's terminal while a container with -t runs (the text's "A terminal").
  //   1. What does raw mode change at the terminal, why does -it need it, and why must it be on
  //      before stdin is read (what would a ^D do in cooked mode)?
  //   2. When does the container's pty learn the terminal's size, and when again? Which request?
  //   3. The terminal must be given back on every way out: a normal end, an error, process.exit(),
  //      a SIGTERM or SIGHUP sent to the client. What does each need?
  throw new NotImplementedError('12-client', 'attachTerminal')
}
// #endregion attachTerminal

/** The signals a client can catch and pass on (SIGKILL and SIGSTOP cannot be caught; SIGCHLD, SIGPIPE, SIGWINCH are the client's own). */
export const PROXIED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const

// #region proxySignals
/**
 * --sig-proxy: a signal sent to the client is sent to the container (`POST .../kill?signal=`)
 * instead of ending the client, which goes on to report the container's exit. Returns the
 * function that stops proxying.
 */
export function proxySignals(engine: Engine, id: string): () => void {
  // TODO(12): --sig-proxy (the docker CLI's ForwardAllSignals, the text's "Signals").
  //   1. Which request delivers a signal to the container, and how is the signal named in it?
  //   2. While proxying, a SIGINT or SIGTERM must not end the client: why does the client have
  //      to live on until the wait answers?
  //   3. What must the returned cleanup undo?
  throw new NotImplementedError('12-client', 'proxySignals')
}
// #endregion proxySignals

// #region runContainer
/**
 * The whole `run`: create (pulling if needed), attach unless -d, wait, start, and the exit
 * code the wait reports. The order is the CLI's and it matters: attach before start, so no
 * output is lost; the wait's headers before start, so a fast exit (or --rm's removal) is not
 * missed. stdin goes to the container and its end is passed on as a half-close; without -i
 * the client half-closes at once.
 */
export async function runContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<number> {
  // TODO(12): the whole run, in the docker CLI's order (the figure, and the text's "The run sequence").
  //   1. In which order do create, attach, wait and start go, and what must have arrived before
  //      the next request goes out? What would be lost if start went first?
  //   2. Which wait condition does the CLI use with --rm, and which without? What does -d change?
  //   3. stdin: with -i it is streamed and its end passed on as a half-close; without -i, what does
  //      the CLI do with its side of the attach connection right after the 101?
  //   4. If start fails, what about the attach stream, and with --rm, what must be waited for?
  //   5. Where does the exit code come from? What must be undone whatever happens?
  throw new NotImplementedError('12-client', 'runContainer')
}
// #endregion runContainer
