/**
 * Chapter 13: the runtime defends itself. The container's process is set up by a process of
 * the host (the helper, driven by the runtime) that enters the container's namespaces, so what
 * it carries in, its binary and its open files, is within the container's reach unless the
 * runtime takes it away first: the lessons of CVE-2019-5736 and CVE-2024-21626.
 */
import { statSync } from 'node:fs'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import { ContainerError } from './errors.ts'
import type { Helper } from '../native/helper.ts'

// #region defendHelper
/**
 * The helper's first step, before it enters any namespace: nothing it carries in from the host
 * may stay within the container's reach. CVE-2019-5736: whatever a process in the container
 * opens through /proc/PID/exe of the helper (the process that enters the container and becomes
 * its process) must be something nobody can change, not now and not later: neither the helper's
 * file on disk nor anything standing in for it. CVE-2024-21626: the helper must hold no fd that
 * nobody handed it on purpose, since an fd open on a host directory is a door out of any root
 * filesystem (/proc/self/fd/N as a working directory); the fds it was started with (stdio, its
 * control socket, the extra fds it was given) must stay usable.
 */
export async function defendHelper(helper: Helper): Promise<void> {
  // Sealed against every change of its bytes and size; F_SEAL_SEAL makes that set of seals final.
  // Awaited before anything else: a request sent while the helper re-executes would be lost.
  await helper.memfdExec(['write', 'shrink', 'grow', 'seal'])
  // The exec kept every fd without close-on-exec, the leaked ones too. Passed on purpose:
  // stdio (0-2), the control socket (3), then the extra fds in the order given.
  await helper.closeFds(4 + helper.extraFdCount)
}
// #endregion defendHelper

// #region checkCwd
/**
 * CVE-2024-21626, the second lock: once process `pid` (the container's, after pivot_root and
 * chdir) stands in its working directory, check that this directory is the one process.cwd
 * names inside the container's root (resolved there as "/", as chapter 03's secureJoin does), by
 * identity (device and inode), not by name. Otherwise refuse, a ContainerError (125):
 * `process.cwd "CWD" is outside the container's root filesystem (...)`.
 */
export function checkCwd(pid: number, cwd: string): void {
  const actual = statSync(`/proc/${pid}/cwd`)
  let expected: { dev: number; ino: number } | undefined
  try {
    expected = statSync(secureJoin(`/proc/${pid}/root`, cwd, true))
  } catch {
    expected = undefined
  }
  if (expected?.dev !== actual.dev || expected.ino !== actual.ino)
    throw new ContainerError(`process.cwd ${JSON.stringify(cwd)} is outside the container's root filesystem (a leaked file descriptor?): refusing to start`, 125)
}
// #endregion checkCwd
