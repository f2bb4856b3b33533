/**
 * Image names: the grammar of distribution's reference package, which chapter 07 parses pulls
 * with, and the check every name that reaches the store passes, wherever it comes from (a
 * pull, a `docker save` archive's RepoTags, an OCI layout's annotations). A name is a key in
 * the tag file and a line in `images`: "../..", a NUL, a terminal escape or "__proto__" must
 * never get that far.
 */

/** The longest repository name distribution accepts (which string it measures is chapter 07's question). */
export const NAME_TOTAL_LENGTH_MAX = 255

/** The grammar's pieces as regular expressions, anchored, from distribution's regexp.go. */
export const GRAMMAR = {
  domain: /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/,
  pathComponent: /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/,
  tag: /^[\w][\w.-]{0,127}$/,
  digest: /^sha256:[a-f0-9]{64}$/,
}

/** A name that may not be stored; the message quotes it as JSON, so it prints on one clean line. */
export class InvalidImageNameError extends Error {
  override name = 'InvalidImageNameError'
}

/**
 * The whole reference grammar as one anchored expression, as distribution's ReferenceRegexp
 * matches it: a name (an optional domain, then path components), an optional tag, an optional
 * digest. It says whether a string is a reference, and what its name is (group 1); it does not
 * say which part is wrong, nor where the name lives.
 */
const REFERENCE = (() => {
  const bare = (re: RegExp) => re.source.slice(1, -1)
  const path = bare(GRAMMAR.pathComponent)
  return new RegExp(`^((?:${bare(GRAMMAR.domain)}/)?${path}(?:/${path})*)(?::${bare(GRAMMAR.tag)})?(?:@${bare(GRAMMAR.digest)})?$`)
})()

/** Why `name` breaks the grammar, or undefined when it does not. */
function nameProblem(name: string): string | undefined {
  const match = REFERENCE.exec(name)
  if (!match) return 'not a reference by the grammar'
  // the length of the name as written here, as distribution's Parse measures what it is given
  if (match[1]!.length > NAME_TOTAL_LENGTH_MAX) return `a repository name of more than ${NAME_TOTAL_LENGTH_MAX} characters`
  if (/^[a-f0-9]{64}$/.test(match[1]!)) return 'a repository named by 64 hex digits, which would read as an image ID'
  return undefined
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
