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
 * The chain ID of a layer: for the bottom layer (no parent) its diff ID; above it,
 * sha256 of "<parent's chain ID> <diff ID>" (one space), as the OCI image spec defines it.
 * Two images that share their bottom layers share those chain IDs, and so share the layers.
 */
export function chainId(parent: string | undefined, diffId: string): string {
  // TODO(06): one layer's chain ID.
  //   1. No parent: the chain ID is the diff ID itself.
  //   2. Otherwise: sha256 of the text `${parent} ${diffId}` (one space), with the "sha256:" prefix
  //      (the sha256() helper of cas.ts gives exactly that).
  throw new NotImplementedError('06-images', 'chainId')
}
// #endregion chainId

// #region chainIds
/** The chain ID of every layer of an image, bottom first, from its diff IDs. */
export function chainIds(diffIds: string[]): string[] {
  // TODO(06): the chain ID of every layer, bottom first.
  //   1. Walk the diff IDs in order, keeping the previous chain ID (undefined for the first).
  //   2. Each chain ID is chainId(previous, diffId).
  throw new NotImplementedError('06-images', 'chainIds')
}
// #endregion chainIds

// #region imageId
/** The image ID: the digest of the config exactly as stored (never of a re-serialised copy). */
export function imageId(config: Uint8Array | string): string {
  // TODO(06): the image ID.
  //   1. It is sha256() of the config bytes exactly as given: never parse and re-serialise them.
  throw new NotImplementedError('06-images', 'imageId')
}
// #endregion imageId

/** The 12-hex-digit short form `docker images` prints. */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)
