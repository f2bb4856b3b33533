/**
 * Platforms, as containerd's platforms package handles them (given to chapter 07): the Platform
 * type, this machine's platform, the os/architecture[/variant] text form, the canonical spelling,
 * and whether a machine runs a platform. Choosing an index's entry with them is chapter 07's.
 */

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
 * The canonical spelling, containerd's platforms.Normalize: lower case; "x86_64" and "x86-64"
 * are amd64, whose variant v1 is no variant; "i386" is 386; "aarch64" is arm64, and arm64's
 * default variant v8 is written out, so that "arm64" and "arm64/v8" compare equal; "armhf" is
 * arm/v7 and "armel" arm/v6, and arm without a variant is arm/v7.
 */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase()
  let architecture = p.architecture.toLowerCase()
  let variant = p.variant?.toLowerCase() || undefined
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64'
  if (architecture === 'amd64' && variant === 'v1') variant = undefined
  if (architecture === 'i386') [architecture, variant] = ['386', undefined]
  if (architecture === 'aarch64') architecture = 'arm64'
  if (architecture === 'arm64' && (variant === undefined || variant === '8' || variant === 'v8.0')) variant = 'v8'
  if (architecture === 'armhf') [architecture, variant] = ['arm', 'v7']
  if (architecture === 'armel') [architecture, variant] = ['arm', 'v6']
  if (architecture === 'arm' && /^[5-8]$/.test(variant ?? '')) variant = `v${variant}`
  if (architecture === 'arm' && variant === undefined) variant = 'v7'
  return variant === undefined ? { os, architecture } : { os, architecture, variant }
}
// #endregion normalizePlatform

// #region canRun
/** The platforms a machine of platform `p` runs, as containerd's platformVector has them, normalised. */
function runnable(p: Platform): Platform[] {
  const own = normalizePlatform(p)
  const all = [own]
  const level = Number(/^v(\d+)$/.exec(own.variant ?? '')?.[1])
  const older = (lowest: number) => {
    for (let v = level - 1; v >= lowest; v--) all.push(v === 1 ? { os: own.os, architecture: own.architecture } : { ...own, variant: `v${v}` })
  }
  if (own.architecture === 'amd64') {
    if (level > 1) older(1)
    all.push({ os: own.os, architecture: '386' })
  }
  if (own.architecture === 'arm' && level > 5) older(5)
  return all
}

/**
 * Whether a machine of platform `machine` runs what is built for `platform` (each spelled any
 * way normalizePlatform reads), as containerd's platforms.Only(machine).Match answers it.
 */
export function canRun(machine: Platform, platform: Platform): boolean {
  const have = normalizePlatform(platform)
  return runnable(machine).some((p) => p.os === have.os && p.architecture === have.architecture && p.variant === have.variant)
}
// #endregion canRun
