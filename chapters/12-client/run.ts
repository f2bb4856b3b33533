/**
 * `docker run` as the docker CLI makes it (cli/command/container run.go): the order of its
 * requests, the end of the run, and which of its answers decides what, on every way out. The
 * attach's streams and the signal proxy are this chapter's too (streamHijacked, hijack.ts, on
 * copyOutput, stdcopy.ts; proxySignals, signals.ts); the steps around them are given: the
 * create and the pull (lib/create-or-pull.ts), the words and counts docker's client uses
 * (lib/cli-facts.ts), and the words of a failed run (lib/run-error.ts): minidocker/client.ts
 * puts what runContainer throws through runError, all but an AttachError (lib/client.ts).
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { RunPlan, Stdio } from '../../lib/client.ts'
import type { ProgressSink } from '../../lib/jsonmessage.ts'
import type { Engine } from '../../lib/engine-client.ts'

// #region runContainer
/**
 * The whole `run`: the container created (its image pulled if missing), its output on the
 * client's stdout and stderr from the first byte, and the exit code the daemon reports for
 * it. No output may be lost, not even a first line written at once; a container that exits
 * at once (and with --rm is removed at once) must still be seen to exit. With -i the
 * container reads the client's stdin to its end; without, it reads none;
 * either way the output still comes. -d prints the ID alone on stdout. With -it, the
 * detach keys typed leave the container running and end the client as they end docker's.
 * A caller that aborts `cancel` (minidocker's own CLI never does) gets the run's end as soon
 * as it can come, rejected with the abort's reason, and no container of the run's is left.
 */
export async function runContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink, cancel?: AbortSignal): Promise<number> {
  // TODO(12): the whole run (the figure; the text's "The run sequence", "The ways out of run -it",
  //   "Answers out of order", "Detach keys", "Letting go" and "Cancelled"; the CLI's run.go,
  //   runContainer, hijack.go and utils.go, waitExitOrRemoved). The tests compare your
  //   requests, output, words and exit code with docker 28.2.2's, through a proxy that can hold
  //   back or cut any of the daemon's answers.
  //   1. After start the daemon waits for nobody: a container may print its line, exit and
  //      (with --rm) be gone before start's own answer is back. What must the daemon hold for
  //      this client by then? And with -d?
  //   2. Three things end in a run: the attach stream, the wait's answer, start's answer, in
  //      no order the protocol promises, and any of them can be cut. What does each of them
  //      tell you, and what does none of them? Which decides the exit code, which the words
  //      on stderr, and when the client may end? And the copy of the output can fail on its
  //      own (the daemon's words in the stream): whose error is that, and does it matter
  //      whether the wait has answered by then? And a connection that breaks under the copy
  //      (the text's `yes | docker run -i busybox head -n 1`): is docker's answer right? And the
  //      wait's own body need not be an exit code: how moby's client reads it and what the CLI
  //      then says are given (decodeWait, waitFailure); when do those words go out, and what
  //      follows them?
  //   3. A start that fails: with -d, with --rm, and for a container that ran all the same.
  //   4. The attach's streams are streamHijacked's (hijack.ts): what does it need from the
  //      run, and what of its end is the run's to decide?
  //   5. -it lends the client's terminal: which of the run's words must find it given back,
  //      on which ways out? And what if stdin is no terminal at all (NOT_A_TTY): when must the
  //      client find out? For each way out the text lists, ask the real CLI in script(1).
  //   6. --detach-keys (plan.detachKeys): who besides your streams must know them, and what
  //      if the two disagree? The keys can come at any moment of the run: what does the
  //      client exit with, and does that depend on when they came?
  //   7. However the call settles, the client then holds nothing, and a process that never
  //      calls process.exit() could end on its own: what did the run take, and does every way
  //      out (the proxy's giveUp among them) reach what gives each back? The tests run every
  //      way out so, with `node -e`.
  //   8. `cancel` (the text's "Cancelled"): at each of your awaits, what can a cancel cut, what
  //      has the daemon done by then, and what of it must go? The caller keeps its signal.
  throw new NotImplementedError('12-client', 'runContainer')
}
// #endregion runContainer
