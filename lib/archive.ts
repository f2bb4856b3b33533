/**
 * Reading an image archive's own files (`docker save` folders and OCI layouts), given to
 * chapter 06's loaders: an archive is someone else's file tree, so every path in it is
 * resolved inside it and only regular files are read.
 */
import { lstatSync, readFileSync } from 'node:fs'
import { UnsafeLayerError } from './errors.ts'
import { PathEscapeError, resolveInArchive } from './paths.ts'

/**
 * The file `name` of an archive at `dir`, refused unless it is a regular file inside it.
 * Symlinks inside the archive are followed only with `followLinks` (docker save links a layer
 * that two images share); manifest.json, index.json and blobs are never read through one, so
 * an archive cannot make the load read the host's files.
 */
export function archiveFile(dir: string, name: string, followLinks = true): string {
  if (typeof name !== 'string') throw new UnsafeLayerError(`refusing ${JSON.stringify(name)}: not a file name`)
  let path: string
  try {
    path = resolveInArchive(dir, name, followLinks, 'the archive')
  } catch (error) {
    throw error instanceof PathEscapeError ? new UnsafeLayerError(error.message) : error
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
