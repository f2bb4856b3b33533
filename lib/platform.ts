/**
 * Chapter 07's given pieces of platforms, which the starter and the reference share: the
 * Platform type, this machine's platform, and the os/architecture[/variant] text form.
 * Normalising and matching are the chapter's.
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
