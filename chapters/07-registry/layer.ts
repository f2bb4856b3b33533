/**
 * Chapter 07: one layer of a pull, into the store once for every pull of the process that
 * needs it (moby's distribution/xfer/download.go).
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { LayerRecord } from '../../lib/image.ts'
import type { LayerSource } from '../../lib/registry.ts'
import type { Watch } from './transfer.ts'

// These imports are what the signature needs; add the ones your pullLayer calls, chapter 06's
// from '#ch/06-images/<file>.ts' (so that --reference-below can swap in the reference).

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
  // TODO(07): one transfer per layer, download and registration together (the chapter's "Two pulls,
  //   one layer"; moby's xfer/download.go, makeDownloadFunc and the transferKey that Download builds,
  //   and daemon/internal/layer/layer_store.go, registerWithDescriptor on a chain ID it has already).
  //   1. The key: two pulls of two images whose layer 1 is the same blob, one on the same base, one
  //      on another. Which of them is one layer in the store (chapter 06's chain IDs), and which
  //      two? What must the key name so that a watcher can never get a layer on a parent it did
  //      not ask for? And which store?
  //   2. The result: what does a watcher need from the transfer to check its config and to
  //      register the layer above? What must never be done a second time by a pull that watches?
  //   3. The layer below: registering needs its chain ID, and it may be another pull's transfer,
  //      running, finished, or in the store since an earlier pull. Who waits for it, under whose
  //      signal, and what becomes of this layer when the pull that started both is cancelled
  //      while another pull still wants them? When the layer below fails, what does this one
  //      report? And may it hold a download slot while it waits?
  //   4. Progress: a pull that joined shows what a docker pull in a second terminal shows. Which
  //      of the layer's statuses are the transfer's, and where do they go?
  //   5. A registration that fails: what does each watcher see, what is left in the store (chapter
  //      06's registerLayer says), and does the next pull meet the old failure?
  //   6. The blob may be in the store's blobs/ already, from an earlier pull. What does its file name
  //      promise, who checked that promise, and when? No layer may be made from bytes that are not
  //      the blob's.
  throw new NotImplementedError('07-registry', 'pullLayer')
}
// #endregion pullLayer
