/**
 * Chapter 03: a path the image chose, resolved inside the rootfs. The image's files are
 * someone else's: any directory on the way may be a symlink, aimed wherever its author liked.
 */
import { lstatSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { ContainerError } from '../../lib/errors.ts'

/** The kernel's limit on symlinks followed in one lookup (path_resolution(7)). */
const MAX_SYMLINKS = 40

/** Whether `path` is a symlink itself; false when it is missing or below a file. */
function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

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
  const names = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.')
  // `at`: where the lookup stands, below root, every component real (no symlink in it).
  // `rest`: what is left to walk; a symlink's target goes in front of it.
  let at: string[] = []
  let rest = names(path)
  // A path ending in "/" or "/." asks for a directory: its last name is followed, lstat(2) too.
  const followEnd = followLast || /(^|\/)\.?$/.test(path)
  let followed = 0
  while (rest.length > 0) {
    const name = rest.shift()!
    if (name === '..') {
      at.pop() // at "/" it stays there, as the kernel's ".." at a process's root does
      continue
    }
    const next = join(root, ...at, name)
    const final = rest.length === 0
    if ((final && !followEnd) || !isSymlink(next)) {
      at.push(name)
      continue
    }
    if (++followed > MAX_SYMLINKS)
      throw new ContainerError(`cannot resolve ${JSON.stringify(path)} in ${root}: too many levels of symbolic links`, 125)
    // A name is bytes (path_resolution(7)); the answer is a string, which holds only what UTF-8
    // can spell. A target it cannot would come back as another name (U+FFFD for each bad byte),
    // one the image may have made too: no answer names what the kernel reaches then.
    const bytes = readlinkSync(next, { encoding: 'buffer' })
    const target = bytes.toString('utf8')
    if (!Buffer.from(target).equals(bytes))
      throw new ContainerError(`cannot resolve ${JSON.stringify(path)} in ${root}: the symlink /${join(...at, name)} leads to a name that is not UTF-8`, 125)
    // relative: from the link's own directory, which is `at`; absolute: from the root
    if (target.startsWith('/')) at = []
    rest = [...names(target), ...rest]
  }
  return join(root, ...at)
}
// #endregion secureJoin
