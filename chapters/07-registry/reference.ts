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
 *   separator        := /[_.]|__|-+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" hex   (this workbook: sha256 and 64 lower-case hex digits)
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { GRAMMAR, NAME_TOTAL_LENGTH_MAX } from '../../lib/names.ts'
import { DEFAULT_DOMAIN, DEFAULT_TAG, InvalidReferenceError, LEGACY_DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX, referenceString, type Reference } from '../../lib/reference.ts'

// Given (lib/reference.ts): the Reference type parseReference returns, InvalidReferenceError,
// referenceString, and the defaults (DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX,
// DEFAULT_TAG). The grammar's regular expressions are GRAMMAR (lib/names.ts).
export { DEFAULT_DOMAIN, DEFAULT_TAG, GRAMMAR, InvalidReferenceError, LEGACY_DEFAULT_DOMAIN, NAME_TOTAL_LENGTH_MAX, OFFICIAL_REPO_PREFIX, referenceString, type Reference }

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
  // TODO(07): split, check and normalise the reference (the chapter's "A name is a reference").
  //   1. A name can be followed by ":tag", "@digest", or both. In which order do you cut them off, and
  //      which ":" can start a tag, so that neither a registry's port ("127.0.0.1:5000/probe") nor
  //      the digest's own ":" is read as one?
  //   2. Is the first path component a registry or the start of a path on the Hub? Read distribution's
  //      rule in splitDockerDomain (reference/normalize.go). Work out by it where "someone/tool",
  //      "localhost/x", "registry.example/x" and "Registry/x" each live before you write it.
  //   3. Check every part against GRAMMAR before you use it. Which refusal from the doc comment fits each
  //      part that fails, and which must come before the others for "Busybox" to say "lowercase"?
  //   4. Then Docker's defaults: which parts does `docker pull busybox` fill in, and which must a digest
  //      alone leave unset? Is library/ added on every registry, and to every path?
  //   5. The length limit: which string does distribution measure, and so at which step can you check it?
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
  // TODO(07): undo the defaults that parseReference added (distribution's FamiliarName).
  //   1. Which part does docker.io lose, and when does library/ go too? (Read FamiliarName for a
  //      path of more than one component.)
  //   2. A tag and a digest stay as they are.
  throw new NotImplementedError('07-registry', 'familiarName')
}
// #endregion familiarName
