/**
 * Chapter 06: `docker load`. Two archive formats carry images between machines:
 *
 *   OCI image layout   oci-layout, index.json, blobs/sha256/<digest> (manifests, configs,
 *                      layers): what skopeo, umoci and buildkit write
 *   docker save        manifest.json: [{Config, RepoTags, Layers}], with the config and
 *                      each layer tar under the paths it names
 *
 * Either may come as a directory or packed into one tar.
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs'
import { join, sep } from 'node:path'
import { hostArch, nameOf, type IndexEntry } from '../../lib/image.ts'
import { INDEX_TYPES } from '../../lib/registry.ts'
import { readBlob } from './cas.ts'
import { importImage } from './store.ts'
import { applyLayer, resolveInside, UnsafeLayerError } from './unpack.ts'

/** What one loaded image became. */
export interface Loaded {
  id: string
  tags: string[]
}

/**
 * The file a `docker save` manifest names, refused unless it really is inside the archive.
 * Unlike a layer entry, it is read through its last symlink too (docker save links a layer
 * that two images share), so the check is on the path every symlink leads to.
 */
export function archiveFile(dir: string, name: string): string {
  const path = realpathSync(resolveInside(dir, name))
  if (!path.startsWith(realpathSync(dir) + sep)) throw new UnsafeLayerError(`refusing "${name}": it leads outside the archive`)
  return path
}

// #region loadOciLayout
/** Load every image an OCI layout's index.json lists (for an index, this machine's platform). */
export async function loadOciLayout(root: string, dir: string): Promise<Loaded[]> {
  // TODO(06): load an OCI image layout.
  //   1. index.json lists descriptors ({ mediaType, digest, size, annotations }). For each, the
  //      tags are nameOf(descriptor).
  //   2. Read each blob with readBlob(join(dir, 'blobs'), digest): it checks the digest for you.
  //   3. An index (a mediaType of INDEX_TYPES) lists manifests per platform: pick the one with no
  //      platform or with os "linux" and architecture hostArch(), and visit it instead (none:
  //      throw an Error naming the platform).
  //   4. A manifest has config and layers descriptors: importImage(root, config bytes,
  //      i => the bytes of layers[i], tags), and add { id, tags } to the result.
  throw new NotImplementedError('06-images', 'loadOciLayout')
}
// #endregion loadOciLayout

// #region loadDockerArchive
/** Load every image a `docker save` folder's manifest.json lists, with its RepoTags. */
export async function loadDockerArchive(root: string, dir: string): Promise<Loaded[]> {
  // TODO(06): load a `docker save` folder.
  //   1. manifest.json is a list of { Config, RepoTags, Layers }.
  //   2. The paths come from the archive: open them only through archiveFile(dir, path), which
  //      refuses anything that leads outside the folder.
  //   3. For each entry: importImage(root, the config bytes, i => createReadStream(the layer
  //      file i), RepoTags ?? []), and add { id, tags } to the result.
  throw new NotImplementedError('06-images', 'loadDockerArchive')
}
// #endregion loadDockerArchive

// #region loadImages
/** `docker load`: an OCI layout or a `docker save` archive, as a directory or a tar. */
export async function loadImages(root: string, path: string): Promise<Loaded[]> {
  let dir = path
  let unpacked: string | undefined
  if (!statSync(path).isDirectory()) {
    mkdirSync(root, { recursive: true })
    unpacked = mkdtempSync(join(root, 'load-'))
    dir = join(unpacked, 'archive')
    await applyLayer(createReadStream(path), dir)
  }
  try {
    if (existsSync(join(dir, 'manifest.json'))) return await loadDockerArchive(root, dir)
    if (existsSync(join(dir, 'index.json'))) return await loadOciLayout(root, dir)
    throw new Error(`${path} is neither an OCI image layout (index.json) nor a docker save archive (manifest.json)`)
  } finally {
    if (unpacked) rmSync(unpacked, { recursive: true, force: true })
  }
}
// #endregion loadImages
