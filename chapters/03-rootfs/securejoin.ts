/**
 * Chapter 03: a path the image chose, resolved inside the rootfs. The image's files are
 * someone else's: any directory on the way may be a symlink, aimed wherever its author liked.
 *
 * Check your work with `npx workbook check 3`.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

// #region secureJoin
/**
 * The host path that `path` names for a process whose root directory is `root`: what the
 * kernel would reach if `root` were "/". The answer is `root` itself or a path below it, with
 * no symlink left in the part that exists, whatever the image's symlinks say; for a path that
 * does not lead to anything yet, the place where making it (mkdir -p) makes `path` lead there.
 * With `followLast` false it is the file lstat(2) would reach there, with it the one stat(2) would.
 * Reads the tree only, never writes to it.
 * @throws ContainerError (125) quoting `path` when no answer can name what the kernel would
 *   reach: its symlinks never end (the kernel's ELOOP), or the like.
 */
export function secureJoin(root: string, path: string, followLast: boolean): string {
  // TODO(03): resolve `path` the way the kernel would for a process chrooted to `root`.
  //   1. How does the kernel look up a path (path_resolution(7))? Every rule of it that your
  //      walk gets wrong is a path on which the tests, which ask the kernel itself in a chrooted
  //      process, disagree with you.
  //   2. The image is hostile: look at each of its files without following it (which fs call
  //      shows you a symlink itself?), and never let an answer name a path outside `root`, not
  //      even for a moment on the way.
  //   3. Before you write code, resolve a few paths on paper against a tree you make up the
  //      way an attacker would, and then ask the kernel (chroot(8) and ls) whether you agree.
  //   4. A path that does not lead to anything yet, or leads through a dangling link: where
  //      would making it make the path lead?
  //   5. A walk through someone else's links must end: when does the kernel give up, and on
  //      what would yours?
  //   6. An image's names, and its links' targets, are whatever its tar says. What is a name to
  //      the kernel, and what is it to your code?
  //   Where: the chapter's "Mount points the image chose" (CVE-2021-30465).
  throw new NotImplementedError('03-rootfs', 'secureJoin')
}
// #endregion secureJoin
