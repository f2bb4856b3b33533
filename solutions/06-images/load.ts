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
import { fileSource } from '../../lib/image.ts'
import { applyLayer } from './unpack.ts'
import { loadDockerArchive, type Loaded } from '../../lib/archive.ts'
import { loadOciLayout } from '../../lib/oci-layout.ts'

// Given (lib/archive.ts and lib/oci-layout.ts): a `docker save` folder's loader
// (loadDockerArchive) and an OCI layout's (loadOciLayout), both through your importImage().
export { loadDockerArchive, loadOciLayout, type Loaded }

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
