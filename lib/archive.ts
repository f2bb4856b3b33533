/**
 * Reading an image archive's own files (`docker save` folders and OCI layouts), given to
 * chapter 06's loaders: an archive is someone else's file tree, just as a layer is, so every
 * name in it goes through the chapter's resolveInside() and only regular files are read. Then
 * `docker save`'s own format, loaded through the chapter's importImage().
 */
import { createReadStream, lstatSync, readFileSync, readlinkSync } from 'node:fs'
import { posix, relative } from 'node:path'
import { resolveInside } from '#ch/06-images/unpack.ts'
import { importImage, pruneLayers } from '#ch/06-images/store.ts'
import { UnsafeLayerError } from './errors.ts'
import { allLayers } from './image-store.ts'
import { checkImageNames } from './names.ts'

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

/** What one loaded image became. */
export interface Loaded {
  id: string
  tags: string[]
}

/**
 * Load `images` one after the other, as `docker load` does: when one fails, those before it
 * stay loaded, and the layers that appeared since the start and that no image uses are pruned.
 */
export async function importEach(root: string, images: { tags: string[]; load: () => Promise<string> }[]): Promise<Loaded[]> {
  const before = new Set(allLayers(root).map((l) => l.chainId))
  const loaded: Loaded[] = []
  try {
    for (const { tags, load } of images) loaded.push({ id: await load(), tags })
    return loaded
  } catch (error) {
    pruneLayers(root, allLayers(root).filter((l) => !before.has(l.chainId)))
    throw error
  }
}

/**
 * Load every image a `docker save` folder's manifest.json lists ({ Config, RepoTags, Layers },
 * paths relative to the folder), with its RepoTags. Every tag passes the reference grammar and
 * every path archiveFile() before anything is stored; a layer is opened, as a stream, only when
 * the store asks for it (moby's daemon/internal/image/tarexport/load.go).
 */
export async function loadDockerArchive(root: string, dir: string): Promise<Loaded[]> {
  const entries = archiveJson(dir, 'manifest.json') as { Config: string; RepoTags?: unknown; Layers: string[] }[]
  if (!Array.isArray(entries)) throw new Error('manifest.json in the archive is not a list of images')
  return importEach(root, entries.map((entry) => {
    const tags = checkImageNames(entry.RepoTags, 'manifest.json')
    const config = readFileSync(archiveFile(dir, entry.Config))
    const layers = (Array.isArray(entry.Layers) ? entry.Layers : []).map((layer) => archiveFile(dir, layer))
    return { tags, load: () => importImage(root, config, (i) => createReadStream(layers[i]!), tags) }
  }))
}
