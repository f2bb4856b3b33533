/**
 * Chapter 07: one layer of a pull, into the store once for every pull of the process that
 * needs it (moby's distribution/xfer/download.go).
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { blobPath } from '#ch/06-images/cas.ts'
import { registerLayer, rememberDiffId, storePaths } from '#ch/06-images/store.ts'
import { chainIds, type LayerRecord } from '../../lib/image.ts'
import { hasLayer, readLayer, rememberedDiffId } from '../../lib/image-store.ts'
import { shortDigest } from '../../lib/jsonmessage.ts'
import type { LayerSource } from '../../lib/registry.ts'
import { downloadBlob } from './download.ts'
import { progressCounter, statusMessage } from '../../lib/pull-progress.ts'
import { watchTransfer, type TransferJob, type Watch } from './transfer.ts'

/**
 * The layer the store has for blobs `digests`, bottom first: chapter 06 remembered the diff ID each
 * blob unpacked to, and the layer is there when every one of them is known and the layer store
 * has the chain ID they make. Else undefined.
 */
export function storedLayer(root: string, digests: string[]): LayerRecord | undefined {
  const diffIds = digests.map((digest) => rememberedDiffId(root, digest))
  if (diffIds.includes(undefined)) return undefined
  const chain = chainIds(diffIds as string[]).at(-1)!
  return hasLayer(root, chain) ? readLayer(root, chain) : undefined
}

/** The chunks of `source`, each shown to `onData` on its way (the "Extracting" bar). */
async function* counted(source: AsyncIterable<Uint8Array>, onData: (chunk: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    onData(chunk)
    yield chunk
  }
}

/** Whether the store at `blobs` has blob `digest` with the bytes its name says, read as a stream (a layer may be large). */
export async function intactBlob(blobs: string, digest: string, signal: AbortSignal): Promise<boolean> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(blobPath(blobs, digest), { signal })) hash.update(chunk as Buffer)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
  return `sha256:${hash.digest('hex')}` === digest
}

// #region pullLayer
/**
 * Layer `index` of `image.layers`, registered in the store on the layers below it, for the pull
 * that watches through `watch`: downloaded (unless the store has its blob) and registered once
 * for every pull of this process that needs it at the same time, within the process's download
 * limit, with the layer's progress shown to each of them (lib/pull-progress.ts has Docker's
 * messages). Resolves with the registered layer, or rejects with what went wrong. Whether its
 * diff ID is the one a config lists is each pull's to check.
 */
export function pullLayer(image: LayerSource, index: number, watch: Watch): Promise<LayerRecord> {
  const { root, session, layers, slots } = image
  const layer = layers[index]!
  const blobs = storePaths(root).blobs
  const id = shortDigest(layer.digest)
  const job: TransferJob<LayerRecord> = async (shared, report) => {
    const stored = storedLayer(root, layers.slice(0, index + 1).map((l) => l.digest))
    if (stored) return stored
    await slots.run(shared, async () => {
      // a file under the blob's name is only a claim until its bytes are hashed: a damaged copy is fetched again
      if (await intactBlob(blobs, layer.digest, shared)) return
      await downloadBlob(session, layer, blobs, progressCounter(report, id, 'Downloading', layer.size), shared)
      report(statusMessage(id, 'Verifying Checksum'))
    }, () => report(statusMessage(id, 'Waiting')))
    report(statusMessage(id, 'Download complete'))
    // the layer below, watched by this transfer: it stays wanted while anyone wants this one
    const below = index === 0 ? undefined : await pullLayer(image, index - 1, { signal: shared, progress: () => {} })
    const extracting = progressCounter(report, id, 'Extracting', layer.size)
    const record = await registerLayer(root, below?.chainId ?? null, counted(createReadStream(blobPath(blobs, layer.digest)), extracting))
    rememberDiffId(root, layer.digest, record.diffId)
    report(statusMessage(id, 'Pull complete'))
    return record
  }
  // the layer's place: this store, and the blobs of it and of every layer below
  const key = [storePaths(root).layerdb, ...layers.slice(0, index + 1).map((l) => l.digest)].join(' ')
  return watchTransfer(key, job, watch)
}
// #endregion pullLayer
