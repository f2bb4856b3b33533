/**
 * Container ids and host ids under config.json's linux.uidMappings and gidMappings, for chapter
 * 13: where a container id lands on the host, and a mapping list as the text the kernel takes
 * in /proc/PID/uid_map and gid_map (user_namespaces(7)), written in one write(2).
 */
import { writeFileSync } from 'node:fs'
import { ContainerError } from './errors.ts'
import type { IdMapping } from './oci.ts'

// #region hostId
/** The host id that container id `id` is under `mappings`, or undefined when no mapping covers it. */
export function hostId(id: number, mappings: IdMapping[]): number | undefined {
  const m = mappings.find((m) => id >= m.containerID && id < m.containerID + m.size)
  return m && m.hostID + (id - m.containerID)
}
// #endregion hostId

/** The text of a uid_map or gid_map for `mappings`, one line per mapping, as user_namespaces(7) describes it. */
export function idMapText(mappings: IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('')
}

/** Write a map's `text` to `path` (/proc/PID/uid_map, gid_map, setgroups) in one write(2); a refusal is a ContainerError (125) naming the file, the text and the errno. */
export function writeIdMap(path: string, text: string): void {
  try {
    writeFileSync(path, text)
  } catch (error) {
    throw new ContainerError(`cannot write ${JSON.stringify(text)} to ${path}: ${(error as NodeJS.ErrnoException).code}`, 125)
  }
}
