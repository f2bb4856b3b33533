/**
 * Image names: the grammar of distribution's reference package, which chapter 07 parses pulls
 * with, and the check every name that reaches the store passes, wherever it comes from (a
 * pull, a `docker save` archive's RepoTags, an OCI layout's annotations). A name is a key in
 * the tag file and a line in `images`: "../..", a NUL, a terminal escape or "__proto__" must
 * never get that far.
 */

/** The longest repository name distribution accepts, counted on the normalised name (domain included): "docker.io/library/busybox" is 25. */
export const NAME_TOTAL_LENGTH_MAX = 255

/** The grammar's pieces as regular expressions, anchored, from distribution's regexp.go. */
export const GRAMMAR = {
  domain: /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/,
  pathComponent: /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$/,
  tag: /^[\w][\w.-]{0,127}$/,
  digest: /^sha256:[a-f0-9]{64}$/,
}

/** A name that may not be stored; the message quotes it as JSON, so it prints on one clean line. */
export class InvalidImageNameError extends Error {
  override name = 'InvalidImageNameError'
}

/** Why `name` ("repo[:tag][@digest]", with an optional registry) breaks the grammar, or undefined when it does not. */
function nameProblem(name: string): string | undefined {
  const [rest = '', digest, extra] = name.split('@')
  if (extra !== undefined || (digest !== undefined && !GRAMMAR.digest.test(digest))) return 'an invalid digest'
  const colon = rest.lastIndexOf(':')
  const tagged = colon > rest.lastIndexOf('/')
  const repo = tagged ? rest.slice(0, colon) : rest
  if (tagged && !GRAMMAR.tag.test(rest.slice(colon + 1))) return 'an invalid tag'
  const parts = repo.split('/')
  const first = parts[0]!
  const hasDomain = parts.length > 1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())
  if (hasDomain && !GRAMMAR.domain.test(first)) return 'an invalid registry'
  const path = hasDomain ? parts.slice(1) : parts
  const normalised = hasDomain ? repo : `docker.io/${path.length === 1 ? 'library/' : ''}${repo}`
  if (repo.length === 0 || normalised.length > NAME_TOTAL_LENGTH_MAX) return `a repository name must have 1 to ${NAME_TOTAL_LENGTH_MAX} characters`
  if (/^[a-f0-9]{64}$/.test(path.join('/'))) return 'a 64-hex-digit repository name (reserved for image IDs)'
  const bad = path.find((part) => !GRAMMAR.pathComponent.test(part))
  return bad === undefined ? undefined : `an invalid repository name component ${JSON.stringify(bad)}`
}

/** Throw unless `name` is a string that names an image by the reference grammar; `from` says where it came from. */
export function checkImageName(name: unknown, from: string): string {
  if (typeof name !== 'string') throw new InvalidImageNameError(`refusing image name ${JSON.stringify(name)} from ${from}: not a string`)
  const problem = nameProblem(name)
  if (problem) throw new InvalidImageNameError(`refusing image name ${JSON.stringify(name)} from ${from}: invalid reference format (${problem})`)
  return name
}

/** A `docker save` manifest's RepoTags: absent, or a list of names (a string would be one image per character). */
export function checkImageNames(names: unknown, from: string): string[] {
  if (names === undefined || names === null) return []
  if (!Array.isArray(names)) throw new InvalidImageNameError(`refusing RepoTags ${JSON.stringify(names)} from ${from}: not a list of names`)
  return names.map((name) => checkImageName(name, from))
}
