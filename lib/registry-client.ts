/**
 * Talking to a registry, given to chapter 07 (the Registry HTTP API v2, distribution's
 * docs/spec/api.md; the OCI distribution spec is the same protocol).
 *
 *   GET /v2/                              is this a v2 registry, and does it want a token?
 *   GET /v2/<name>/manifests/<reference>  a manifest or an index, by tag or by digest
 *   GET /v2/<name>/blobs/<digest>         a config or a layer
 *
 * And exactly(), the bound on a blob's body: no more and no fewer bytes than its descriptor gives.
 */
import { createHash } from 'node:crypto'
import { IMAGE_TYPES, INDEX_TYPES, MAX_MANIFEST_SIZE, DOCKER_HUB_ENDPOINT, MEDIA_TYPES, RegistryError, registryError, request, type FetchedManifest, type Session } from './registry.ts'
import { DigestMismatchError } from '#ch/06-images/cas.ts'
import { fetchToken, parseChallenge, pullScope } from './registry-auth.ts'
import { DEFAULT_DOMAIN, familiarName, type Reference } from './reference.ts'

// #region endpointFor
/**
 * The base URL of a registry's API. docker.io is served from DOCKER_HUB_ENDPOINT. A registry
 * on the loopback interface (localhost, 127.0.0.0/8, [::1]) is spoken to in plain HTTP, as
 * dockerd treats 127.0.0.0/8 as an insecure registry; every other one over HTTPS.
 */
export function endpointFor(domain: string): string {
  if (domain === DEFAULT_DOMAIN) return DOCKER_HUB_ENDPOINT
  const host = domain.replace(/:\d+$/, '')
  const loopback = host === 'localhost' || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]'
  return `${loopback ? 'http' : 'https'}://${domain}`
}
// #endregion endpointFor

// #region openSession
/**
 * Start talking to `ref`'s repository, as dockerd does: GET /v2/. A 200 means no token is
 * needed. A 401 carries a WWW-Authenticate challenge: fetch a token for pulling this
 * repository and keep it in the session. Anything else means this is not a v2 registry.
 */
export async function openSession(ref: Reference): Promise<Session> {
  const session: Session = { endpoint: endpointFor(ref.domain), repository: ref.path }
  const response = await request(session, '/v2/')
  await response.body?.cancel()
  if (response.ok) return session
  const challenge = response.headers.get('www-authenticate')
  if (response.status !== 401 || !challenge)
    throw new RegistryError(`${session.endpoint}/v2/ answered ${response.status}: not a Registry v2 endpoint`, response.status)
  session.token = await fetchToken(parseChallenge(challenge), pullScope(ref.path))
  return session
}
// #endregion openSession

// #region fetchManifest
/**
 * GET the manifest `reference` (a tag or a digest) and return it once its bytes are checked,
 * with its digest and its media type, decided as distribution's client and containerd decide
 * it. The body is read up to MAX_MANIFEST_SIZE and no further; a refusal names the manifest
 * and the limit in bytes. Bytes that are not the manifest's digest are a
 * DigestMismatchError(expected, actual). A type this pull cannot use (Docker schema 1, and
 * application/json, which distribution reads as schema 1) is an Error naming that type.
 */
export async function fetchManifest(session: Session, reference: string): Promise<FetchedManifest> {
  const response = await request(session, `/v2/${session.repository}/manifests/${reference}`, {
    headers: {
      Accept: [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', '),
      ...(session.token ? { Authorization: `Bearer ${session.token}` } : {}),
    },
  })
  if (!response.ok) throw await registryError(response, `manifest ${session.repository}:${reference}`)
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > MAX_MANIFEST_SIZE) {
    await response.body?.cancel()
    throw new Error(`manifest ${reference} is ${length} bytes, more than the ${MAX_MANIFEST_SIZE} a manifest may have`)
  }
  // Content-Length is only what the registry says, and a chunked answer has none: count what arrives
  const chunks: Uint8Array[] = []
  let seen = 0
  // Node's web streams are async iterables; the DOM typings do not say so
  for await (const chunk of (response.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
    seen += chunk.length
    // leaving the loop by a throw cancels the stream, which closes the connection
    if (seen > MAX_MANIFEST_SIZE) throw new Error(`manifest ${reference} is more than the ${MAX_MANIFEST_SIZE} bytes a manifest may have: refusing to read further`)
    chunks.push(chunk)
  }
  const body = Buffer.concat(chunks)
  const actual = `sha256:${createHash('sha256').update(body).digest('hex')}`
  const expected = reference.startsWith('sha256:') ? reference : (response.headers.get('docker-content-digest') ?? actual)
  if (actual !== expected) throw new DigestMismatchError(expected, actual)
  const declared = (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType
  const mediaType = response.headers.get('content-type')?.split(';')[0]?.trim() || declared || ''
  if (![...INDEX_TYPES, ...IMAGE_TYPES].includes(mediaType))
    throw new Error(`manifest ${reference} is "${mediaType}", which this pull cannot use (Docker schema 1 is no longer supported)`)
  return { mediaType, digest: actual, body }
}
// #endregion fetchManifest

// #region manifestFor
/** fetchManifest, with the errors `docker pull` gives for a missing or forbidden image. */
export async function manifestFor(session: Session, ref: Reference, reference: string): Promise<FetchedManifest> {
  try {
    return await fetchManifest(session, reference)
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error
    const repo = familiarName({ domain: ref.domain, path: ref.path })
    if (error.status === 401 || error.status === 403)
      throw new Error(`pull access denied for ${repo}, repository does not exist or may require 'docker login': ${error.message}`, { cause: error })
    if (error.status === 404) throw new Error(`manifest for ${familiarName(ref)} not found: ${error.message}`, { cause: error })
    throw error
  }
}
// #endregion manifestFor

// #region exactly
/**
 * Pass `body` through, checking it is exactly `size` bytes long: a registry that sends more
 * than the manifest promised is stopped as soon as it goes over (it could otherwise fill the
 * disk), and one that stops early gets an error saying so instead of a digest mismatch.
 */
export async function* exactly(body: AsyncIterable<Uint8Array>, size: number, what: string): AsyncGenerator<Uint8Array> {
  let seen = 0
  for await (const chunk of body) {
    seen += chunk.length
    if (seen > size) throw new Error(`${what}: the registry sent more than the ${size} bytes the manifest gives`)
    yield chunk
  }
  if (seen < size) throw new Error(`${what}: the registry sent ${seen} of the ${size} bytes the manifest gives`)
}
// #endregion exactly
