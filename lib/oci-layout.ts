/**
 * Given for chapter 06: loading an OCI image layout (what skopeo, umoci and buildkit write:
 * oci-layout, index.json, blobs/sha256/<digest>) through the chapter's importImage(). The
 * layout's files are read as lib/archive.ts reads a `docker save` folder's.
 */
import { join } from 'node:path'
import { importImage } from '#ch/06-images/store.ts'
import { archiveFile, archiveJson, importEach, type Loaded } from './archive.ts'
import { hostArch, nameOf, parseDigest, readBlob, type IndexEntry } from './image.ts'
import { INDEX_TYPES } from './registry.ts'

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
