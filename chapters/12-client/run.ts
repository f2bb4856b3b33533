/**
 * `docker run` as the docker CLI makes it: the requests in its order (cli/command/container
 * run.go and create.go), the pull when the image is missing, the attached streams, the
 * terminal, the signals, and the exit code.
 */
import type { Socket } from 'node:net'
import { constants } from 'node:os'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { pullQuery, readAll, type RunPlan, type Stdio } from '../../lib/client.ts'
import type { JSONMessage, ProgressSink } from '../../lib/jsonmessage.ts'
import { DaemonError, type Engine } from './engine.ts'
import { copyOutput } from './stdcopy.ts'

// #region pullImage
/**
 * `image` pulled by the daemon, its progress streamed back as JSON messages, one per line,
 * each handed to `progress` as it comes. An error before the stream is a DaemonError (call()
 * makes it); one in the stream (`errorDetail`) ends the pull with its message.
 */
export async function pullImage(engine: Engine, image: string, progress: ProgressSink): Promise<void> {
  // TODO(12): the pull that run makes for a missing image, and `pull` itself (the text's
  //   "Pulling"; moby's client/image_pull.go, the CLI's jsonmessage DisplayJSONMessagesStream).
  //   1. What does docker pull send, and with which headers? The tests compare your request
  //      with docker 20.10's, made to the same daemon (record one: the text's "Pulling").
  //   2. The body is one JSON message a line, but chunks do not end at lines: progress must get
  //      each message whole, in order, while the pull runs (not once it is over).
  //   3. A 200 does not mean the pull worked: the stream can still carry an error.
  throw new NotImplementedError('12-client', 'pullImage')
}
// #endregion pullImage

// #region createContainer
/**
 * The container `plan` describes, created. An image the daemon lacks is pulled first, as the
 * CLI pulls it: announced on stderr in the CLI's words, its progress on stderr too. Any other
 * failure is the caller's, as the daemon gave it. Returns the container's ID.
 */
export async function createContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<string> {
  // TODO(12): create, pulling only what is missing (the CLI's cli/command/container/create.go,
  //   createContainer; the text's "The run sequence").
  //   1. A create fails in many ways, and the daemon's answer is all the client has to tell a
  //      missing image from the rest. What in that answer does the CLI look at? The tests give
  //      the create answers you may not expect, and compare your requests after each with
  //      docker 28.2.2's.
  //   2. The user is told before the pull, on stderr: the tests compare that line with what
  //      docker run prints for an image the daemon lacks (run it and read its stderr), the
  //      image named as the CLI shows it.
  //   3. The create after the pull is the first one again, its name included. And if it fails
  //      as the first did?
  throw new NotImplementedError('12-client', 'createContainer')
}
// #endregion createContainer

// #region runError
/**
 * A failed `run` as the CLI reports it: its name, the error, a pointer to the help, and the
 * exit code that says whose fault it was (docker run's reference documents them).
 */
export function runError(error: unknown): ContainerError {
  // TODO(12): run's failures as the docker CLI reports them (the text's "Exit codes"; the
  //   CLI's run.go, runStartContainerErr).
  //   1. Your stderr is compared with docker's, "docker" read as "minidocker": run the real one
  //      with an image or a command that does not exist, and read its stderr to the last line.
  //   2. Only the daemon's words tell "not found" from "not executable" from everything else:
  //      which words does the CLI look for?
  throw new NotImplementedError('12-client', 'runError')
}
// #endregion runError

// #region rawTerminal
/**
 * The terminal at `stdin` made raw as the CLI makes it (moby/term's MakeRaw). Returns the
 * restore: the terminal's settings from before, put back once, however many ways out call it,
 * process.exit() included.
 */
export function rawTerminal(stdin: Stdio['stdin']): () => void {
  // TODO(12): raw mode as the docker CLI sets it (the text's "The ways out of run -it"; moby/term's
  //   MakeRaw in termios_linux.go, SetRawTerminal and RestoreTerminal; termios(3), stty(1)).
  //   1. Node's setRawMode is not MakeRaw: which flag does it leave on, and what does the
  //      container's "\r\n" become on your screen then? The tests compare the terminal's bytes
  //      with docker's.
  //   2. Restoring is putting back what was there, not switching raw off: what must you save,
  //      and before what? (stdin.fd is the terminal.)
  //   3. Several ways out will call the restore, some of them twice: the terminal must come back
  //      once, and never be set again after the client has printed its last words.
  throw new NotImplementedError('12-client', 'rawTerminal')
}
// #endregion rawTerminal

// #region attachTerminal
/**
 * With -t at a terminal: the client's terminal lent to the container, with -i (`raw`) its
 * keys too, each as it is typed, ^C and ^D included. resize() gives the pty behind
 * `resizePath` (a container's or an exec's) the client's size, now and whenever it changes.
 * restore() undoes all attachTerminal did.
 */
export function attachTerminal(engine: Engine, resizePath: string, stdio: Stdio, raw: boolean): { resize(): void; restore(): void } {
  // TODO(12): lend the client's terminal to the container (the text's "A terminal"; the CLI's
  //   hijack.go, setRawTerminal and restoreTerminal, and tty.go, MonitorTtySize).
  //   1. What does raw mode change, why does -it need it, and why must it be on before
  //      anything reads stdin (what would ^D do in cooked mode)? Without a terminal at stdin
  //      there is nothing to set.
  //   2. The pty must have the client's size once its process runs, and again whenever the
  //      client's window changes; a resize that fails must not fail the run.
  //   3. The terminal outlives the client: raw mode is rawTerminal's, and restore() undoes all
  //      attachTerminal did. When runContainer calls it is runContainer's question.
  throw new NotImplementedError('12-client', 'attachTerminal')
}
// #endregion attachTerminal

// #region proxySignals
/**
 * --sig-proxy (docker run's reference): the signals the client receives go to the container,
 * and the client goes on to report the container's exit. Returns the function that stops
 * proxying.
 */
export function proxySignals(engine: Engine, id: string): () => void {
  // TODO(12): --sig-proxy (the text's "Signals"; the CLI's signals.go, ForwardAllSignals).
  //   1. A signal the client catches no longer ends it: it reaches the container, named as the
  //      daemon's kill endpoint expects, and the client lives on to report the exit.
  //   2. The container may be gone already: a failed send must not fail the run.
  //   3. After the cleanup the client's signals are its own again: nothing of yours listens.
  throw new NotImplementedError('12-client', 'proxySignals')
}
// #endregion proxySignals

// #region runContainer
/**
 * The whole `run`: the container created (its image pulled if missing), its output on the
 * client's stdout and stderr from the first byte, and the exit code the daemon reports for
 * it. No output may be lost, not even a first line written at once; a container that exits
 * at once (and with --rm is removed at once) must still be seen to exit. With -i the
 * container reads the client's stdin to its end; without, a stdin that is empty and over;
 * either way the output still comes. -d prints the ID once the container runs.
 * With -it, the detach keys typed leave the container running and the client exits 0.
 */
export async function runContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<number> {
  // TODO(12): the whole run (the figure; the text's "The run sequence", "The ways out of run -it",
  //   "Answers out of order" and "Letting go"; the CLI's run.go, runContainer, and utils.go,
  //   waitExitOrRemoved). The tests compare your requests, output, words and exit code with
  //   docker 28.2.2's, through a proxy that can hold back or cut any of the daemon's answers.
  //   1. After start the daemon waits for nobody: a container may print its line, exit and
  //      (with --rm) be gone before start's own answer is back. What must the daemon already
  //      hold for this client by then, and how does the client know that it holds it? What
  //      of it does -d need, and what does -d print?
  //   2. Three things end in a run: the attach stream, the wait's answer, start's answer, in
  //      no order the protocol promises, and any of them can be cut. Which is the container's
  //      exit, which says that all the output has come, and which may you not wait on before
  //      reading the others? Which decides the exit code, and which the words on stderr?
  //   3. What does --rm change: in what the wait waits for, and in when a start that failed
  //      (a command not found) may be reported?
  //   4. stdin: how does the daemon learn that there is none (no -i), or where it ends (-i),
  //      while the output still comes the other way?
  //   5. -it lends the client's terminal (hijack.go, setupInput and the restore it returns).
  //      Between which two moments may it be raw, and which of the run's words must find it
  //      given back? For each way out the text lists, does the client live on, and with which
  //      code and words does it end? Ask the real CLI in script(1).
  //   6. --detach-keys (plan.detachKeys; the text's "Detach keys"; the CLI's hijack.go,
  //      setupInput): who besides your proxy (detach.ts) must know the keys? A daemon may
  //      refuse them: what does the CLI say then (AttachError), and what if a daemon let
  //      through keys parseDetachKeys refuses? After a detach the container runs on: what is
  //      left to wait for, and what is printed?
  //   7. However the call settles, the client then holds nothing, and a process that never
  //      calls process.exit() could end on its own: what did the run take, and does every way
  //      out (points 2, 5 and 6) reach what gives each back, once? No promise may reject
  //      unheard while you await another. The tests run every way out so, with `node -e`.
  throw new NotImplementedError('12-client', 'runContainer')
}
// #endregion runContainer
