/**
 * Chapter 06: the local image store, laid out as Docker's /var/lib/docker is:
 *
 *   image/overlay2/imagedb/content/sha256/<image id>   image configs (a CAS: id = digest)
 *   image/overlay2/layerdb/sha256/<chain id>/          one folder per layer: diff (its
 *                                                      diff ID), parent, cache-id, size
 *   image/overlay2/repositories.json                   tags → image IDs
 *   image/overlay2/distribution/diffid-by-digest/      registry blob digest → diff ID
 *   overlay2/<cache id>/                               the unpacked layer (chapter 05)
 *   blobs/sha256/<digest>                              manifests and layer blobs (chapter 07)
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createLayer, removeLayer } from '#ch/05-layers/driver.ts'
import { blobPath, DigestMismatchError, parseDigest, readBlob, writeBlob, type Source } from './cas.ts'
import { NoSuchImageError, parseImageConfig, readTags, setTag, storePaths, withTag, type ImageConfig, type LayerRecord } from '../../lib/image.ts'
import { chainId, chainIds } from './ids.ts'
import { applyLayer } from './unpack.ts'

export { containersUsing, DEFAULT_ROOT, NoSuchImageError, storePaths, type LayerRecord } from '../../lib/image.ts'

// ---------- the layer store ----------

const layerEntry = (root: string, chain: string) => blobPath(storePaths(root).layerdb, chain)

export function hasLayer(root: string, chain: string): boolean {
  return existsSync(layerEntry(root, chain))
}

export function readLayer(root: string, chain: string): LayerRecord {
  const dir = layerEntry(root, chain)
  if (!existsSync(dir)) throw new Error(`layer ${chain} is not in the layer store`)
  const read = (name: string) => readFileSync(join(dir, name), 'utf8')
  return {
    chainId: chain,
    diffId: read('diff'),
    parent: existsSync(join(dir, 'parent')) ? read('parent') : undefined,
    cacheId: read('cache-id'),
    size: Number(read('size')),
  }
}

/** Every layer record, by chain ID. */
export function allLayers(root: string): LayerRecord[] {
  const dir = join(storePaths(root).layerdb, 'sha256')
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((hex) => readLayer(root, `sha256:${hex}`))
}

// #region registerLayer
/**
 * Unpack `source` as a new layer on top of layer `parent` (a chain ID, or null for a base
 * layer): a fresh overlay2 folder named by a random cache ID, then a layerdb entry named by
 * the chain ID. When `expectedDiffId` is given the unpacked tar must have that digest. On any
 * failure nothing is left. A layer whose chain ID already exists is not kept twice.
 */
export async function registerLayer(root: string, parent: string | null, source: Source, expectedDiffId?: string): Promise<LayerRecord> {
  // TODO(06): unpack one layer into the store.
  //   1. The parent's cache ID: readLayer(root, parent).cacheId (none for a base layer).
  //   2. cacheId = 64 random hex characters; createLayer(storePaths(root).graph, cacheId, parent's
  //      cache ID) from chapter 05, then remove its empty diff dir: applyLayer() creates it.
  //   3. { diffId, size } = await applyLayer(source, layer.diff). With expectedDiffId given and
  //      different: throw new DigestMismatchError(expectedDiffId, diffId).
  //   4. chain = chainId(parent ?? undefined, diffId). Already in the store (hasLayer)? Remove the
  //      new copy (removeLayer) and return readLayer(root, chain): a layer is unpacked once.
  //   5. Write the layerdb entry in a temporary folder next to layerEntry(root, chain): files
  //      diff, parent (only with a parent), cache-id, size. Rename it into place; return the record.
  //   6. On any error removeLayer(graph, cacheId) and rethrow.
  throw new NotImplementedError('06-images', 'registerLayer')
}
// #endregion registerLayer

/** Remember which diff ID a registry blob unpacks to, so a later pull can skip it. */
export function rememberDiffId(root: string, blobDigest: string, diffId: string): void {
  const file = blobPath(storePaths(root).diffIdByDigest, blobDigest)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, diffId)
}

/** The diff ID a registry blob was seen to unpack to, if it ever was. */
export function rememberedDiffId(root: string, blobDigest: string): string | undefined {
  const file = blobPath(storePaths(root).diffIdByDigest, blobDigest)
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined
}

// ---------- tags: repositories.json ----------

export { withTag }

/** Point tag `ref` ("busybox" means "busybox:latest") at image `id`. */
export function tagImage(root: string, ref: string, id: string): void {
  parseDigest(id)
  setTag(storePaths(root).repositories, ref, id)
}

/** Remove tag `ref`; the image stays. */
export const untagImage = (root: string, ref: string): void => setTag(storePaths(root).repositories, ref, undefined)

/** Every tag, as [reference, image ID]. */
export const allTags = (root: string): [string, string][] => readTags(storePaths(root).repositories)

/** The tags that point at image `id`. */
export const tagsOf = (root: string, id: string): string[] => allTags(root).filter(([, v]) => v === id).map(([k]) => k)

/** Every image ID in the store. */
export function allImageIds(root: string): string[] {
  const dir = join(storePaths(root).imagedb, 'sha256')
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((hex) => `sha256:${hex}`) : []
}

// #region resolveImage
/**
 * The image ID for a tag ("busybox", "busybox:1.36"), a full ID ("sha256:<hex>"), or an ID
 * prefix of at least one hex digit that only one image has, as `docker run 3f5` accepts it.
 */
export function resolveImage(root: string, ref: string): string {
  // TODO(06): a reference to an image ID.
  //   1. A tag first: the entry of allTags(root) whose name is withTag(ref).
  //   2. Otherwise strip "sha256:"; if what is left is 1 to 64 hex digits, the images of
  //      allImageIds(root) whose hex starts with it: exactly one match is the answer.
  //   3. Nothing (or more than one): throw new NoSuchImageError(ref).
  throw new NotImplementedError('06-images', 'resolveImage')
}
// #endregion resolveImage

export function imageConfig(root: string, id: string): ImageConfig {
  return parseImageConfig(readBlob(storePaths(root).imagedb, id))
}

/** The image's layers, bottom first, as layer records. */
export function imageLayers(root: string, id: string): LayerRecord[] {
  return chainIds(imageConfig(root, id).rootfs.diff_ids).map((chain) => readLayer(root, chain))
}

/**
 * Delete those of `layers` that no image in the store uses any more, top first: what a load
 * that failed half way added, or the layers of an image removed with `rmi -f` once its last
 * container has gone. Returns the chain IDs deleted.
 */
export function pruneLayers(root: string, layers: LayerRecord[]): string[] {
  const used = new Set(allImageIds(root).flatMap((id) => imageLayers(root, id).map((l) => l.chainId)))
  const gone = layers.filter((l) => !used.has(l.chainId) && hasLayer(root, l.chainId)).reverse()
  for (const layer of gone) {
    removeLayer(storePaths(root).graph, layer.cacheId)
    rmSync(layerEntry(root, layer.chainId), { recursive: true, force: true })
  }
  return gone.map((l) => l.chainId)
}

// #region addImage
/**
 * Record an image whose layers are all in the layer store: its config goes into the image
 * DB (the CAS names it by its digest, which is the image ID) and each tag points at it.
 */
export async function addImage(root: string, config: Uint8Array, tags: string[] = []): Promise<string> {
  // TODO(06): record an image whose layers are stored.
  //   1. parseImageConfig(config); chainIds of its rootfs.diff_ids.
  //   2. Every chain ID must be in the layer store (hasLayer): otherwise throw an Error naming the
  //      layer's index and diff ID.
  //   3. writeBlob(storePaths(root).imagedb, config): the digest it returns is the image ID.
  //   4. tagImage() each tag, and return the ID.
  throw new NotImplementedError('06-images', 'addImage')
}
// #endregion addImage

// #region importImage
/**
 * Store an image from its config and a way to read each of its layers (bottom first):
 * layers whose chain ID is already in the store are skipped (unpacked once, shared), the
 * others are registered in order, each checked against its diff ID. Returns the image ID.
 */
export async function importImage(root: string, config: Uint8Array, openLayer: (index: number) => Source, tags: string[] = []): Promise<string> {
  // TODO(06): store a whole image, sharing layers.
  //   1. diffIds from the parsed config, chains = chainIds(diffIds).
  //   2. For each layer i, bottom first: skip it when hasLayer(root, chains[i]); otherwise
  //      registerLayer(root, chains[i - 1] ?? null, openLayer(i), diffIds[i]).
  //      (Call openLayer only for layers you need: that is the whole point.)
  //   3. return addImage(root, config, tags).
  throw new NotImplementedError('06-images', 'importImage')
}
// #endregion importImage

/** What `docker rmi` reports, one line per step. */
export type RemoveReport = { Untagged: string } | { Deleted: string }

// #region removeImage
/**
 * `docker rmi`: untag `ref`; when no tag is left (or an ID was given), delete the image and
 * then every one of its layers, top down, that no other image still uses. An image a running
 * container uses (containersUsing) is not deleted, as dockerd refuses it: "conflict: unable to
 * remove repository reference "REF" (must force) - container ID is using its referenced image
 * ID", and nothing is untagged. With `force` it is deleted, but its layers stay while the
 * container runs on them.
 */
export function removeImage(root: string, ref: string, force = false): RemoveReport[] {
  // TODO(06): docker rmi.
  //   1. id = resolveImage(root, ref). If ref is one of the image's tags (tagsOf, compare with
  //      withTag(ref)), untag only that one; if it was an ID, untag them all. Report each as
  //      { Untagged: tag }.
  //   2. If tags are left, stop: return the report.
  //   3. Read the image's layers (imageLayers) before deleting its config from the imagedb
  //      (rmSync the blob); report { Deleted: id }.
  //   4. Collect every chain ID the remaining images use. Then, top layer first, delete each layer
  //      of this image that none of them uses: removeLayer(graph, cacheId) and its layerdb folder;
  //      report { Deleted: chainId }.
  throw new NotImplementedError('06-images', 'removeImage')
}
// #endregion removeImage
