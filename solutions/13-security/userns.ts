/**
 * Chapter 13: user namespaces. Root in the container is root of a user namespace of its own,
 * whose ids are a range of unprivileged ids on the host (linux.uidMappings and gidMappings):
 * what it creates on a host filesystem belongs to that range, and the host's files it was
 * not given stay out of its reach, capabilities or not.
 *
 * Check your work with `npx workbook check 13`.
 */
import { chmodSync, lchownSync, lstatSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ContainerError } from '../../lib/errors.ts'
import type { IdMapping, Spec } from '../../lib/oci.ts'
import type { RemapUser, SubIdFile } from '../../lib/subid.ts'
import type { Helper, SyscallError } from '../../native/helper.ts'

// #region hostId
/** The host id that container id `id` is under `mappings`, or undefined when no mapping covers it. */
export function hostId(id: number, mappings: IdMapping[]): number | undefined {
  const m = mappings.find((m) => id >= m.containerID && id < m.containerID + m.size)
  return m && m.hostID + (id - m.containerID)
}
// #endregion hostId

// #region enterUserNamespace
/**
 * Move the helper, before it forks or creates any other namespace, into a new user namespace
 * mapped as linux.uidMappings and gidMappings say, and leave it as that namespace's root, with
 * the ids and groups runc's process has there: the namespaces it creates next must belong to
 * the new user namespace, and every file it creates from here on must have an owner the host
 * can name. Each map is the text user_namespaces(7) describes for /proc/PID/uid_map and gid_map.
 * No mapping at all is refused before the helper changes, with `a user namespace needs
 * linux.uidMappings` (or gidMappings); a map that cannot be written names the file, the text
 * and the errno; both are ContainerErrors (125).
 */
export async function enterUserNamespace(helper: Helper, spec: Spec): Promise<void> {
  const uids = idMapText(spec.linux?.uidMappings, 'uid')
  const gids = idMapText(spec.linux?.gidMappings, 'gid')
  await helper.unshare(['user'])
  // Mapping ids other than one's own takes CAP_SETUID in the parent namespace: the helper lost
  // it with the unshare, we have it. Each map is written once, in one write(2).
  writeMap(`/proc/${helper.pid}/uid_map`, uids)
  writeMap(`/proc/${helper.pid}/gid_map`, gids)
  // Until now the helper is host uid 0, unmapped inside: become the namespace's own root.
  await helper.setgroups([])
  await helper.setgid(0)
  await helper.setuid(0)
}
// #endregion enterUserNamespace

/** A map's text: one line per mapping, ID-INSIDE-NS ID-OUTSIDE-NS LENGTH (user_namespaces(7)). */
function idMapText(mappings: IdMapping[] | undefined, kind: 'uid' | 'gid'): string {
  if (!mappings?.length) throw new ContainerError(`a user namespace needs linux.${kind}Mappings`, 125)
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('')
}

function writeMap(path: string, text: string): void {
  try {
    writeFileSync(path, text)
  } catch (error) {
    throw new ContainerError(`cannot write ${JSON.stringify(text)} to ${path}: ${(error as NodeJS.ErrnoException).code}`, 125)
  }
}

// #region shiftOwnership
/**
 * Give every file of `rootfs` (a copy the caller owns), whatever its type, the host owner its
 * owner inside the container maps to, as dockerd does for the layers of a daemon started with
 * --userns-remap: uid U becomes hostId(U, uidMappings), gid G likewise. Inside the container's
 * user namespace every file must then be what it was before: its mode, and what an exec of it
 * grants there (its file capabilities), with no more granted anywhere else. Nothing outside
 * `rootfs` may change. An owner that no mapping covers is a ContainerError (125) naming the
 * file and the id. `helper`, in the host's namespaces, does what node:fs cannot: extended
 * attributes.
 */
export async function shiftOwnership(rootfs: string, spec: Spec, helper: Helper): Promise<void> {
  const uids = spec.linux?.uidMappings ?? []
  const gids = spec.linux?.gidMappings ?? []
  const seen = new Set<string>()
  const walk = async (path: string) => {
    const stat = lstatSync(path)
    const inode = `${stat.dev}:${stat.ino}`
    if (!seen.has(inode)) {
      seen.add(inode)
      const uid = hostId(stat.uid, uids)
      const gid = hostId(stat.gid, gids)
      if (uid === undefined || gid === undefined)
        throw new ContainerError(`${path} is owned by ${stat.uid}:${stat.gid}, which the container's mappings do not cover`, 125)
      // chown(2), even root's, clears the set-user-ID and set-group-ID bits and removes the
      // file's capabilities: read both first, put both back after.
      const caps = stat.isFile() ? await fileCapabilities(helper, path) : undefined
      lchownSync(path, uid, gid)
      if (caps) await helper.setxattrBytes(path, CAPABILITY_XATTR, namespacedCapabilities(caps, path, uids))
      if (!stat.isSymbolicLink() && stat.mode & 0o6000) chmodSync(path, stat.mode & 0o7777)
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) await walk(join(path, name))
  }
  await walk(rootfs)
}
// #endregion shiftOwnership

/** The extended attribute holding a file's capabilities, a struct vfs_cap_data (linux/capability.h). */
const CAPABILITY_XATTR = 'security.capability'
const VFS_CAP_REVISION_MASK = 0xff000000
const VFS_CAP_REVISION_2 = 0x02000000
const VFS_CAP_REVISION_3 = 0x03000000
const VFS_CAP_FLAGS_EFFECTIVE = 0x000001
const XATTR_CAPS_SZ_2 = 20
const XATTR_CAPS_SZ_3 = 24

async function fileCapabilities(helper: Helper, path: string): Promise<Buffer | undefined> {
  try {
    return await helper.getxattrBytes(path, CAPABILITY_XATTR)
  } catch (error) {
    if ((error as SyscallError).code === 'ENODATA') return undefined
    throw error
  }
}

/**
 * `caps` as the kernel writes them when the container's root sets them (cap_convert_nscap): v3,
 * whose rootid is the host uid of the root they are for. A v2 attribute is the host root's and
 * would grant its capabilities to any uid on the host; a v3 one's rootid is an owner like any
 * other and moves with the range.
 */
function namespacedCapabilities(caps: Buffer, path: string, uids: IdMapping[]): Buffer {
  const magic = caps.readUInt32LE(0)
  const revision = (magic & VFS_CAP_REVISION_MASK) >>> 0
  const v2 = revision === VFS_CAP_REVISION_2 && caps.length === XATTR_CAPS_SZ_2
  if (!v2 && !(revision === VFS_CAP_REVISION_3 && caps.length === XATTR_CAPS_SZ_3))
    throw new ContainerError(`${path} has a ${CAPABILITY_XATTR} of ${caps.length} bytes, revision 0x${revision.toString(16)}, which is neither v2 nor v3`, 125)
  const rootid = v2 ? 0 : caps.readUInt32LE(XATTR_CAPS_SZ_2)
  const hostRoot = hostId(rootid, uids)
  if (hostRoot === undefined)
    throw new ContainerError(`${path}'s capabilities are for root ${rootid}, which the container's mappings do not cover`, 125)
  const shifted = Buffer.alloc(XATTR_CAPS_SZ_3)
  caps.copy(shifted, 0, 0, XATTR_CAPS_SZ_2)
  shifted.writeUInt32LE((VFS_CAP_REVISION_3 | (magic & VFS_CAP_FLAGS_EFFECTIVE)) >>> 0, 0)
  shifted.writeUInt32LE(hostRoot, XATTR_CAPS_SZ_2)
  return shifted
}

// #region remapMappings
/**
 * The mappings a daemon started with `--userns-remap` gives every container, as dockerd 20.10
 * works them out for `user` from the two files (NewIdentityMapping). A user with no range in a
 * file is an Error `no subuid ranges found for user "NAME" in PATH` (subgid likewise); a line
 * that is not `OWNER:START:COUNT`, or whose START or COUNT is not a whole number, is an Error
 * naming the file, the line number and the line.
 */
export function remapMappings(user: RemapUser, subuid: SubIdFile, subgid: SubIdFile): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  return { uidMappings: subordinateRanges(user, subuid, 'subuid'), gidMappings: subordinateRanges(user, subgid, 'subgid') }
}

function subordinateRanges(user: RemapUser, file: SubIdFile, kind: string): IdMapping[] {
  const lines = file.text.split('\n').flatMap((raw, i) => {
    const text = raw.trim()
    if (!text || text.startsWith('#')) return []
    const fields = text.split(':')
    const bad = (why: string) => new Error(`cannot parse ${file.path}, line ${i + 1}: ${JSON.stringify(text)} ${why}`)
    if (fields.length !== 3) throw bad('is not OWNER:START:COUNT')
    if (!fields.slice(1).every((f) => /^\d+$/.test(f))) throw bad('has a START or COUNT that is not a whole number')
    return [{ owner: fields[0]!, start: Number(fields[1]), count: Number(fields[2]) }]
  })
  const byUid = lines.filter((l) => l.owner === String(user.uid))
  const ranges = byUid.length > 0 ? byUid : lines.filter((l) => l.owner === user.name)
  if (ranges.length === 0) throw new Error(`no ${kind} ranges found for user ${JSON.stringify(user.name)} in ${file.path}`)
  let next = 0
  return ranges.map((r) => {
    const mapping = { containerID: next, hostID: r.start, size: r.count }
    next += r.count
    return mapping
  })
}
// #endregion remapMappings
