/**
 * Paths inside an archive someone else made, for the workbook's own code (lib/archive.ts): a
 * name that would lead out of the archive's directory, through its own spelling or through a
 * symlink the archive holds, is refused (CVE-2018-15664 and its kin). Paths a container's
 * image chose are chapter 03's (#ch/03-rootfs/securejoin.ts): there nothing is refused, the
 * rootfs is "/".
 */
import { lstatSync, readlinkSync } from 'node:fs'
import { join, posix } from 'node:path'

/** The most symlinks followed while resolving one name, as the kernel's ELOOP limit. */
export const MAX_SYMLINKS = 40

/** A name that would lead out of its directory, or that loops. */
export class PathEscapeError extends Error {
  override name = 'PathEscapeError'
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`refusing ${JSON.stringify(path)}: ${reason}`)
  }
}

function linkAt(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false // missing, or below a file: nothing to follow
  }
}

/**
 * The host path of archive name `name` inside `dir`. An absolute name, a ".." component, or a
 * symlink on the way whose target is absolute or climbs above `dir` is a PathEscapeError; a
 * symlink that stays inside is followed (the last component only with `followLast`). `where`
 * names `dir` in messages ("the archive").
 */
export function resolveInArchive(dir: string, name: string, followLast: boolean, where = 'its directory'): string {
  if (name.startsWith('/')) throw new PathEscapeError(name, `an absolute path in ${where}`)
  if (name.split('/').includes('..')) throw new PathEscapeError(name, `".." would climb out of ${where}`)
  let relative = posix.normalize(name)
  for (let links = 0; ; links++) {
    const parts = relative.split('/').filter((p) => p !== '' && p !== '.')
    // the first symlink on the way, by the number of components up to and including it
    const upTo = parts.findIndex((_, i) => (followLast || i < parts.length - 1) && linkAt(join(dir, ...parts.slice(0, i + 1)))) + 1
    if (upTo === 0) return join(dir, ...parts)
    if (links === MAX_SYMLINKS) throw new PathEscapeError(name, 'too many levels of symlinks')
    const link = parts.slice(0, upTo).join('/')
    const target = readlinkSync(join(dir, link))
    relative = posix.normalize(posix.join(posix.dirname(link), target, ...parts.slice(upTo)))
    if (target.startsWith('/') || relative === '..' || relative.startsWith('../'))
      throw new PathEscapeError(name, `it passes through symlink ${JSON.stringify(link)} -> ${JSON.stringify(target)}, which points outside ${where}`)
  }
}
