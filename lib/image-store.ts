/**
 * Chapter 06's given pieces of the image store, which the starter and the reference share:
 * reading the layer store, the diff IDs remembered per registry blob, tags, the image IDs, an
 * image's config and layers, resolving a reference to an image ID and recording an image whose
 * layers are stored. Registering layers, importing and removing images, holding layers and
 * pruning the layers nothing needs are the chapter's (store.ts); addImage() stores the config
 * with the chapter's writeBlob(), so a mistake there shows here too.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { removeLayer } from '#ch/05-layers/driver.ts'
import { writeBlob } from '#ch/06-images/cas.ts'
import { blobPath, chainIds, NoSuchImageError, parseDigest, parseImageConfig, readBlob, readTags, setTag, storePaths, withTag, type ImageConfig, type LayerRecord } from './image.ts'

// ---------- the layer store ----------

/** The layer store's folder for chain ID `chain`. */
export const layerEntry = (root: string, chain: string): string => blobPath(storePaths(root).layerdb, chain)

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

// ---------- images ----------

export function imageConfig(root: string, id: string): ImageConfig {
  return parseImageConfig(readBlob(storePaths(root).imagedb, id))
}

/** The image's layers, bottom first, as layer records. */
export function imageLayers(root: string, id: string): LayerRecord[] {
  return chainIds(imageConfig(root, id).rootfs.diff_ids).map((chain) => readLayer(root, chain))
}

// ---------- images ----------

/**
 * The image ID for a tag ("busybox", "busybox:1.36"), a full ID ("sha256:<hex>"), or an ID
 * prefix of at least one hex digit that only one image has, as `docker run 3f5` accepts it.
 */
export function resolveImage(root: string, ref: string): string {
  const tagged = allTags(root).find(([name]) => name === withTag(ref))
  if (tagged) return tagged[1]
  const hex = ref.replace(/^sha256:/, '')
  if (/^[a-f0-9]{1,64}$/.test(hex)) {
    const matches = allImageIds(root).filter((id) => id.slice(7).startsWith(hex))
    if (matches.length === 1) return matches[0]!
  }
  throw new NoSuchImageError(ref)
}

/**
 * Record an image whose layers are all in the layer store: its config goes into the image
 * DB (a CAS: the digest it gets there is the image ID) and each tag points at it. An image
 * with a layer the store does not have is refused, naming the layer's diff ID.
 */
export async function addImage(root: string, config: Uint8Array, tags: string[] = []): Promise<string> {
  const parsed = parseImageConfig(config)
  const chains = chainIds(parsed.rootfs.diff_ids)
  chains.forEach((chain, i) => {
    if (!hasLayer(root, chain)) throw new Error(`layer ${i} of the image (diff ID ${parsed.rootfs.diff_ids[i]}) is not in the layer store`)
  })
  const { digest: id } = await writeBlob(storePaths(root).imagedb, config)
  for (const tag of tags) tagImage(root, tag, id)
  return id
}
