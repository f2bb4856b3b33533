/**
 * --sig-proxy: the signals the client receives passed on to the container (the CLI's
 * signals.go, ForwardAllSignals, fed by run.go's notifyAllSignals).
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
  //   kills the daemon gets.
  //   1. Which signals? Go's signal.Notify with no signal named catches everything its runtime
  //      lets go of. Which of those does the CLI keep, and why? Node has a list of its own
  //      (os.constants.signals).
  //   2. The client lives on whatever it is sent, as docker's does (signal(7)).
  //   3. A kill names its signal: in which of the spellings the daemon takes does the CLI send it?
  //   4. Signals can come faster than the daemon answers: a user's ^C then ^\, a supervisor's
  //      TERM then HUP. In which order does the container get them from docker's client, and
  //      from yours?
  //   5. A kill the daemon refuses (the container has exited meanwhile): what does the client
  //      say, and does anything wait on it?
  //   6. A container that ignores ^C: the user presses it again, and again. When does docker's
  //      client stop passing the signals on and end itself (ask it), and what must your run do
  //      with `giveUp` then (runContainer)?
  //   7. Once stopped, nothing of the proxy is left on the process, and nothing more reaches the
  //      daemon, while the Engine, the caller's, stays open for the caller's next run. What does
  //      a kill the daemon has not answered yet hold then?
  throw new NotImplementedError('12-client', 'proxySignals')
}
// #endregion proxySignals
