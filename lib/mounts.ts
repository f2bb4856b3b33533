/** This process's view of the mount table. */
import { readFileSync } from 'node:fs'

/** The mount points at or below `dir` in this process's mount table, outermost first. */
export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
}
