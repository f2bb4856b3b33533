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
  // TODO(07): read "Bearer realm="...",service="...",scope="..."".
  //   1. The scheme is the first word; lower-case it.
  //   2. After it come key=value pairs separated by commas. A value is either quoted ("...", where
  //      a backslash escapes the next character and commas are part of the value) or a bare token
  //      up to the next comma or space. A regular expression with matchAll() does it in one line.
  //   3. Lower-case the keys; unquote and unescape the values.
  //   4. Something that does not start with a scheme is an Error quoting the header.
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
  // TODO(07): one GET to the token server.
  //   1. Only the "bearer" scheme with a realm parameter can give a token: anything else is an
  //      Error that names the scheme.
  //   2. Build the URL: new URL(realm), then searchParams service (when the challenge has one)
  //      and scope (the argument, not the challenge's).
  //   3. fetch() it. A connection failure, or a status that is not ok, is an Error naming the
  //      token server's origin (url.origin) and, for a refusal, the scope and status.
  //   4. The JSON answer has "token", or "access_token" from OAuth2 servers: return whichever is
  //      there; neither is an Error.
  throw new NotImplementedError('07-registry', 'fetchToken')
}
// #endregion fetchToken
