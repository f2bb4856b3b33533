/**
 * Chapter 11: the two requests that take over their connection. The other routes are given
 * (lib/engine-routes.ts); this is where an HTTP exchange stops being one.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { EngineCall } from '../../lib/engine-http.ts'
import type { Daemon } from './daemon.ts'

// #region attachRoute
/**
 * The two requests that take over their connection (`Upgrade: tcp`): `POST
 * /containers/{id}/attach` (a container's streams, the daemon's attach()) and `POST
 * /exec/{id}/start` (an exec's, the daemon's startExec(); execToStart, given, finds the exec).
 * Each is answered with the upgrade the docker CLI accepts, as dockerd writes it for each, and
 * the socket is then the stream's. Anything else asking to upgrade is refused as a route this
 * daemon does not have.
 */
export function attachRoute(daemon: Daemon, call: EngineCall, path: string): void {
  // TODO(11): the hijack (moby api/server/router/container/container_routes.go postContainersAttach and
  //   exec.go postContainerExecStart; moby's client/hijack.go is the side that reads the answer).
  //   1. The client checks the status line and the headers before it reads a stream: the text's "Attach,
  //      wait and the exit" and its exec section say which, and how the two answers differ.
  //   2. Nothing but the stream may follow the answer on that socket. writeUpgradeHead (lib/engine-http.ts)
  //      writes a status line and headers on a bare socket.
  //   3. An attach's query asks more than which streams (the text's "Attach, wait and the exit"). With what was
  //      written before and what comes after, every byte reaches the client once, whatever the container is in
  //      the middle of writing when it comes: where is each byte of its output until it is in the log?
  throw new NotImplementedError('11-daemon', 'attachRoute')
}
// #endregion attachRoute
