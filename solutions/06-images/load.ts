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
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileSource, hostArch, nameOf, type IndexEntry } from '../../lib/image.ts'
import { INDEX_TYPES } from '../../lib/registry.ts'
import { parseDigest, readBlob } from './cas.ts'
import { importImage } from './store.ts'
import { applyLayer } from './unpack.ts'
import { archiveFile, archiveJson, importEach, loadDockerArchive, type Loaded } from '../../lib/archive.ts'

// Given (lib/archive.ts): a `docker save` folder's loader (loadDockerArchive), and importEach(),
// which loads images one after the other as `docker load` does.
export { loadDockerArchive, type Loaded }

/**
 * Import images one by one; when one fails, remove the layers it had added that no image
 * uses, so a refused archive leaves nothing in the store.
 */
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
  return importEach(root, index.manifests.map((descriptor) => {
    const tags = nameOf(descriptor)
    return { tags, load: () => image(descriptor, tags) }
  }))
}
// #endregion loadOciLayout

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
