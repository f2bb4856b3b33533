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
 * no symlink left in the part that exists, whatever the image's symlinks say. The part that
 * does not exist (yet) is kept as written, so that creating it there (mkdir -p) makes `path`
 * lead to it. With `followLast` false a symlink in the last component is the answer itself,
 * not followed. Reads the tree only, never writes to it.
 * @throws ContainerError (125) quoting `path` when its symlinks never end (the kernel's ELOOP).
 */
export function secureJoin(root: string, path: string, followLast: boolean): string {
  // TODO(03): resolve `path` the way the kernel would for a process chrooted to `root`.
  //   1. How does the kernel look up a path, component by component? path_resolution(7): where
  //      does a lookup start, what is ".." at "/", what is a symlink's target relative to, and
  //      when is a final symlink followed? The tests ask the kernel itself the same question
  //      in a chrooted process and compare its answer with yours.
  //   2. The image is hostile: look at each of its files without following it (which fs call
  //      shows you a symlink itself?), and never let an answer name a path outside `root`, not
  //      even for a moment on the way.
  //   3. Before you write code, resolve a few of the tests' paths on paper (the tree is built
  //      at the top of test/03-rootfs/securejoin.test.ts): "a/.." where "a" is a symlink, a
  //      link whose target is absolute, one in a subdirectory whose target is relative.
  //   4. A component that does not exist: what is the answer then, for mountInRootfs to create
  //      the mount point where the path will lead?
  //   5. Symlinks that lead back to themselves: what does the kernel answer, and how do you
  //      tell a loop from a long chain, or from a path that passes the same link twice?
  //   Where: the chapter's "Mount points the image chose" (CVE-2021-30465).
  throw new NotImplementedError('03-rootfs', 'secureJoin')
}
// #endregion secureJoin
