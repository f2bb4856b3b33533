/**
 * Chapter 06: the three identities of an image's content, given (lib/image.ts) because each is
 * one line of the OCI image spec's config.md:
 *
 *   diff ID   sha256 of one layer's uncompressed tar (the config lists them: rootfs.diff_ids)
 *   chain ID  one layer together with everything below it: the key of the layer store
 *   image ID  sha256 of the image's config JSON
 *
 * Read them before you use them: which of the parent's IDs goes into a chain ID, and what may
 * happen to a config's bytes before its ID is computed, are the questions of the text's
 * "Diff IDs, chain IDs and the image ID".
 */
export { chainId, chainIds, imageId, shortId } from '../../lib/image.ts'
