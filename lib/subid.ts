/** What chapter 13's remapMappings reads: the user `--userns-remap` names, and its subuid/subgid files. */

/** The user --userns-remap names, as /etc/passwd has it. */
export interface RemapUser {
  name: string
  uid: number
}

/** A subordinate id file (subuid(5), subgid(5)): where it was read, for errors, and its text. */
export interface SubIdFile {
  path: string
  text: string
}
