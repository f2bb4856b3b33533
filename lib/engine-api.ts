/**
 * Chapter 11's given Engine API rules (the starter and the reference share them): the rules that hold for every request, as dockerd applies them in
 * its router (moby api/server/server.go, api/server/middleware/version.go,
 * api/server/httpstatus/status.go): the version in the path, the headers on every response,
 * and errors as `{"message": ...}` with the status code the CLI acts on.
 */
import { API_VERSION, badRequest, EngineError, MIN_API_VERSION, SERVER } from './engine.ts'

export { API_VERSION, MIN_API_VERSION, SERVER, EngineError, noSuchContainer, noSuchImage, conflict, badRequest } from './engine.ts'

// #region engineHeaders
/** The headers dockerd puts on every response, the 101 of an exec start included. */
export function engineHeaders(): Record<string, string> {
  return { 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: SERVER }
}
// #endregion engineHeaders

// #region apiPath
/**
 * The route part of a request path: `/v1.41/containers/json` and `/containers/json` are the
 * same route. A version above API_VERSION or below MIN_API_VERSION is refused as dockerd's
 * version middleware refuses it (moby api/server/middleware/version.go), status and words.
 */
export function apiPath(path: string): { version: string; route: string } {
  const match = /^\/v(\d+\.\d+)(\/.*)$/.exec(path)
  if (!match) return { version: API_VERSION, route: path }
  const version = match[1]!
  // major, then minor: 1.9 is older than 1.41, which neither a decimal nor a string comparison knows
  const versionNumber = (v: string) => v.split('.').map(Number).reduce((major, minor) => major * 1000 + minor)
  if (versionNumber(version) > versionNumber(API_VERSION))
    throw badRequest(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`)
  if (versionNumber(version) < versionNumber(MIN_API_VERSION))
    throw badRequest(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`)
  return { version, route: match[2]! }
}
// #endregion apiPath

// #region errorStatus
/**
 * The status an error answers with, as dockerd's router would give it: an EngineError's own;
 * for any other error, a 4xx if the client's request caused it, else the daemon's own 500
 * (dockerd's "System error").
 */
export function errorStatus(error: unknown): number {
  if (error instanceof EngineError) return error.status
  if (error instanceof SyntaxError || error instanceof TypeError) return 400
  return 500
}
// #endregion errorStatus
