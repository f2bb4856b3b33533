/**
 * Chapter 06: the local image store, laid out as Docker's /var/lib/docker is:
 *
 *   image/overlay2/imagedb/content/sha256/<image id>   image configs (a CAS: id = digest)
 *   image/overlay2/layerdb/sha256/<chain id>/          one folder per layer: diff (its
 *                                                      diff ID), parent, cache-id, size
 *   image/overlay2/layerdb/mounts/                     running containers' holds on layers
 *   image/overlay2/repositories.json                   tags → image IDs
 *   image/overlay2/distribution/diffid-by-digest/      registry blob digest → diff ID
 *   overlay2/<cache id>/                               the unpacked layer (chapter 05)
 *   blobs/sha256/<digest>                              manifests and layer blobs (chapter 07)
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLayer, removeLayer } from '#ch/05-layers/driver.ts'
import { blobPath, DigestMismatchError, writeBlob, type Source } from './cas.ts'
import { addImage, allImageIds, allLayers, allTags, hasLayer, imageConfig, imageLayers, layerEntry, readLayer, rememberDiffId, rememberedDiffId, resolveImage, tagImage, tagsOf, untagImage } from '../../lib/image-store.ts'
import { NoSuchImageError, parseImageConfig, storePaths, withTag, type LayerRecord } from '../../lib/image.ts'
import { chainId, chainIds } from './ids.ts'
import { registerLayer } from '../../lib/layer-register.ts'

export { containersUsing, DEFAULT_ROOT, NoSuchImageError, storePaths, type LayerRecord } from '../../lib/image.ts'

// Given (lib/image-store.ts): reading the layer store (layerEntry, hasLayer, readLayer,
// allLayers), the diff IDs remembered per registry blob, tags (tagImage, untagImage, allTags,
// tagsOf, withTag), allImageIds, imageConfig and imageLayers, resolveImage() (a tag, an ID or
// a prefix to an image ID) and addImage() (the config into the image DB, then its tags).
export { addImage, allImageIds, allLayers, allTags, hasLayer, imageConfig, imageLayers, layerEntry, readLayer, rememberDiffId, rememberedDiffId, resolveImage, tagImage, tagsOf, untagImage, withTag }

// Given (lib/layer-register.ts): registerLayer(), which unpacks one layer tar on top of its
// parent into a fresh overlay2 folder named by a random cache ID and records it in layerdb
// under its chain ID (a layer already stored under that chain ID is kept, the new copy
// removed). `docker rmi` is removeImage() in lib/image-removal.ts, which calls your pruneLayers().
export { registerLayer }

// #region importImage
/**
 * Store an image from its config and a way to read each of its layers (bottom first):
 * layers whose chain ID is already in the store are skipped (unpacked once, shared), the
 * others are registered in order, each checked against its diff ID. Returns the image ID.
 */
export async function importImage(root: string, config: Uint8Array, openLayer: (index: number) => Source, tags: string[] = []): Promise<string> {
  // TODO(06): store a whole image, sharing the layers the store has.
  //   1. Layers go in bottom first, each on top of the one below it.
  //   2. A layer whose chain ID is already stored must be neither opened nor unpacked again:
  //      that is how two images share their base (the tests count which layers you open).
  //   3. Every layer you do unpack must have the diff ID the config promises.
  //   4. Then record the image and return its ID.
  //   5. Until that record exists, no image uses the layers you found stored or just made, and
  //      an rmi or a failed load in another process prunes what no image uses, at any moment.
  //      What makes them yours meanwhile, and what do you leave behind, whether you end well or
  //      not?
  //   Where: moby's daemon/internal/image/tarexport/load.go; chapter 07's pull does the same
  //   with blobs.
  throw new NotImplementedError('06-images', 'importImage')
}
// #endregion importImage

// #region holdLayers
/**
 * Record that `container` stacks its own layers on layer `top` (a chain ID), and so on every
 * layer below it, for as long as this process runs or until the release this returns is called.
 * The hold is on disk, beside the layers, as moby keeps layerdb/mounts/<container>/parent: a
 * prune in another process (another `minidocker rmi`) must see it, and must be able to tell
 * when the process that holds it has died without letting go. The release lets go of the hold,
 * then deletes what it held that nothing else needs, and returns what went.
 *
 * Guarantee, with any number of pruneLayers() running at the same time in other processes on
 * the same store: when holdLayers() returns, every layer from `top` down is stored, and no prune
 * removes one of them before the release. A prune that meets a hold being made either keeps
 * the layers, or holdLayers() throws an Error naming the layer that went and leaves no
 * hold behind. A holder killed at any step leaves nothing that keeps a layer from the next prune.
 */
export function holdLayers(root: string, container: string, top: string): () => string[] {
  // TODO(06): a running container's claim on the layers under its overlay, and its end.
  //   1. `minidocker run` calls this before it mounts, and `minidocker rmi` runs in another
  //      process: where must the hold live so that rmi's pruneLayers() sees it?
  //   2. A `minidocker run` killed with SIGKILL never calls its release. What must the hold
  //      say so that the next prune can tell it is stale, even once that PID names another
  //      process?
  //   3. A prune may read the holds while you write one: what may it find there meanwhile?
  //   4. The guarantee above, against a prune in another process that is half way through: it
  //      may have read the holds before yours existed and be about to delete. What can your hold
  //      do, and what must the prune do in turn, so that no interleaving of your steps and its
  //      steps ends with a hold that returned and a layer that went? A hold that loses fails,
  //      names the layer, and leaves nothing on disk that would keep a layer.
  //   5. A holder killed between any two of its steps: nothing it left may block a later prune.
  //   6. The release: which of the layers it held may go then, and who decides that? An image,
  //      or another container, may still need them.
  //   Where: the text's "Layers a running container still stands on" and "A hold and a prune at
  //   the same time"; moby's daemon/internal/layer/layer_store.go (CreateRWLayer, the mounts it
  //   saves, releaseLayer, and the mutex they take).
  throw new NotImplementedError('06-images', 'holdLayers')
}
// #endregion holdLayers

// #region pruneLayers
/**
 * Delete those of `layers` that no image in the store uses and no running container holds:
 * what `rmi` leaves behind, what a load that failed half way added, what a container held
 * after its image went with `rmi -f`; and what the holds of processes that died held. Each goes
 * with its unpacked folder and its layerdb entry, a layer before the one below it. Returns the
 * chain IDs deleted, in the order they went.
 *
 * Guarantee, with holdLayers() and other prunes running at the same time in other processes:
 * a layer a live hold reaches is never deleted, nor one a hold being made will reach once
 * holdLayers() has returned; a layer is deleted whole (folder and entry) by one prune only.
 */
export function pruneLayers(root: string, layers: LayerRecord[]): string[] {
  // TODO(06): delete the layers nothing needs any more.
  //   1. Which layers does a remaining image use? Which ID says "the same layer" across two
  //      images (think of one layer tar on two different parents)?
  //   2. Which layers do running containers hold (holdLayers())? Its image may be gone already
  //      (`rmi -f`).
  //   3. A hold whose process has died: nobody will release it. Who lets go of it, and what
  //      becomes of the layers it held, which may not be among `layers` at all?
  //   4. In which order may they go, when a layer's folder is the lower of the one above it
  //      (chapter 05)? `docker rmi` reports them in that order.
  //   5. A layer is its unpacked folder and its layerdb entry: neither may outlive the other.
  //   6. Holds are made while you prune, in other processes: a hold you did not see when you
  //      read the holds must not end up holding a layer you delete. Another prune may be
  //      deleting the same layers: exactly one of you deletes each.
  //   7. A prune can be killed too, between any two of its steps.
  //   Where: moby's daemon/internal/layer/layer_store.go (Release, releaseLayer), which counts
  //   references from images and from containers' mounts instead of searching.
  throw new NotImplementedError('06-images', 'pruneLayers')
}
// #endregion pruneLayers
