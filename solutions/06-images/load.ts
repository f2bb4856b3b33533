/**
 * Chapter 06: `docker load`. Two archive formats carry images between machines:
 *
 *   OCI image layout   oci-layout, index.json, blobs/sha256/<digest> (manifests, configs,
 *                      layers): what skopeo, umoci and buildkit write
 *   docker save        manifest.json: [{Config, RepoTags, Layers}], with the config and
 *                      each layer tar under the paths it names
 *
 * Either may come as a directory or packed into one tar.
 */
import { createReadStream, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileSource, hostArch, nameOf, type IndexEntry } from '../../lib/image.ts'
import { INDEX_TYPES } from '../../lib/registry.ts'
import { checkImageNames } from '../../lib/names.ts'
import { parseDigest, readBlob } from './cas.ts'
import { allLayers, importImage, pruneLayers } from './store.ts'
import { archiveFile, archiveJson } from '../../lib/archive.ts'
import { applyLayer } from './unpack.ts'

/** What one loaded image became. */
export interface Loaded {
  id: string
  tags: string[]
}

/**
 * Import images one by one; when one fails, remove the layers it had added that no image
 * uses, so a refused archive leaves nothing in the store.
 */
async function importAll(root: string, images: { tags: string[]; load: () => Promise<string> }[]): Promise<Loaded[]> {
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

// #region loadOciLayout
/**
 * Load every image an OCI layout's index.json lists (for an index, this machine's platform).
 * Every name is checked before anything is stored, and every blob is read from blobs/ itself,
 * never through a symlink.
 */
export async function loadOciLayout(root: string, dir: string): Promise<Loaded[]> {
  const blob = (digest: string) => {
    archiveFile(dir, `blobs/sha256/${parseDigest(digest)}`, false)
    return readBlob(join(dir, 'blobs'), digest)
  }
  const image = async (descriptor: IndexEntry, tags: string[]): Promise<string> => {
    const body = blob(descriptor.digest)
    if (INDEX_TYPES.includes(descriptor.mediaType)) {
      const index = JSON.parse(body.toString('utf8')) as { manifests: IndexEntry[] }
      const pick = index.manifests.find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === hostArch()))
      if (!pick) throw new Error(`${descriptor.digest} has no image for linux/${hostArch()}`)
      return image(pick, tags)
    }
    const manifest = JSON.parse(body.toString('utf8')) as { config: IndexEntry; layers: IndexEntry[] }
    return importImage(root, blob(manifest.config.digest), (i) => blob(manifest.layers[i]!.digest), tags)
  }
  const index = archiveJson(dir, 'index.json') as { manifests?: IndexEntry[] }
  if (!Array.isArray(index?.manifests)) throw new Error('index.json in the archive lists no manifests')
  return importAll(root, index.manifests.map((descriptor) => {
    const tags = nameOf(descriptor)
    return { tags, load: () => image(descriptor, tags) }
  }))
}
// #endregion loadOciLayout

// #region loadDockerArchive
/**
 * Load every image a `docker save` folder's manifest.json lists, with its RepoTags. Every name
 * and every path is checked before anything is stored.
 */
export async function loadDockerArchive(root: string, dir: string): Promise<Loaded[]> {
  const entries = archiveJson(dir, 'manifest.json') as { Config: string; RepoTags?: unknown; Layers: string[] }[]
  if (!Array.isArray(entries)) throw new Error('manifest.json in the archive is not a list of images')
  return importAll(root, entries.map((entry) => {
    const tags = checkImageNames(entry.RepoTags, 'manifest.json')
    const config = readFileSync(archiveFile(dir, entry.Config))
    const layers = (Array.isArray(entry.Layers) ? entry.Layers : []).map((layer) => archiveFile(dir, layer))
    return { tags, load: () => importImage(root, config, (i) => createReadStream(layers[i]!), tags) }
  }))
}
// #endregion loadDockerArchive

// #region loadImages
/** `docker load`: an OCI layout or a `docker save` archive, as a directory or a tar. */
export async function loadImages(root: string, path: string): Promise<Loaded[]> {
  let dir = path
  let unpacked: string | undefined
  try {
    if (!statSync(path).isDirectory()) {
      mkdirSync(root, { recursive: true })
      unpacked = mkdtempSync(join(root, 'load-'))
      dir = join(unpacked, 'archive')
      await applyLayer(fileSource(path), dir)
    }
    if (lstatSync(join(dir, 'manifest.json'), { throwIfNoEntry: false })) return await loadDockerArchive(root, dir)
    if (lstatSync(join(dir, 'index.json'), { throwIfNoEntry: false })) return await loadOciLayout(root, dir)
    throw new Error(`${path} is neither an OCI image layout (index.json) nor a docker save archive (manifest.json)`)
  } finally {
    if (unpacked) rmSync(unpacked, { recursive: true, force: true })
  }
}
// #endregion loadImages
