/**
 * Chapter 12's given --sig-proxy (docker run's reference; the CLI's signals.go,
 * ForwardAllSignals): the signals the client receives go on to the container.
 */
import { constants } from 'node:os'
import type { EngineClient } from './engine-client.ts'

// #region proxySignals
/** The signals a client can catch and pass on (SIGKILL and SIGSTOP cannot be caught; SIGCHLD, SIGPIPE, SIGWINCH are the client's own). */
const PROXIED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const

/**
 * The signals the client receives sent to container `id` through the daemon's kill
 * endpoint, and the client goes on to report the container's exit; a send that fails (the
 * container gone) fails nothing. Returns the function that stops proxying.
 */
export function proxySignals(engine: EngineClient, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((signal) => {
    const handler = () => void engine.call('POST', `/containers/${id}/kill`, { query: { signal: String(constants.signals[signal]) } }).then((r) => r.resume(), () => {})
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return () => handlers.forEach(([signal, handler]) => process.off(signal, handler))
}
// #endregion proxySignals
