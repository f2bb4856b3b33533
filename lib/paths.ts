/**
 * Paths inside a directory someone else filled, for the workbook's own code: an archive being
 * loaded, a container's root filesystem getting its mount points, a program looked up in it.
 * A path resolved here never leads to the host's files through a symlink the image planted
 * (CVE-2018-15664, CVE-2021-30465 and their kin).
 */
import { lstatSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/** The most symlinks followed while resolving one path, as the kernel's ELOOP limit. */
export const MAX_SYMLINKS = 40

/** A path that would lead out of its root (refuse mode), or that loops. */
export class PathEscapeError extends Error {
  override name = 'PathEscapeError'
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`refusing ${JSON.stringify(path)}: ${reason}`)
  }
}

export interface InRootOptions {
  /**
   * "scope": resolve as if `root` were "/" (runc's securejoin): an absolute path or symlink
   * target starts again at root, ".." stops at root, so nothing ever leads out.
   * "refuse": what a tar entry or an archive's file name may do: an absolute name, a ".."
   * component, or a symlink that leads out of root is an error.
   */
  escapes: 'scope' | 'refuse'
  /** Follow a symlink in the last component too (reading a file, mounting onto a path), instead of leaving it to be replaced (writing a tar entry). */
  followLast?: boolean
  /** what root is, for messages: "the layer", "the archive" */
  where?: string
}

const components = (path: string) => path.split('/').filter((p) => p !== '' && p !== '.')

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false // missing, or below a file: nothing to follow
  }
}

/** The host path of `path` inside `root`, with every symlink on the way resolved inside root. */
export function resolveInRoot(root: string, path: string, options: InRootOptions): string {
  const { escapes, followLast = false, where = 'its root' } = options
  if (escapes === 'refuse') {
    if (path.startsWith('/')) throw new PathEscapeError(path, `an absolute path in ${where}`)
    if (components(path).includes('..')) throw new PathEscapeError(path, `".." would climb out of ${where}`)
  }
  let done: string[] = []
  let todo = components(path)
  let through = '' // the last symlink followed, for the message
  for (let hops = 0; todo.length > 0; ) {
    const part = todo.shift()!
    if (part === '..') {
      // only a symlink's target brings ".." here in refuse mode
      if (done.length === 0 && escapes === 'refuse') throw new PathEscapeError(path, `it passes through symlink ${through}, which points outside ${where}`)
      done.pop()
      continue
    }
    const here = join(root, ...done, part)
    if ((todo.length === 0 && !followLast) || !isSymlink(here)) {
      done.push(part)
      continue
    }
    if (++hops > MAX_SYMLINKS) throw new PathEscapeError(path, 'too many levels of symlinks')
    const target = readlinkSync(here)
    through = `${JSON.stringify([...done, part].join('/'))} -> ${JSON.stringify(target)}`
    if (target.startsWith('/')) {
      if (escapes === 'refuse') throw new PathEscapeError(path, `it passes through symlink ${through}, which points outside ${where}`)
      done = []
    }
    todo = [...components(target), ...todo]
  }
  return join(root, ...done)
}
