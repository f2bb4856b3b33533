/**
 * Reading an image archive's own files (`docker save` folders and OCI layouts), given to
 * chapter 06's loaders: an archive is someone else's file tree, just as a layer is, so every
 * name in it goes through the chapter's resolveInside() and only regular files are read.
 */
import { lstatSync, readFileSync, readlinkSync } from 'node:fs'
import { posix, relative } from 'node:path'
import { resolveInside } from '#ch/06-images/unpack.ts'
import { UnsafeLayerError } from './errors.ts'

/** The most symlinks followed to reach one file, as the kernel's ELOOP limit. */
const MAX_LINKS = 40

/**
 * The file `name` of an archive at `dir`, refused unless it is a regular file inside it.
 * Symlinks inside the archive are followed only with `followLinks` (docker save links a layer
 * that two images share); manifest.json, index.json and blobs are never read through one, so
 * an archive cannot make the load read the host's files.
 */
export function archiveFile(dir: string, name: string, followLinks = true): string {
  if (typeof name !== 'string') throw new UnsafeLayerError(`refusing ${JSON.stringify(name)}: not a file name`)
  let path = resolveInside(dir, name)
  // resolveInside() never follows the last component: a link there is followed here, its
  // target resolved again as a name of the archive, so it is refused as any name would be
  for (let links = 0; followLinks && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink(); links++) {
    if (links === MAX_LINKS) throw new UnsafeLayerError(`refusing ${JSON.stringify(name)}: too many levels of symlinks`)
    const target = readlinkSync(path)
    const next = posix.normalize(posix.join(posix.dirname(relative(dir, path)), target))
    if (target.startsWith('/') || next === '..' || next.startsWith('../'))
      throw new UnsafeLayerError(`refusing ${JSON.stringify(name)}: it is a symlink -> ${JSON.stringify(target)}, which points outside the archive`)
    path = resolveInside(dir, next)
  }
  const stat = lstatSync(path, { throwIfNoEntry: false })
  if (!stat?.isFile())
    throw new UnsafeLayerError(`refusing ${JSON.stringify(name)}: ${stat?.isSymbolicLink() ? 'a symlink' : stat ? 'not a regular file' : 'no such file'} in the archive`)
  return path
}

/** The JSON file `name` of the archive; a parse error never quotes the content. */
export function archiveJson(dir: string, name: string): unknown {
  try {
    return JSON.parse(readFileSync(archiveFile(dir, name, false), 'utf8'))
  } catch (error) {
    if (error instanceof SyntaxError) throw new Error(`${name} in the archive is not valid JSON`)
    throw error
  }
}
