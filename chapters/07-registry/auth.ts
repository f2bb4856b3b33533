/**
 * Chapter 07: the token flow (distribution's docs/spec/auth/token.md). A registry that wants
 * a token answers 401 with a challenge naming where to get one:
 *
 *   WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry.example",
 *                     scope="repository:library/busybox:pull"
 *
 * The client asks the realm for a token for that service and scope, and sends it back on
 * every request as "Authorization: Bearer <token>". The registry never sees a password.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'

/** A parsed WWW-Authenticate challenge: its scheme and its parameters. */
export interface Challenge {
  /** "bearer" or "basic", lower-cased */
  scheme: string
  params: Record<string, string>
}

/** The scope to ask for when pulling `repository` ("library/busybox"). */
export const pullScope = (repository: string): string => `repository:${repository}:pull`

// #region parseChallenge
/**
 * Parse one challenge: a scheme, then comma-separated key=value pairs whose values may be
 * quoted (and a quoted value may itself hold commas, as in scope="repository:x:pull,push").
 * Keys are case-insensitive (lower-cased here); backslash escapes a character in a quoted value.
 */
export function parseChallenge(header: string): Challenge {
  // TODO(07): the challenge syntax of RFC 7235, the part registries use (distribution's
  //   registry/client/auth/challenge/authchallenge.go does the same).
  //   1. A scheme first, then key=value pairs separated by commas. Why can you not simply split at the
  //      commas? Look at the scope in the doc comment.
  //   2. A value is either a quoted string, where a backslash escapes the next character, or a bare token.
  //   3. A header that does not start with a scheme is an Error that quotes it.
  throw new NotImplementedError('07-registry', 'parseChallenge')
}
// #endregion parseChallenge

// #region fetchToken
/**
 * Ask the challenge's realm for a token: GET realm?service=S&scope=SCOPE (the scope the
 * caller wants, which may be wider than the one in the challenge). The answer is JSON with
 * "token" (or "access_token", the OAuth2 name for the same thing).
 */
export async function fetchToken(challenge: Challenge, scope: string): Promise<string> {
  // TODO(07): one request to the token server (distribution's docs/spec/auth/token.md, "Requesting a
  //   Token"; the client side is registry/client/auth/session.go).
  //   1. Which challenges can give you a token at all? Any other is an Error that names its scheme.
  //   2. What must the request tell the token server? Take the service from the challenge, but the scope
  //      from the caller: the challenge of GET /v2/ names none.
  //   3. Three failures, each an Error naming the token server's origin: it cannot be reached; it
  //      refuses (say which scope and the status); it answers without a token.
  throw new NotImplementedError('07-registry', 'fetchToken')
}
// #endregion fetchToken
