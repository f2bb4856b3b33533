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
 * `POST /images/create`: the daemon pulls and streams its progress as JSON messages, one per
 * line, each handed to `progress`. An error before the stream is a DaemonError (call() makes
 * it); one in the stream (`errorDetail`) ends the pull with its message.
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
 * `POST /containers/create`; when the daemon has no such image, say so on stderr as the CLI
 * does, pull it with its progress on stderr, and create again. Returns the container's ID.
 */
export async function createContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<string> {
  // TODO(12): create, pulling only what is missing (the CLI's cli/command/container/create.go,
  //   createContainer; the text's "The run sequence").
  //   1. Which of the ways a create fails lead to a pull? The tests ask docker 28.2.2 about a
  //      missing image, a missing network and a name in use; read create.go's test for it.
  //      Any other failure reaches the user as it came.
  //   2. The user is told before the pull, on stderr: the tests compare that line with what
  //      docker run prints for an image the daemon lacks (run it and read its stderr), the
  //      image named as the CLI shows it.
  //   3. The create after the pull is the first one again, its name included.
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
 * at once (and with --rm is removed at once) must still be seen to exit. With -i, stdin goes
 * to the container and the daemon learns where it ends; without -i, it learns at once that
 * there is none, and the output still comes. -d prints the ID once the container runs.
 * With -it, the detach keys typed leave the container running and the client exits 0.
 */
export async function runContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<number> {
  // TODO(12): the whole run (the figure; the text's "The run sequence"; the CLI's run.go,
  //   runContainer, and utils.go, waitExitOrRemoved).
  //   1. For the doc comment's two promises to hold, what must have answered before start is
  //      sent? The tests compare your requests, in order, with docker's: record docker's (the
  //      text's "The run sequence"). What does -d leave out, and what does it print?
  //   2. With --rm the container is gone once it exits: what must the wait wait for, so that
  //      its answer still comes, and comes after the removal?
  //   3. stdin: without -i there is nothing to send; with it, the daemon must learn of its end,
  //      or `cat` never finishes. Either way the output still comes the other way.
  //   4. start can fail (a command not found): nothing may hold the client open then, and with
  //      --rm the error goes out only once the daemon has removed the container.
  //   5. The exit code has one source. The terminal, the signals and stdin are given back
  //      whatever happens, and no promise may reject unheard while you wait on another.
  //   6. --detach-keys (plan.detachKeys; the text's "Detach keys"; the CLI's run.go and
  //      hijack.go, setupInput): who else must know the keys, and when does the CLI's own
  //      proxy (detach.ts) watch stdin? A daemon may refuse the keys: what does the CLI say
  //      then (AttachError), and what if one let through keys parseDetachKeys refuses? After a
  //      detach the container runs on: what is left to wait for, and what does the CLI print?
  //   7. The ways out of -it (the text's "The ways out of run -it"; run.go and hijack.go, where
  //      restoreInput is called): the container's exit, a SIGTERM or SIGHUP to the client, the
  //      daemon's connections dropping, a start that fails after the attach, an attach refused.
  //      For each: when may the terminal go raw, when must it come back (before which words?),
  //      does the client live on, and with which code and words does it end?
  //   8. Letting go (the text's "Letting go"): when the call settles, the client holds nothing,
  //      and a process that never calls process.exit() could end on its own. Go's CLI needs
  //      none of this (its process ends with main); Node's event loop waits for what you left.
  //      List what a run takes (listeners on process, stdin, connections: which are the
  //      Engine's to close and which only yours, the terminal) and, for each way out of step 7
  //      and the detach, where each is given back. Nothing may be given back twice, nor kept
  //      for a container that is gone. The tests run every way out with `node -e`, no exit.
  //   9. A daemon need not answer in the order a quiet one shows (the text's "Answers out of
  //      order"; run.go after the start, utils.go, hijack.go): start's answer late, the attach
  //      ended while the container runs on, the wait's connection broken mid-output, a start
  //      that fails once the container has written. Three things end: the output, the wait,
  //      the start. Which is a sign of what, what may still come after each, and which decides
  //      the code and the words? Find out from the real CLI before you decide: the tests hold
  //      back and cut the daemon's answers under docker 28.2.2 first, then under your client.
  throw new NotImplementedError('12-client', 'runContainer')
}
// #endregion runContainer
