/**
 * --userns-remap's layers, for chapter 13: a copy of a root filesystem whose owners are shifted
 * into a container's range of host ids, as dockerd shifts the layers of a remapping daemon, with
 * what chown(2) would lose put back.
 */
import { chmodSync, lchownSync, lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ContainerError } from './errors.ts'
import { hostId } from './id-mappings.ts'
import type { IdMapping, Spec } from './oci.ts'
import type { Helper, SyscallError } from '../native/helper.ts'

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
