/**
 * Platforms, as containerd's platforms package handles them (given to chapter 07): the Platform
 * type, this machine's platform, the os/architecture[/variant] text form, the canonical spelling,
 * and the choice of one image from an OCI index or a Docker manifest list: the entry whose os,
 * architecture and variant match.
 */
import type { Descriptor, ImageIndex } from './registry.ts'

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

/** Node's names for architectures → OCI's (GOARCH) names. */
const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }

/** The platform of this machine: linux and its architecture (arm64 is variant v8, as containerd assumes). */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture }
}

/** "linux/arm64/v8" → a Platform; what `docker pull --platform` takes. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, extra] = text.split('/')
  if (!os || !architecture || extra !== undefined) throw new Error(`invalid platform "${text}": expected os/architecture[/variant]`)
  return variant ? { os, architecture, variant } : { os, architecture }
}

/** "linux/arm64/v8" */
export const formatPlatform = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/')

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
