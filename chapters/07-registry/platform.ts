/**
 * Chapter 07: choosing one image from an OCI index or a Docker manifest list, as
 * containerd's platforms package does: the entry whose os, architecture and variant match.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { formatPlatform, hostPlatform, parsePlatform, type Platform } from '../../lib/platform.ts'
import type { Descriptor, ImageIndex } from '../../lib/registry.ts'

// Given (lib/platform.ts): the Platform type, hostPlatform(), parsePlatform("linux/arm64/v8")
// and formatPlatform(platform).
export { formatPlatform, hostPlatform, parsePlatform, type Platform }

// #region normalizePlatform
/**
 * The canonical spelling: lower case, "x86_64" and "x86-64" are amd64, "aarch64" is arm64,
 * and arm64's default variant v8 is written out, so that "arm64" and "arm64/v8" compare equal.
 */
export function normalizePlatform(p: Platform): Platform {
  // TODO(07): one spelling per platform (containerd's platforms.Normalize).
  //   1. Which architecture names are synonyms, and which variant does arm64 mean when it names none?
  //   2. Case does not count, and an empty variant is no variant. The result has a variant field only
  //      when there is one (the tests compare with toEqual).
  throw new NotImplementedError('07-registry', 'normalizePlatform')
}
// #endregion normalizePlatform

// #region selectManifest
/**
 * The entry of `index` for `wanted`, as containerd's platform matcher chooses it, both sides
 * normalised. None matching is an error that lists what the index does offer.
 */
export function selectManifest(index: ImageIndex, wanted: Platform): Descriptor {
  // TODO(07): find this platform's entry in an index (containerd's platforms.Only(...).Match, simplified).
  //   1. Compare normalised platforms on both sides. When must the variant match, and when can any do?
  //   2. Which entries can never be an image for a platform? (The chapter's "Choosing a platform".)
  //   3. None: an Error whose message starts "no matching manifest for <platform> in the manifest list
  //      entries" (Docker's words; formatPlatform writes a platform) and lists what the index offers.
  throw new NotImplementedError('07-registry', 'selectManifest')
}
// #endregion selectManifest
