/**
 * Image references, as distribution/reference parses and normalises them (given to chapter 07):
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
 *   separator        := /[_.]|__|-+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" hex   (this workbook: sha256 and 64 lower-case hex digits)
 *
 * The defaults a short name is completed with, the normalised Reference, its error, its string
 * form, the parse and the familiar name.
 */
import { GRAMMAR, NAME_TOTAL_LENGTH_MAX } from './names.ts'

/** Docker Hub's name in references; its API lives elsewhere (see endpointFor in lib/registry-client.ts). */
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

// #region parseReference
/**
 * Parse and normalise `text` as `docker pull` does (distribution's ParseNormalizedNamed, in
 * normalize.go): the same reference in its full form, every default written out, with only the
 * fields that are set.
 *
 * A string that is not a reference throws InvalidReferenceError(text, reason), the reason
 * naming what is wrong, in distribution's words:
 *   repository name must have at least one component
 *   invalid tag "TAG"            invalid digest "DIGEST": ...         invalid registry "DOMAIN"
 *   repository name must be lowercase
 *   cannot specify 64-byte hexadecimal strings as a repository name
 *   invalid repository name component "COMPONENT"
 *   repository name must not be more than 255 characters
 * The length limit is counted on the name as distribution's Parse counts it (reference.go; the
 * chapter's "A name is a reference" says where to look).
 */
export function parseReference(text: string): Reference {
  if (text === '') throw new InvalidReferenceError(text, 'repository name must have at least one component')
  let rest = text
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!GRAMMAR.digest.test(digest)) throw new InvalidReferenceError(text, `invalid digest "${digest}": expected sha256: and 64 lower-case hex digits`)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!GRAMMAR.tag.test(tag)) throw new InvalidReferenceError(text, `invalid tag "${tag}"`)
  }
  const slash = rest.indexOf('/')
  const first = rest.slice(0, slash)
  const isDomain = slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())
  let domain = isDomain ? first : DEFAULT_DOMAIN
  let path = isDomain ? rest.slice(slash + 1) : rest
  if (!GRAMMAR.domain.test(domain)) throw new InvalidReferenceError(text, `invalid registry "${domain}"`)
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN
  if (path !== path.toLowerCase()) throw new InvalidReferenceError(text, 'repository name must be lowercase')
  if (/^[a-f0-9]{64}$/.test(path)) throw new InvalidReferenceError(text, 'cannot specify 64-byte hexadecimal strings as a repository name')
  for (const component of path.split('/'))
    if (!GRAMMAR.pathComponent.test(component)) throw new InvalidReferenceError(text, `invalid repository name component "${component}"`)
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path
  if (`${domain}/${path}`.length > NAME_TOTAL_LENGTH_MAX)
    throw new InvalidReferenceError(text, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`)
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG
  return { domain, path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) }
}
// #endregion parseReference

// #region familiarName
/**
 * The short form Docker shows and tags with: docker.io and library/ are dropped again, so
 * "docker.io/library/busybox:latest" reads "busybox:latest" and "docker.io/someone/tool:1"
 * reads "someone/tool:1". Other registries keep their domain.
 */
export function familiarName(ref: Reference): string {
  let name = `${ref.domain}/${ref.path}`
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.split('/').length === 2 ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : ref.path
  }
  return `${name}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`
}
// #endregion familiarName
