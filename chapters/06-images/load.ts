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
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileSource, hostArch, nameOf, type IndexEntry } from '../../lib/image.ts'
import { INDEX_TYPES } from '../../lib/registry.ts'
import { readBlob } from './cas.ts'
import { importImage } from './store.ts'
import { applyLayer } from './unpack.ts'
import { archiveFile, archiveJson, importEach, loadDockerArchive, type Loaded } from '../../lib/archive.ts'

// Given (lib/archive.ts): a `docker save` folder's loader (loadDockerArchive), and importEach(),
// which loads images one after the other as `docker load` does.
export { loadDockerArchive, type Loaded }

// #region loadOciLayout
/**
 * Load every image an OCI layout's index.json lists (for an index, this machine's platform).
 * Every name is checked before anything is stored, and every blob is read from blobs/ itself,
 * never through a symlink.
 */
export async function loadOciLayout(root: string, dir: string): Promise<Loaded[]> {
  // TODO(06): load an OCI image layout.
  //   1. index.json lists descriptors; each one's tags come from nameOf().
  //   2. A layout is untrusted input: read every blob by its digest through the CAS check.
  //   3. A descriptor may be an index (INDEX_TYPES) of per-platform manifests: choose this
  //      machine's (os linux, architecture hostArch(); an entry without a platform fits any), and
  //      fail naming the platform when none fits.
  //   4. A manifest names a config and its layers: hand them to the store, which opens a layer
  //      only when it needs it. Return what each image became.
  //   5. Names come from whoever made the layout: refuse a tag the reference grammar rejects
  //      before anything is stored, read index.json only as a regular file of the folder, and
  //      leave no layer behind when a later image fails (see lib/names.ts and store.ts).
  //   Where: the OCI image spec, image-layout.md, image-index.md, manifest.md.
  throw new NotImplementedError('06-images', 'loadOciLayout')
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
