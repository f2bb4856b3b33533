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
  // TODO(07): from a reference's domain to the URL its API is on (the chapter's "Where the registry is").
  //   1. "docker.io" is only a name: where does the Hub's API live? (lib/registry.ts has it.)
  //   2. Which hosts are loopback, and how do you recognise one when the domain carries a port? Think of
  //      every host name a registry on the Internet could choose, and which of them your test accepts.
  //   3. Only loopback may go without TLS. The port, if any, stays.
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
  // TODO(07): the first request of every pull (moby's PingV2Registry, in registry/auth.go).
  //   1. GET /v2/ through request() from lib/registry.ts. You never read this body: release it, or the
  //      connection stays busy.
  //   2. 200: nobody needs a token. 401 with a WWW-Authenticate challenge: get a token that lets you
  //      pull this repository (pullScope). Which name does the registry check: the repository path,
  //      or the reference with its domain?
  //   3. Every request after this one must carry the token, as the token spec says (docs/spec/auth/token.md,
  //      "Using the Bearer token"). request() sends only the headers you give it: where does the token
  //      live between requests, and which of your requests must send it?
  //   4. Any other answer: a RegistryError saying this is not a Registry v2 endpoint.
  throw new NotImplementedError('07-registry', 'openSession')
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
  // TODO(07): GET a manifest and trust nothing about it (the chapter's "Asking for a manifest";
  //   containerd's remotes/docker/resolver.go sends the same request).
  //   1. What must your request say for the registry to serve each of the four kinds this pull reads
  //      (and to let you in, when the session holds a token)? The chapter says what distribution does
  //      when you leave some out.
  //   2. An error answer becomes registryError()'s RegistryError, so that the caller can tell a 404 from a 401.
  //   3. The manifest is read whole into memory, so it must be bounded by MAX_MANIFEST_SIZE. Which
  //      part of the answer says how big it is, and can you believe it? (A chunked answer declares
  //      nothing.) Refuse early what declares too much, and stop reading what turns out too big;
  //      the error names the manifest (the reference you asked for) and the limit in bytes. (Node's
  //      response body can be read chunk by chunk with for await, though the DOM typings do not say so.)
  //   4. Which digest must the bytes have, when you asked by digest, and when by tag? A difference is a
  //      DigestMismatchError(expected, actual).
  //   5. What is it? The answer claims it twice (the chapter's "Asking for a manifest"). Which claim do
  //      distribution's UnmarshalManifest (manifests.go) and containerd's getManifestMediaType believe,
  //      in which form, and when is the other one all you have?
  throw new NotImplementedError('07-registry', 'fetchManifest')
}
// #endregion fetchManifest
