/**
 * Chapter 11: the Engine API's rules that hold for every request, as dockerd applies them in
 * its router (moby api/server/server.go, api/server/middleware/version.go,
 * api/server/httpstatus/status.go): the version in the path, the headers on every response,
 * and errors as `{"message": ...}` with the status code the CLI acts on.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { API_VERSION, badRequest, EngineError, MIN_API_VERSION, SERVER } from '../../lib/engine.ts'

export { API_VERSION, MIN_API_VERSION, SERVER, EngineError, noSuchContainer, noSuchImage, conflict, badRequest } from '../../lib/engine.ts'

// #region engineHeaders
/** The headers dockerd puts on every response, the 101 of an exec start included. */
export function engineHeaders(): Record<string, string> {
  // TODO(11): the headers every answer carries (moby api/server/server.go and middleware/version.go add them).
  //   1. Which of them does the CLI act on, and what does it do with it (the text's "Rules for every request")?
  //   2. The captured ping in that section shows the others.
  throw new NotImplementedError('11-daemon', 'engineHeaders')
}
// #endregion engineHeaders

// #region apiPath
/**
 * The route part of a request path: `/v1.41/containers/json` and `/containers/json` are the
 * same route. A version above API_VERSION or below MIN_API_VERSION is refused as dockerd's
 * version middleware refuses it (moby api/server/middleware/version.go), status and words.
 */
export function apiPath(path: string): { version: string; route: string } {
  // TODO(11): the route of a path, with or without its version prefix.
  //   1. What does a versioned path look like (the CLI's first request after _ping), and what is the rest of it?
  //   2. Which versions can this daemon not honour, and with which status and words does dockerd refuse each
  //      (moby api/server/middleware/version.go)?
  //   3. How do two versions compare? Try yours on 1.9, 1.11, 1.12, 1.41 and 1.50.
  throw new NotImplementedError('11-daemon', 'apiPath')
}
// #endregion apiPath

// #region errorStatus
/**
 * The status an error answers with, as dockerd's router would give it: an EngineError's own;
 * for any other error, a 4xx if the client's request caused it, else the daemon's own 500
 * (dockerd's "System error").
 */
export function errorStatus(error: unknown): number {
  // TODO(11): the HTTP status of an error (moby api/server/httpstatus/status.go does this for dockerd).
  //   1. An EngineError knows its own status. Which errors can only come from a client's bad body, and so are
  //      its fault (4xx), and which are the daemon's own (5xx)?
  throw new NotImplementedError('11-daemon', 'errorStatus')
}
// #endregion errorStatus
