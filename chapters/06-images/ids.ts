/**
 * Chapter 06: the three identities of an image's content, as Docker computes them.
 *
 *   diff ID   sha256 of one layer's UNCOMPRESSED tar (the config lists them: rootfs.diff_ids)
 *   chain ID  one layer together with everything below it: the key of the layer store
 *   image ID  sha256 of the image's config JSON, byte for byte
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { sha256 } from './cas.ts'

// #region chainId
/**
 * The chain ID of the layer with diff ID `diffId` on top of the layer whose chain ID is
 * `parent` (undefined for the bottom layer), as the OCI image spec defines it. Two images
 * that share their bottom layers share those chain IDs, and so share the layers.
 */
export function chainId(parent: string | undefined, diffId: string): string {
  // TODO(06): one layer's chain ID, exactly as the OCI image spec defines it.
  //   1. Read the definition: the OCI image spec, config.md, "Layer ChainID". What is the chain
  //      ID of a layer with no parent? Above it, which exact text is hashed, with which separator?
  //   2. The result is a digest string like its inputs ("sha256:<hex>"); cas.ts has the hash.
  //   Where: moby's daemon/internal/layer/layer.go (CreateChainID); the Bonus of README.md
  //   checks it by hand.
  throw new NotImplementedError('06-images', 'chainId')
}
// #endregion chainId

// #region chainIds
/** The chain ID of every layer of an image, bottom first, from its diff IDs. */
export function chainIds(diffIds: string[]): string[] {
  // TODO(06): the chain ID of every layer, bottom first.
  //   1. Each layer's parent is the layer below it. Which of the parent's IDs goes into the next
  //      chain ID: its diff ID or its chain ID? (Why does the answer keep APP-on-BASE and
  //      APP-on-OTHER apart?)
  throw new NotImplementedError('06-images', 'chainIds')
}
// #endregion chainIds

// #region imageId
/** The image ID: the digest of the config exactly as stored. */
export function imageId(config: Uint8Array | string): string {
  // TODO(06): the image ID.
  //   1. It names the config exactly as stored ("Diff IDs, chain IDs and the image ID" in
  //      README.md): what must never happen to the bytes before they are hashed? Text and bytes
  //      of the same config give the same ID.
  //   Where: moby's daemon/internal/image/fs.go and store.go (Create).
  throw new NotImplementedError('06-images', 'imageId')
}
// #endregion imageId

/** The 12-hex-digit short form `docker images` prints. */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)
