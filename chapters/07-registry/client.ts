/**
 * Chapter 07: talking to a registry (the Registry HTTP API v2, distribution's
 * docs/spec/api.md; the OCI distribution spec is the same protocol).
 *
 *   GET /v2/                              is this a v2 registry, and does it want a token?
 *   GET /v2/<name>/manifests/<reference>  a manifest or an index, by tag or by digest
 *   GET /v2/<name>/blobs/<digest>         a config or a layer
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { createHash } from 'node:crypto'
import { IMAGE_TYPES, INDEX_TYPES, MAX_MANIFEST_SIZE, DOCKER_HUB_ENDPOINT, MEDIA_TYPES, RegistryError, registryError, request, type FetchedManifest, type Session } from '../../lib/registry.ts'
import { DigestMismatchError } from '#ch/06-images/cas.ts'
import { fetchToken, parseChallenge, pullScope } from './auth.ts'
import { DEFAULT_DOMAIN, type Reference } from './reference.ts'

// #region endpointFor
/**
 * The base URL of a registry's API. docker.io is served from DOCKER_HUB_ENDPOINT. A registry
 * on the loopback interface (localhost, 127.0.0.0/8, [::1]) is spoken to in plain HTTP, as
 * dockerd treats 127.0.0.0/8 as an insecure registry; every other one over HTTPS.
 */
export function endpointFor(domain: string): string {
  // TODO(07): from a reference's domain to a base URL.
  //   1. DEFAULT_DOMAIN ("docker.io") is a name: return DOCKER_HUB_ENDPOINT.
  //   2. Strip a ":port" to get the host. localhost, [::1] and 127.x.y.z (four numbers, so that
  //      "127.0.0.1.example" does not count) are loopback: "http://" + domain.
  //   3. Everything else: "https://" + domain (the port stays).
  throw new NotImplementedError('07-registry', 'endpointFor')
}
// #endregion endpointFor

// #region openSession
/**
 * Start talking to `ref`'s repository, as dockerd does: GET /v2/. A 200 means no token is
 * needed. A 401 carries a WWW-Authenticate challenge: fetch a token for pulling this
 * repository and keep it in the session. Anything else means this is not a v2 registry.
 */
export async function openSession(ref: Reference): Promise<Session> {
  // TODO(07): ping the registry and get a token if it wants one.
  //   1. const session = { endpoint: endpointFor(ref.domain), repository: ref.path }.
  //   2. await request(session, '/v2/'); cancel the body (response.body?.cancel()) since you do
  //      not read it, or the connection stays busy.
  //   3. 200: return the session as it is.
  //   4. 401 with a WWW-Authenticate header: session.token = await fetchToken(parseChallenge(header),
  //      pullScope(ref.path)); return the session.
  //   5. Anything else: throw a RegistryError saying this is not a Registry v2 endpoint.
  throw new NotImplementedError('07-registry', 'openSession')
}
// #endregion openSession

// #region fetchManifest
/**
 * GET the manifest `reference` (a tag or a digest). The Accept header lists every type this
 * pull can use: a registry only serves an OCI manifest or index to a client that says it
 * accepts one, and converts a Docker manifest to the old schema 1 for a client that says
 * nothing. The body is read up to MAX_MANIFEST_SIZE and no further, whatever Content-Length
 * says. The bytes are checked against the digest: the one asked for, or else the
 * Docker-Content-Digest the registry answers with.
 */
export async function fetchManifest(session: Session, reference: string): Promise<FetchedManifest> {
  // TODO(07): GET a manifest and check it.
  //   1. request(session, `/v2/${repository}/manifests/${reference}`) with an Accept header that
  //      lists all four MEDIA_TYPES, comma-separated. Leave one out and distribution answers 404
  //      for an OCI image, or converts a Docker manifest to schema 1.
  //   2. Not ok: throw await registryError(response, what).
  //   3. Refuse a Content-Length above MAX_MANIFEST_SIZE before reading the body.
  //   4. Read the body (arrayBuffer) and hash it with sha256. The expected digest is the reference
  //      itself when it is a digest, else the Docker-Content-Digest header (if present). A
  //      difference is a DigestMismatchError(expected, actual).
  //   5. The media type is the Content-Type header without parameters, or the body's mediaType.
  //      It must be one of INDEX_TYPES or IMAGE_TYPES; anything else (schema 1) is an Error.
  //   6. Return { mediaType, digest: actual, body }.
  throw new NotImplementedError('07-registry', 'fetchManifest')
}
// #endregion fetchManifest
