/**
 * Chapter 07: image references, as distribution/reference parses and normalises them.
 *
 *   busybox                          → docker.io/library/busybox:latest
 *   someone/tool:1.2                 → docker.io/someone/tool:1.2
 *   127.0.0.1:5000/probe             → 127.0.0.1:5000/probe:latest
 *   busybox@sha256:<64 hex>          → docker.io/library/busybox@sha256:<64 hex>
 *
 * The grammar (distribution's reference/reference.go):
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain "/"] path-component ["/" path-component]*
 *   domain           := domain-component ["." domain-component]* [":" port-number]
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   path-component   := alpha-numeric [separator alpha-numeric]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]*\/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" hex   (this workbook: sha256 and 64 lower-case hex digits)
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
/** Docker Hub's name in references; its API lives elsewhere (see endpointFor in client.ts). */
export const DEFAULT_DOMAIN = 'docker.io'
/** The old name of the Hub, still accepted and rewritten to docker.io. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io'
/** Where the Hub's official images live: "busybox" is "library/busybox". */
export const OFFICIAL_REPO_PREFIX = 'library/'
export const DEFAULT_TAG = 'latest'
export { GRAMMAR, NAME_TOTAL_LENGTH_MAX } from '../../lib/names.ts'
import { GRAMMAR, NAME_TOTAL_LENGTH_MAX } from '../../lib/names.ts' // for your parseReference

/** A normalised reference. `tag` is set unless only a digest was given. */
export interface Reference {
  /** "docker.io", "127.0.0.1:5000" */
  domain: string
  /** the repository inside the registry: "library/busybox" */
  path: string
  tag?: string
  digest?: string
}

/** A string that is not an image reference; the message says which part is wrong. */
export class InvalidReferenceError extends Error {
  override name = 'InvalidReferenceError'
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`invalid reference format: ${reason} ("${reference}")`)
  }
}

/** "docker.io/library/busybox:latest", "127.0.0.1:5000/probe@sha256:..." */
export function referenceString(ref: Reference): string {
  return `${ref.domain}/${ref.path}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`
}

// #region parseReference
/**
 * Parse and normalise `text` as `docker pull` does: split off "@digest" and ":tag", decide
 * whether the first path component is a registry (it is when it contains "." or ":", is
 * "localhost", or has upper-case letters), default the domain to docker.io and official
 * images to library/, and default the tag to "latest" unless a digest was given.
 */
export function parseReference(text: string): Reference {
  // TODO(07): split, check and normalise the reference.
  //   1. "" is invalid ("repository name must have at least one component"). Every refusal is
  //      new InvalidReferenceError(text, reason); the class adds "invalid reference format: ".
  //   2. Split off "@digest" first (at the first "@"), then ":tag", but only a ":" after the last
  //      "/" starts a tag ("127.0.0.1:5000/probe" has a port, not a tag). Check each with GRAMMAR.
  //   3. The part before the first "/" is a domain only if there is a "/" and that part contains
  //      "." or ":", is "localhost", or is not all lower case. Otherwise the domain is
  //      DEFAULT_DOMAIN and the whole rest is the path. Check the domain with GRAMMAR.domain;
  //      rewrite LEGACY_DEFAULT_DOMAIN to DEFAULT_DOMAIN.
  //   4. Refuse a path with upper case ("repository name must be lowercase"), a path of 64 hex
  //      digits (it looks like an image ID), and any "/"-separated component that
  //      GRAMMAR.pathComponent rejects.
  //   5. On docker.io, a path without "/" is an official image: prefix OFFICIAL_REPO_PREFIX.
  //      Refuse a name (domain + "/" + path) longer than NAME_TOTAL_LENGTH_MAX.
  //   6. No tag and no digest: the tag is DEFAULT_TAG. Return { domain, path } plus tag and digest
  //      only when they are set (the tests compare with toEqual).
  throw new NotImplementedError('07-registry', 'parseReference')
}
// #endregion parseReference

// #region familiarName
/**
 * The short form Docker shows and tags with: docker.io and library/ are dropped again, so
 * "docker.io/library/busybox:latest" reads "busybox:latest" and "docker.io/someone/tool:1"
 * reads "someone/tool:1". Other registries keep their domain.
 */
export function familiarName(ref: Reference): string {
  // TODO(07): the short name Docker shows.
  //   1. Start from "domain/path".
  //   2. On DEFAULT_DOMAIN drop the domain, and drop OFFICIAL_REPO_PREFIX too when the path is
  //      exactly "library/NAME" (one more component, no deeper).
  //   3. Append ":tag" and "@digest" when the reference has them.
  throw new NotImplementedError('07-registry', 'familiarName')
}
// #endregion familiarName
