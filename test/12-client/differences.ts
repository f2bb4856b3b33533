/**
 * Where a learner's answer differs from docker's, in words that never print docker's answer:
 * the tests compare with the real CLI, and a diff that shows the CLI's bytes turns the chapter
 * into copying them. Each says which field differs, where, and what yours was; what docker does
 * there is for the learner to find out by running it.
 */

/**
 * Where `mine` first differs from `theirs`: a character (or, for hex, byte) offset, the same
 * words whether one of them ends there or both go on, so that the offset never tells how long
 * docker's answer is.
 */
function where(mine: string, theirs: string, hex: boolean): string {
  let at = 0
  while (at < mine.length && at < theirs.length && mine[at] === theirs[at]) at++
  return `from ${hex ? 'byte' : 'character'} ${hex ? Math.floor(at / 2) : at} on`
}

/**
 * `mine` beside `theirs`, in words: undefined when they are the same, else that your `words`
 * differs, where (strings whose words end in "in hex" are told by byte), and what yours was.
 */
export function difference(words: string, mine: unknown, theirs: unknown): string | undefined {
  if (JSON.stringify(mine) === JSON.stringify(theirs)) return undefined
  const at = typeof mine === 'string' && typeof theirs === 'string' ? ` (${where(mine, theirs, words.endsWith('in hex'))})` : ''
  return `your ${words} differs from docker's${at}; yours was ${JSON.stringify(mine)}`
}

/** The first of `fields` (name, words for it, a question asked of it or '') in which `mine` is not `theirs`. */
export function firstDifference<T extends object>(mine: T, theirs: T, fields: readonly (readonly [keyof T & string, string, string])[]): string | undefined {
  for (const [field, words, question] of fields) {
    const differs = difference(words, mine[field], theirs[field])
    if (differs) return `${differs}${question && ` — ${question}`}`
  }
  return undefined
}

/** A command's three results, in the order a difference is told. */
export const RESULTS = [['stdout', 'stdout', ''], ['stderr', 'stderr', ''], ['exitCode', 'exit code', '']] as const

/** `text` with every RFC 3339 time in it (a log line's, whatever its format) as TIME: the one part of an answer no two runs share. */
export function maskTimes(text: string): string {
  return text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, 'TIME')
}
