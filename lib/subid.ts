/** What chapter 13's remapMappings reads: the user `--userns-remap` names, and its subuid/subgid files, line by line. */

/** The user --userns-remap names, as /etc/passwd has it, and the group it names or implies (`user:group`, or the user's own name), as /etc/group has it. */
export interface RemapUser {
  name: string
  uid: number
  group: { name: string; gid: number }
}

/** A subordinate id file (subuid(5), subgid(5)): where it was read, for errors, and its text. */
export interface SubIdFile {
  path: string
  text: string
}

/** One line of a subordinate id file, its three fields as written. */
export interface SubIdLine {
  owner: string
  start: number
  count: number
}

/**
 * The lines of `file` that hold a range, in the file's order; blank lines and `#` comments are
 * none. A line that is not `OWNER:START:COUNT`, or whose START or COUNT is not a whole number,
 * is an Error naming the file, the line number and the line.
 */
export function subIdLines(file: SubIdFile): SubIdLine[] {
  return file.text.split('\n').flatMap((raw, i) => {
    const text = raw.trim()
    if (!text || text.startsWith('#')) return []
    const fields = text.split(':')
    const bad = (why: string) => new Error(`cannot parse ${file.path}, line ${i + 1}: ${JSON.stringify(text)} ${why}`)
    if (fields.length !== 3) throw bad('is not OWNER:START:COUNT')
    if (!fields.slice(1).every((f) => /^\d+$/.test(f))) throw bad('has a START or COUNT that is not a whole number')
    return [{ owner: fields[0]!, start: Number(fields[1]), count: Number(fields[2]) }]
  })
}
