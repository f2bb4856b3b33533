/**
 * Chapter 13: user namespaces. Root in the container is root of a user namespace of its own,
 * whose ids are a range of unprivileged ids on the host (linux.uidMappings and gidMappings):
 * what it creates on a host filesystem belongs to that range, and the host's files it was
 * not given stay out of its reach, capabilities or not.
 *
 * Check your work with `npx workbook check 13`.
 */
import { readFileSync } from 'node:fs'
import { ContainerError } from '../../lib/errors.ts'
import { hostId, idMapText, writeIdMap } from '../../lib/id-mappings.ts'
import type { IdMapping, Spec } from '../../lib/oci.ts'
import { subIdLines, type RemapUser, type SubIdFile } from '../../lib/subid.ts'
import type { Helper } from '../../native/helper.ts'

// #region enterUserNamespace
/**
 * Move the helper, before it forks or creates any other namespace, into a new user namespace
 * mapped as linux.uidMappings and gidMappings say, and leave it as that namespace's root, with
 * the ids and groups runc's process has there: the namespaces it creates next must belong to
 * the new user namespace, and every file it creates from here on must have an owner the host
 * can name. No mapping at all is refused before the helper changes, with `a user namespace
 * needs linux.uidMappings` (or gidMappings), and so is every other pair of mappings runc would
 * not run, with a message naming linux.uidMappings (or gidMappings) and why; a map that still
 * cannot be written names the file, the text and the errno; all are ContainerErrors (125).
 */
export async function enterUserNamespace(helper: Helper, spec: Spec): Promise<void> {
  const { uidMappings, gidMappings } = spec.linux ?? {}
  if (!uidMappings?.length) throw new ContainerError('a user namespace needs linux.uidMappings', 125)
  if (!gidMappings?.length) throw new ContainerError('a user namespace needs linux.gidMappings', 125)
  // The maps are written after the unshare, one at a time: a map the kernel refuses would leave
  // the helper moved, its other map written or not. So both are held to the kernel's rules first.
  for (const [field, mappings] of [['uidMappings', uidMappings], ['gidMappings', gidMappings]] as const) {
    const why = unmappable(mappings, field === 'uidMappings' ? 'uid_map' : 'gid_map')
    if (why) throw new ContainerError(`linux.${field} cannot be written as a map: ${why}`, 125)
    // A map the kernel takes may still leave the namespace without a root: the helper could
    // never become it (setuid(0) is EINVAL for an unmapped id). runc refuses such a spec before
    // it starts anything ("User namespaces enabled, but no user mapping found"), wherever in
    // the list the container's id 0 is, first range or not.
    if (hostId(0, mappings) === undefined) throw new ContainerError(`linux.${field} maps no container id 0: the user namespace would have no root`, 125)
  }
  const uids = idMapText(uidMappings)
  const gids = idMapText(gidMappings)
  await helper.unshare(['user'])
  // Mapping ids other than one's own takes CAP_SETUID in the parent namespace: the helper lost
  // it with the unshare, we have it. Each map is written once, in one write(2).
  writeIdMap(`/proc/${helper.pid}/uid_map`, uids)
  writeIdMap(`/proc/${helper.pid}/gid_map`, gids)
  // Until now the helper is host uid 0, unmapped inside, with the host's groups: become the
  // namespace's own root, holding none of them.
  // A user namespace whose ancestor wrote "deny" to its setgroups (a rootless set-up, `unshare
  // -r`, a runtime in a container) hands that on to every namespace created under it, this one
  // included: setgroups(2) is EPERM for good there, and there is nothing to drop that the
  // kernel would let go. runc's setupUser reads the file and does not ask.
  if (readFileSync(`/proc/${helper.pid}/setgroups`, 'utf8').trim() !== 'deny') await helper.setgroups([])
  await helper.setgid(0)
  await helper.setuid(0)
}

/** The highest end (exclusive) of a range in a map: the kernel never maps id 4294967295, (uid_t) -1. */
const ID_END = 0xffffffff

/**
 * Why the kernel would refuse `mappings` written to uid_map or gid_map (map_write in
 * kernel/user_namespace.c; user_namespaces(7)), or undefined: one write shorter than a page, at
 * most 340 lines, each range not empty and below (uid_t) -1 on both sides, and no two ranges
 * overlapping inside the namespace or outside it.
 */
function unmappable(mappings: IdMapping[], file: 'uid_map' | 'gid_map'): string | undefined {
  const bytes = Buffer.byteLength(idMapText(mappings))
  // The host ids are ids of the namespace the writer is in, and the kernel maps them only through
  // that namespace's own map (map_write's map_id_range_down on the parent's map): a runtime that
  // itself runs in a user namespace can hand on only the ids it has.
  const own = ownRanges(file)
  if (mappings.length > 340) return `${mappings.length} ranges, more than the 340 lines a map may have`
  if (bytes >= 4096) return `its text is ${bytes} bytes, and a map is one write shorter than a page (4096 bytes)`
  const overlap = (a: number, b: number, m: IdMapping, o: IdMapping) => a < b + o.size && b < a + m.size
  for (const [i, m] of mappings.entries()) {
    const line = `${m.containerID} ${m.hostID} ${m.size}`
    if (![m.containerID, m.hostID, m.size].every((n) => Number.isInteger(n) && n >= 0)) return `"${line}" is not three whole numbers`
    if (m.size === 0) return `"${line}" maps no id`
    if (m.containerID + m.size > ID_END || m.hostID + m.size > ID_END) return `"${line}" reaches past id ${ID_END - 1}`
    const missing = unheld(m.hostID, m.size, own)
    if (missing !== undefined) return `"${line}" names host id ${missing}, which the runtime's own user namespace does not map (its ${file}: ${JSON.stringify(own.map((r) => `${r.first} ${r.count}`).join(', '))})`
    for (const o of mappings.slice(0, i)) {
      if (overlap(m.containerID, o.containerID, m, o)) return `"${line}" overlaps "${o.containerID} ${o.hostID} ${o.size}" inside the namespace`
      if (overlap(m.hostID, o.hostID, m, o)) return `"${line}" overlaps "${o.containerID} ${o.hostID} ${o.size}" on the host`
    }
  }
  return undefined
}
/** The ids this process's own user namespace maps, from the first and third fields of /proc/self/uid_map (gid_map). */
function ownRanges(file: 'uid_map' | 'gid_map'): { first: number; count: number }[] {
  return readFileSync(`/proc/self/${file}`, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const [first = 0, , count = 0] = line.trim().split(/\s+/).map(Number)
    return { first, count }
  })
}

/** The first id of [start, start + size) that none of `ranges` covers, or undefined. */
function unheld(start: number, size: number, ranges: { first: number; count: number }[]): number | undefined {
  let id = start
  const end = start + size
  while (id < end) {
    const r = ranges.find((r) => id >= r.first && id < r.first + r.count)
    if (!r) return id
    id = r.first + r.count
  }
  return undefined
}
// #endregion enterUserNamespace

// #region remapMappings
/**
 * The mappings a daemon started with `--userns-remap` gives every container, as dockerd 20.10
 * works them out for `user` from the two files (NewIdentityMapping). A user with no range in a
 * file is an Error `no subuid ranges found for user "NAME" in PATH` (subgid likewise); a line
 * that is not `OWNER:START:COUNT`, or whose START or COUNT is not a whole number, is an Error
 * naming the file, the line number and the line (lib/subid.ts reads the lines).
 */
export function remapMappings(user: RemapUser, subuid: SubIdFile, subgid: SubIdFile): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  return { uidMappings: subordinateRanges(user, subuid, 'subuid'), gidMappings: subordinateRanges(user, subgid, 'subgid') }
}

function subordinateRanges(user: RemapUser, file: SubIdFile, kind: string): IdMapping[] {
  const lines = subIdLines(file)
  // dockerd 20.10 (idtools' parseSubidFile): the lines under the uid, or when there are none,
  // those under the name; never both.
  const byUid = lines.filter((l) => l.owner === String(user.uid))
  const ranges = byUid.length > 0 ? byUid : lines.filter((l) => l.owner === user.name)
  if (ranges.length === 0) throw new Error(`no ${kind} ranges found for user ${JSON.stringify(user.name)} in ${file.path}`)
  // The ranges in the file's order, each starting inside where the one before ends.
  let next = 0
  return ranges.map((r) => {
    const mapping = { containerID: next, hostID: r.start, size: r.count }
    next += r.count
    return mapping
  })
}
// #endregion remapMappings
