/**
 * Chapter 06: the three identities of an image's content, as Docker computes them.
 *
 *   diff ID   sha256 of one layer's UNCOMPRESSED tar (the config lists them: rootfs.diff_ids)
 *   chain ID  one layer together with everything below it: the key of the layer store
 *   image ID  sha256 of the image's config JSON, byte for byte
 */
import { sha256 } from './cas.ts'

// #region chainId
/**
 * The chain ID of the layer with diff ID `diffId` on top of the layer whose chain ID is
 * `parent` (undefined for the bottom layer), as the OCI image spec defines it. Two images
 * that share their bottom layers share those chain IDs, and so share the layers.
 */
export function chainId(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId : sha256(`${parent} ${diffId}`)
}
// #endregion chainId

// #region chainIds
/** The chain ID of every layer of an image, bottom first, from its diff IDs. */
export function chainIds(diffIds: string[]): string[] {
  const chains: string[] = []
  for (const diffId of diffIds) chains.push(chainId(chains.at(-1), diffId))
  return chains
}
// #endregion chainIds

// #region imageId
/** The image ID: the digest of the config exactly as stored. */
export function imageId(config: Uint8Array | string): string {
  return sha256(config)
}
// #endregion imageId

/** The 12-hex-digit short form `docker images` prints. */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)
