/**
 * --sig-proxy: the signals the client receives passed on to the container (the CLI's
 * signals.go, ForwardAllSignals, fed by run.go's notifyAllSignals). The signals it keeps, the
 * kill's spelling and the count it gives up at are given (lib/cli-facts.ts).
 */
import { constants } from 'node:os'
import { FORCED_EXIT, KEPT_SIGNALS, killName } from '../../lib/cli-facts.ts'
import type { EngineClient } from '../../lib/engine-client.ts'

/** No process can catch these. */
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP'])

/**
 * Ignored by Node from its start (node.cc, PlatformInit), so that a write to a closed pipe or
 * past the file size limit fails (EPIPE, EFBIG) instead of ending the process. A listener,
 * once removed, leaves its signal at the default (libuv's uv_signal_stop), which ends the
 * process: so none is ever added. Both are the client's own, as SIGPIPE is docker's.
 */
const IGNORED_BY_NODE = new Set(['SIGPIPE', 'SIGXFSZ'])

/** One name per signal that can have a listener: Node lists aliases (SIGIOT is SIGABRT, SIGPOLL is SIGIO), and a listener on each would pass one signal on twice. */
function catchable(): NodeJS.Signals[] {
  const names = new Map<number, NodeJS.Signals>()
  for (const [name, number] of Object.entries(constants.signals)) {
    if (!UNCATCHABLE.has(name) && !IGNORED_BY_NODE.has(name) && !names.has(number)) names.set(number, name as NodeJS.Signals)
  }
  return [...names.values()]
}

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
  // one kill at a time, each once the last is answered, as the CLI's one goroutine sends them:
  // requests sent at once go out on connections of their own, and the daemon may serve them in any order
  let sent: Promise<void> = Promise.resolve()
  // the Engine is the caller's and outlives the run: at the stop, the kill the daemon still
  // holds is cut, or its connection would keep the process alive for a run that is over
  const stopping = new AbortController()
  // the CLI's main counts SIGINT and SIGTERM, and ends the client at the third, wherever the run is
  let terminations = 0
  const send = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) return
    return engine.call('POST', `/containers/${id}/kill`, { query: { signal: killName(signal) }, signal: stopping.signal }).then(
      // read, so that its connection serves the next; a body cut at the stop is nothing either
      (response) => void response.resume().on('error', () => {}),
      () => {}, // the container gone, the daemon too, or cut at the stop: the CLI only logs it, at debug level
    )
  }
  // a listener on every signal that can have one: without it most end the process, SIGPROF
  // among the kept ones (Go's runtime ignores it)
  const handlers = catchable().map((signal) => {
    const handler = KEPT_SIGNALS.has(signal) ? () => {} : () => {
      if ((signal === 'SIGINT' || signal === 'SIGTERM') && ++terminations === FORCED_EXIT.signals) return giveUp()
      sent = sent.then(() => send(signal))
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return () => {
    stopping.abort() // what waits its turn does not go out, and the kill the daemon holds is cut
    for (const [signal, handler] of handlers) process.off(signal, handler)
  }
}
// #endregion proxySignals
