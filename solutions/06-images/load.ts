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
  const blobs = join(dir, 'blobs')
  const loaded: Loaded[] = []
  const visit = async (descriptor: IndexEntry, tags: string[]): Promise<void> => {
    const body = readBlob(blobs, descriptor.digest)
    if (INDEX_TYPES.includes(descriptor.mediaType)) {
      const index = JSON.parse(body.toString('utf8')) as { manifests: IndexEntry[] }
      const pick = index.manifests.find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === hostArch()))
      if (!pick) throw new Error(`${descriptor.digest} has no image for linux/${hostArch()}`)
      return visit(pick, tags)
    }
    const manifest = JSON.parse(body.toString('utf8')) as { config: IndexEntry; layers: IndexEntry[] }
    const config = readBlob(blobs, manifest.config.digest)
    const id = await importImage(root, config, (i) => readBlob(blobs, manifest.layers[i]!.digest), tags)
    loaded.push({ id, tags })
  }
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: IndexEntry[] }
  for (const descriptor of index.manifests) await visit(descriptor, nameOf(descriptor))
  return loaded
}
// #endregion loadOciLayout

// #region loadDockerArchive
/** Load every image a `docker save` folder's manifest.json lists, with its RepoTags. */
export async function loadDockerArchive(root: string, dir: string): Promise<Loaded[]> {
  const entries = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; RepoTags?: string[] | null; Layers: string[] }[]
  const loaded: Loaded[] = []
  for (const entry of entries) {
    const config = readFileSync(archiveFile(dir, entry.Config))
    const tags = entry.RepoTags ?? []
    const id = await importImage(root, config, (i) => createReadStream(archiveFile(dir, entry.Layers[i]!)), tags)
    loaded.push({ id, tags })
  }
  return loaded
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
