/**
 * The registry's token flow, given to chapter 07 (distribution's docs/spec/auth/token.md). A registry that wants
 * a token answers 401 with a challenge naming where to get one:
 *
 *   WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry.example",
 *                     scope="repository:library/busybox:pull"
 *
 * The client asks the realm for a token for that service and scope, and sends it back on
 * every request as "Authorization: Bearer <token>". The registry never sees a password.
 */

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
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header)
  if (!match) throw new Error(`cannot parse the registry's challenge "${header}"`)
  const params: Record<string, string> = {}
  for (const m of match[2]!.matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/g))
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!
  return { scheme: match[1]!.toLowerCase(), params }
}
// #endregion parseChallenge

// #region fetchToken
/**
 * Ask the challenge's realm for a token: GET realm?service=S&scope=SCOPE (the scope the
 * caller wants, which may be wider than the one in the challenge). The answer is JSON with
 * "token" (or "access_token", the OAuth2 name for the same thing).
 */
export async function fetchToken(challenge: Challenge, scope: string): Promise<string> {
  const realm = challenge.params.realm
  if (challenge.scheme !== 'bearer' || !realm) throw new Error(`the registry asks for "${challenge.scheme}" authentication with no Bearer realm; only the token flow is supported`)
  const url = new URL(realm)
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
  url.searchParams.set('scope', scope)
  const response = await fetch(url).catch((error: Error) => {
    throw new Error(`cannot reach the token server ${url.origin}: ${(error.cause as Error | undefined)?.message ?? error.message}`)
  })
  if (!response.ok) throw new Error(`the token server ${url.origin} refused a token for ${scope}: ${response.status} ${response.statusText}`)
  const body = (await response.json()) as { token?: string; access_token?: string }
  const token = body.token ?? body.access_token
  if (!token) throw new Error(`the token server ${url.origin} answered without a token`)
  return token
}
// #endregion fetchToken
