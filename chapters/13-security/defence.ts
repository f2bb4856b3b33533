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
 * CVE-2019-5736: whatever a process in the container opens through /proc/PID/exe of the helper
 * (the process that enters the container and becomes its process) must be something nobody
 * can change, not now and not later: neither the helper's file on disk nor anything standing
 * in for it. Called first, before the helper enters any namespace.
 */
export async function protectRuntimeBinary(helper: Helper): Promise<void> {
  // TODO(13): take the runtime's binary out of the container's reach.
  //   1. How did a container overwrite runc through /proc/self/exe? Chapter text, "The runtime
  //      defends itself"; runc's libcontainer/dmz and its older nsenter/cloned_binary.c.
  //   2. If the helper runs from something other than its file, what is left for a process
  //      holding /proc/PID/exe to change there, and by which system calls? For each kind of
  //      change, decide whether it must be forbidden, and whether whoever holds an fd could
  //      still change the rules afterwards: memfd_create(2), "File sealing"; fcntl(2),
  //      F_ADD_SEALS. The helper's operations are listed in native/helper.ts.
  //   3. When must this happen relative to everything else the helper does, and what happens
  //      to a request sent while the helper replaces its own image?
  throw new NotImplementedError('13-security', 'protectRuntimeBinary')
}
// #endregion protectRuntimeBinary

// #region closeLeakedFds
/**
 * CVE-2024-21626: before the helper enters the container, it must hold no fd that nobody
 * handed it on purpose: an fd open on a host directory is a door out of any root filesystem
 * (/proc/self/fd/N as a working directory). The fds it was started with (stdio, its control
 * socket, the extra fds such as the runtime's exec.fifo) must stay usable.
 */
export async function closeLeakedFds(helper: Helper): Promise<void> {
  // TODO(13): which fds did the helper get without anyone asking, and how do they go?
  //   1. Start a helper from a shell that holds an extra fd on a directory and read
  //      `ls -l /proc/PID/fd`: which fds are there, and how did each get there (fork, exec,
  //      close-on-exec: fcntl(2), FD_CLOEXEC)?
  //   2. Which of them were handed over on purpose, and how are fds numbered when a process is
  //      spawned with a list of them? What does the Helper know about its own start
  //      (native/helper.ts)? A rule that keeps a fixed set of numbers breaks the first
  //      caller that passes one more.
  //   3. Closing fds one by one needs to know which are open: is there a call that closes a
  //      whole range, and what does the helper spare on its own? close_range(2).
  //   Where to look: runc's libcontainer/utils (CloseExecFrom) and runc's fix of CVE-2024-21626.
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
