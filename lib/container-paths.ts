/**
 * Chapter 09's given code for what the runtime adds to the container's file tree once it is
 * the container's own (after pivot_root): the device nodes of linux.devices, and the masked
 * and read-only paths that hide the host's /proc and /sys.
 */
import { lchownSync, statSync } from 'node:fs'
import { posix } from 'node:path'
import { mkdirAll } from './helper-fs.ts'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import type { Spec } from './oci.ts'
import type { Helper, SyscallError } from '../native/helper.ts'

/**
 * linux.devices: each node exists in the container's /dev as runc's createDevices makes it, its
 * path resolved in the container's root, never through a symlink to the host's: its parent
 * directories made, with the given type (c, b, u as c, or p for a fifo), major, minor and
 * fileMode (0666 when absent), owned by uid:gid (0:0 when absent). A node that exists already
 * is kept, as runc keeps it.
 */
export async function createDeviceNodes(helper: Helper, pid: number, spec: Spec): Promise<void> {
  for (const { path, type, major = 0, minor = 0, fileMode = 0o666, uid = 0, gid = 0 } of spec.linux?.devices ?? []) {
    await mkdirAll(helper, posix.dirname(path))
    try {
      await helper.mknod(path, type === 'u' ? 'c' : type, fileMode, major, minor)
    } catch (error) {
      if ((error as SyscallError).code !== 'EEXIST') throw error
      continue
    }
    // No helper call for chown: Node does it through /proc/PID/root, resolved inside as exec does.
    lchownSync(secureJoin(`/proc/${pid}/root`, path, false), uid, gid)
  }
}

/**
 * linux.maskedPaths and linux.readonlyPaths, in the container's mount namespace after
 * pivot_root (the paths are the container's, /proc/kcore, /proc/sys, ...), as runc's maskPath
 * and readonlyPath make them: a masked file reads as empty, a masked directory lists nothing, a
 * read-only path refuses writes. A path the container does not have is skipped.
 */
export async function protectPaths(helper: Helper, pid: number, spec: Spec): Promise<void> {
  const kind = (path: string) => {
    try {
      return statSync(`/proc/${pid}/root${path}`).isDirectory() ? 'dir' : 'file'
    } catch {
      return undefined
    }
  }
  for (const path of spec.linux?.readonlyPaths ?? []) {
    if (!kind(path)) continue
    await helper.mount(path, path, null, ['bind', 'rec'])
    await helper.mount(path, path, null, ['bind', 'remount', 'rdonly', 'nosuid', 'nodev', 'noexec'])
  }
  for (const path of spec.linux?.maskedPaths ?? []) {
    const k = kind(path)
    if (k === 'dir') await helper.mount('tmpfs', path, 'tmpfs', ['rdonly'])
    else if (k === 'file') await helper.mount('/dev/null', path, null, ['bind'])
  }
}
