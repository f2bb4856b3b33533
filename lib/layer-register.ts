/**
 * Given for chapter 06: unpacking one layer into the image store and recording it under its
 * chain ID, as moby's layer store does (registerWithDescriptor in layer_store.go). The store
 * (chapter 06, store.ts) and chapter 07's pull call it.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLayer, removeLayer } from '#ch/05-layers/driver.ts'
import { applyLayer } from '#ch/06-images/unpack.ts'
import { DigestMismatchError, type Source } from './image.ts'
import { hasLayer, layerEntry, readLayer } from './image-store.ts'
import { chainId, storePaths, type LayerRecord } from './image.ts'

/**
 * Unpack `source` as a new layer on top of layer `parent` (a chain ID, or null for a base
 * layer): a fresh overlay2 folder named by a random cache ID, then a layerdb entry named by
 * the chain ID. When `expectedDiffId` is given the unpacked tar must have that digest. On any
 * failure nothing is left. A layer whose chain ID already exists is not kept twice.
 */
export async function registerLayer(root: string, parent: string | null, source: Source, expectedDiffId?: string): Promise<LayerRecord> {
  const paths = storePaths(root)
  const parentCache = parent === null ? undefined : readLayer(root, parent).cacheId
  const cacheId = randomBytes(32).toString('hex')
  const layer = createLayer(paths.graph, cacheId, parentCache)
  try {
    rmSync(layer.diff, { recursive: true })
    const { diffId, size } = await applyLayer(source, layer.diff)
    if (expectedDiffId !== undefined && diffId !== expectedDiffId) throw new DigestMismatchError(expectedDiffId, diffId)
    const chain = chainId(parent ?? undefined, diffId)
    if (hasLayer(root, chain)) {
      removeLayer(paths.graph, cacheId)
      return readLayer(root, chain)
    }
    const entry = layerEntry(root, chain)
    const tmp = `${entry}.tmp-${cacheId.slice(0, 8)}`
    mkdirSync(tmp, { recursive: true })
    writeFileSync(join(tmp, 'diff'), diffId)
    if (parent !== null) writeFileSync(join(tmp, 'parent'), parent)
    writeFileSync(join(tmp, 'cache-id'), cacheId)
    writeFileSync(join(tmp, 'size'), String(size))
    renameSync(tmp, entry)
    return { chainId: chain, diffId, parent: parent ?? undefined, cacheId, size }
  } catch (error) {
    removeLayer(paths.graph, cacheId)
    throw error
  }
}
