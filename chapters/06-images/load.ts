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
import { createReadStream, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs'
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
  //   1. index.json lists descriptors; each one's tags come from nameOf().
  //   2. A layout is untrusted input: read every blob by its digest through the CAS check.
  //   3. A descriptor may be an index (INDEX_TYPES) of per-platform manifests: choose this
  //      machine's (os linux, architecture hostArch(); an entry without a platform fits any), and
  //      fail naming the platform when none fits.
  //   4. A manifest names a config and its layers: hand them to the store, which opens a layer
  //      only when it needs it. Return what each image became.
  //   Where: the OCI image spec, image-layout.md, image-index.md, manifest.md.
  throw new NotImplementedError('06-images', 'loadOciLayout')
}
// #endregion loadOciLayout

// #region loadDockerArchive
/** Load every image a `docker save` folder's manifest.json lists, with its RepoTags. */
export async function loadDockerArchive(root: string, dir: string): Promise<Loaded[]> {
  // TODO(06): load a `docker save` folder.
  //   1. manifest.json lists { Config, RepoTags, Layers }, paths relative to the folder.
  //   2. Those paths come from the archive: open nothing except through archiveFile(), which
  //      refuses what leads outside.
  //   3. Open a layer only when the store asks for it, and as a stream (layers can be large).
  //   Where: moby's image/tarexport/load.go.
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
