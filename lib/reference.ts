/**
 * Chapter 07's given pieces of image references, which the starter and the reference share:
 * the defaults a short name is completed with, the normalised Reference, its error and its
 * string form. Parsing and the familiar name are the chapter's.
 */
/** Docker Hub's name in references; its API lives elsewhere (see endpointFor in chapter 07's client.ts). */
export const DEFAULT_DOMAIN = 'docker.io'
/** The old name of the Hub, still accepted and rewritten to docker.io. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io'
/** Where the Hub's official images live: "busybox" is "library/busybox". */
export const OFFICIAL_REPO_PREFIX = 'library/'
export const DEFAULT_TAG = 'latest'

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
