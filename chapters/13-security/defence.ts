/**
 * Chapter 13: the runtime defends itself. The container's process is set up by a process of
 * the host (the helper, driven by the runtime) that enters the container's namespaces, so what
 * it carries in, its binary and its open files, is within the container's reach unless the
 * runtime takes it away first: the lessons of CVE-2019-5736 and CVE-2024-21626.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Helper } from '../../native/helper.ts'

// #region protectRuntimeBinary
/**
 * CVE-2019-5736: make /proc/PID/exe of the helper (the process that enters the container and
 * becomes its process) name a sealed copy of its binary in memory, not the file on disk, so
 * that a process in the container that opens it can change neither the file nor the copy.
 * Called first, before the helper enters any namespace.
 */
export async function protectRuntimeBinary(helper: Helper): Promise<void> {
  // TODO(13): run the helper from a copy the container cannot change.
  //   1. How did a container overwrite runc through /proc/self/exe? Chapter text, "The runtime
  //      defends itself"; runc's libcontainer/dmz and its older nsenter/cloned_binary.c.
  //   2. Does running from a copy suffice? What could the container still do to a copy, and
  //      what must be true of it so that nobody can change it, nor undo that later?
  //      memfd_create(2), "File sealing", fcntl(2); the helper's operations (native/helper.ts).
  //   3. When must this happen relative to everything else the helper does, and what happens
  //      to a request sent while the helper replaces its own image?
  throw new NotImplementedError('13-security', 'protectRuntimeBinary')
}
// #endregion protectRuntimeBinary

// #region closeLeakedFds
/**
 * CVE-2024-21626: close every fd the helper inherited without being given it on purpose (its
 * stdio, control socket and extra fds stay), before it enters the container: an fd open on a
 * host directory is a door out of any root filesystem (/proc/self/fd/N as a working directory).
 */
export async function closeLeakedFds(helper: Helper): Promise<void> {
  // TODO(13): which fds did the helper get without anyone asking?
  //   1. Run `ls -l /proc/PID/fd` of a helper started by a process that had an extra file open.
  //   2. Which fds must stay (the runtime's exec.fifo is one), and how do you tell them from the
  //      ones nobody passed on purpose? Read how the Helper is spawned (native/helper.ts).
  throw new NotImplementedError('13-security', 'closeLeakedFds')
}
// #endregion closeLeakedFds

// #region checkCwd
/**
 * CVE-2024-21626, the second lock: once process `pid` (the container's, after pivot_root and
 * chdir) stands in its working directory, check that this directory is the one process.cwd
 * names inside the container's root, whatever names lead to either. Otherwise refuse, a
 * ContainerError (125) whose message the tests read:
 * `process.cwd "CWD" is outside the container's root filesystem (...)`.
 */
export function checkCwd(pid: number, cwd: string): void {
  // TODO(13): prove the working directory is inside the container.
  //   1. What do /proc/PID/cwd and /proc/PID/root show from the host? Which one tells where the
  //      process stands, which one where process.cwd should have taken it?
  //   2. Why would comparing names fail (symlinks, /proc/self/fd/N), and what identifies a
  //      directory whatever its name? runc checks with getcwd(2) instead: see the chapter text.
  //      How did chapter 03 resolve a path inside a root filesystem without leaving it?
  //   3. A cwd that does not resolve inside the root at all is refused the same way.
  throw new NotImplementedError('13-security', 'checkCwd')
}
// #endregion checkCwd
