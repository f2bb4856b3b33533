/**
 * Chapter 13: the runtime defends itself. The container's process is set up by a process of
 * the host (the helper, driven by the runtime) that enters the container's namespaces, so what
 * it carries in, its binary and its open files, is within the container's reach unless the
 * runtime takes it away first: the lessons of CVE-2019-5736 and CVE-2024-21626.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Helper } from '../../native/helper.ts'

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
  // TODO(13): take the runtime's binary, and every fd it did not mean to pass, out of the container's reach.
  //   1. How did a container overwrite runc through /proc/self/exe? Chapter text, "The runtime
  //      defends itself"; runc's libcontainer/dmz and its older nsenter/cloned_binary.c.
  //   2. If the helper runs from something other than its file, what is left for a process
  //      holding /proc/PID/exe to change there, and by which system calls? For each kind of
  //      change, decide whether it must be forbidden, and whether whoever holds an fd could
  //      still change the rules afterwards: memfd_create(2), "File sealing"; fcntl(2),
  //      F_ADD_SEALS. The helper's operations are listed in native/helper.ts.
  //   3. Start a helper from a shell that holds an extra fd on a directory and read
  //      `ls -l /proc/PID/fd`: which fds are there, and how did each get there (fork, exec,
  //      close-on-exec: fcntl(2), FD_CLOEXEC)? Which would the step of 2 close on its own?
  //   4. Which of them were handed over on purpose, and how are fds numbered when a process is
  //      spawned with a list of them? What does the Helper know about its own start
  //      (native/helper.ts)? A rule that keeps a fixed set of numbers breaks the first caller
  //      that passes one more. close_range(2); runc's libcontainer/utils (CloseExecFrom).
  //   5. What happens to a request sent while the helper replaces its own image?
  throw new NotImplementedError('13-security', 'defendHelper')
}
// #endregion defendHelper

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
