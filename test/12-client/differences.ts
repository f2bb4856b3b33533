/**
 * Where a learner's answer differs from docker's, in words that never print docker's answer:
 * the tests compare with the real CLI, and a diff that shows the CLI's bytes turns the chapter
 * into copying them. Each says which field differs, where, and what yours was; what docker does
 * there is for the learner to find out by running it.
 */

/** Where `mine` first differs from `theirs`: a character (or, for hex, byte) offset, or which one is longer. */
function where(mine: string, theirs: string, hex: boolean): string {
  let at = 0
  while (at < mine.length && at < theirs.length && mine[at] === theirs[at]) at++
  const unit = hex ? 2 : 1
  const offset = Math.floor(at / unit)
  const what = hex ? 'byte' : 'character'
  if (at === theirs.length) return `yours goes on past ${what} ${offset}, where docker's ends`
  if (at === mine.length) return `yours ends at ${what} ${offset}, where docker's goes on`
  return `from ${what} ${offset} on`
}

/**
 * The first of `fields` (name, words for it, a question asked of it or '') in which `mine` is not
 * `theirs`: which one differs, where, and what yours was, not what docker's was. Strings whose
 * field's words end in "in hex" are told by byte.
 */
export function firstDifference<T extends object>(mine: T, theirs: T, fields: readonly (readonly [keyof T & string, string, string])[]): string | undefined {
  for (const [field, words, question] of fields) {
    const [a, b] = [mine[field] as unknown, theirs[field] as unknown]
    if (JSON.stringify(a) === JSON.stringify(b)) continue
    const at = typeof a === 'string' && typeof b === 'string' ? ` (${where(a, b, words.endsWith('in hex'))})` : ''
    return `your ${words} differs from docker's${at}; yours was ${JSON.stringify(a)}${question && ` — ${question}`}`
  }
  return undefined
}
