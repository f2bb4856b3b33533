/**
 * --sig-proxy: the signals the client receives passed on to the container (the CLI's
 * signals.go, ForwardAllSignals, fed by run.go's notifyAllSignals). The signals it keeps, the
 * kill's spelling and the count it gives up at are given (lib/cli-facts.ts).
 */
import type { EngineClient } from '../../lib/engine-client.ts'
import { NotImplementedError } from '../../lib/errors.ts'

// #region proxySignals
/**
 * Until the returned function is called, every signal the client can pass on goes to
 * container `id` through the daemon's kill endpoint, as docker 28.2.2's client passes it on
 * (which, in which words, in which order), and the client lives on, whatever it was sent, to
 * report the container's exit. A kill the daemon refuses ends nothing. Where docker's client
 * stops waiting for a container that ignores what it is sent and ends itself, `giveUp` is
 * called instead. The returned function leaves the process's signals as they were.
 */
export function proxySignals(engine: EngineClient, id: string, giveUp: () => void): () => void {
  // TODO(12): the signal proxy (the text's "Signals"; the CLI's signals.go, ForwardAllSignals,
  //   and run.go, where notifyAllSignals feeds it; signal(7)). The tests send your proxy and
  //   docker 28.2.2's client the same signals, against the same fake daemon, and compare the
  //   kills the daemon gets. What docker's client keeps, how it spells a kill and when it gives
  //   up are given (lib/cli-facts.ts); what Go does for it without a line of code is yours.
  //   1. Which signals? Go's signal.Notify with no signal named catches everything its runtime
  //      lets go of, and the CLI keeps a few (KEPT_SIGNALS). Node has a list of its own
  //      (os.constants.signals): what does a listener on each of its names catch?
  //   2. The client lives on whatever it is sent, as docker's does (signal(7)): the kept ones too.
  //   3. Signals can come faster than the daemon answers: a user's ^C then ^\, a supervisor's
  //      TERM then HUP. In which order does the container get them from docker's client, and
  //      from yours?
  //   4. A kill the daemon refuses (the container has exited meanwhile): what does the client
  //      say, and does anything wait on it?
  //   5. A container that ignores ^C: the user presses it again, and again, and docker's client
  //      ends itself (FORCED_EXIT). What must your run do with `giveUp` then, wherever the run
  //      is (runContainer)?
  //   6. Once stopped, nothing of the proxy is left on the process, and nothing more reaches the
  //      daemon, while the Engine, the caller's, stays open for the caller's next run. What does
  //      a kill the daemon has not answered yet hold then? And is every signal as it was before
  //      the proxy: Node does not start with each at its default, and what does removing a
  //      listener set it to (Node's docs on signal events; libuv's uv_signal_stop)?
  throw new NotImplementedError('12-client', 'proxySignals')
}
// #endregion proxySignals
