/**
 * Chapter 07: choosing one image from an OCI index or a Docker manifest list, as
 * containerd's platforms package does: the entry whose os, architecture and variant match.
 */
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
  const os = p.os.toLowerCase()
  let architecture = p.architecture.toLowerCase()
  let variant = p.variant?.toLowerCase() || undefined
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64'
  if (architecture === 'aarch64') architecture = 'arm64'
  if (architecture === 'arm64' && (variant === undefined || variant === '8')) variant = 'v8'
  return variant === undefined ? { os, architecture } : { os, architecture, variant }
}
// #endregion normalizePlatform

// #region selectManifest
/**
 * The entry of `index` for `wanted`, as containerd's platform matcher chooses it, both sides
 * normalised. None matching is an error that lists what the index does offer.
 */
export function selectManifest(index: ImageIndex, wanted: Platform): Descriptor {
  const want = normalizePlatform(wanted)
  const match = index.manifests.find((entry) => {
    if (!entry.platform) return false
    const have = normalizePlatform(entry.platform)
    return have.os === want.os && have.architecture === want.architecture && (want.variant === undefined || have.variant === want.variant)
  })
  if (match) return match
  const offered = index.manifests.map((e) => (e.platform ? formatPlatform(e.platform) : '(no platform)')).join(', ')
  throw new Error(`no matching manifest for ${formatPlatform(wanted)} in the manifest list entries (it has: ${offered || 'nothing'})`)
}
// #endregion selectManifest
