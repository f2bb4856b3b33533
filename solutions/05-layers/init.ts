/**
 * Chapter 05: a container's own two layers, as dockerd prepares them. Between the image's
 * layers and the container's writable layer sits "<id>-init", with the files every
 * container needs to find as its own: /etc/hostname, /etc/hosts, /etc/resolv.conf.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import { join } from 'node:path'
import { hostsFile } from '../../lib/etc-hosts.ts'
import { createLayer, overlayDirs, removeLayer } from './driver.ts'
import type { OverlayDirs } from './overlay.ts'

export interface InitFiles {
  hostname: string
  /** the host's /etc/resolv.conf, filtered by resolvConf() */
  hostResolvConf?: string
}

// Given (lib/etc-hosts.ts): the container's /etc/hosts.
export { hostsFile }

/** The nameservers Docker falls back to when the host has only local ones. */
export const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4']

// #region resolvConf
/**
 * The container's resolv.conf from the host's: the nameservers a container in a network
 * namespace of its own cannot reach go; with none left, FALLBACK_NAMESERVERS, as dockerd does.
 * Every other line stays as it was, in order; blank lines go; the text ends with a newline.
 */
export function resolvConf(host: string): string {
  const lines = host.split('\n').filter((line) => line.trim() !== '')
  const isNameserver = (line: string) => /^\s*nameserver\s/.test(line)
  const kept = lines.filter((line) => !isNameserver(line) || reachable(line.trim().split(/\s+/)[1] ?? ''))
  if (!kept.some(isNameserver)) kept.push(...FALLBACK_NAMESERVERS.map((ip) => `nameserver ${ip}`))
  return kept.join('\n') + '\n'
}

/**
 * Can a nameserver at `address` be reached from another network namespace? Not on the host's
 * loopback (127.0.0.0/8, ::1, however spelt, also as an IPv4-mapped address), and not through one
 * of the host's own interfaces (a scoped address, "%zone").
 */
function reachable(address: string): boolean {
  if (address.includes('%')) return false
  // glibc's res_init reads an IPv4 nameserver with inet_aton (whole string): 127.1, 0x7f.1,
  // 0177.0.0.1 and 2130706433 are all 127.0.0.1 to it, and none is a dotted quad to isIPv4.
  const v4 = inetAton(address)
  if (v4 !== undefined) return v4 >>> 24 !== 127
  if (!isIPv6(address)) return true
  const canonical = new URL(`http://[${address}]/`).hostname // [::1], [::ffff:7f00:35], ...
  return canonical !== '[::1]' && !/^\[::ffff:7f[0-9a-f]{2}:/.test(canonical)
}
/**
 * inet_aton(3)'s reading of `text` as an IPv4 address (a, a.b, a.b.c or a.b.c.d, each part
 * decimal, octal with a leading 0 or hex with 0x, the last filling the bytes left), or undefined.
 */
function inetAton(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length > 4) return undefined
  const values: number[] = []
  for (const part of parts) {
    const m = /^(?:0[xX]([0-9a-fA-F]*)|(0[0-7]*)|([1-9][0-9]*))$/.exec(part)
    if (!m) return undefined
    values.push(m[1] !== undefined ? parseInt(m[1] || '0', 16) : m[2] !== undefined ? parseInt(m[2], 8) : parseInt(m[3]!, 10))
  }
  const last = values.pop()!
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined
  return values.reduce((sum, v, i) => sum + v * 2 ** (8 * (3 - i)), 0) + last
}
// #endregion resolvConf

// #region createContainerLayers
/**
 * A container's two layers, "<id>-init" and "<id>", on the image's top layer, the init layer
 * filled for `files`; gives the overlay mount of the container's own layer.
 */
export function createContainerLayers(root: string, id: string, imageTop: string, files: InitFiles): OverlayDirs {
  const init = createLayer(root, `${id}-init`, imageTop)
  try {
    const etc = join(init.diff, 'etc')
    mkdirSync(etc, { recursive: true })
    // What the init layer holds hides the image's own (its /etc too): modes as Docker's, whatever
    // the umask of the process that runs this (mkdir and open apply it, chmod does not).
    chmodSync(etc, 0o755)
    const contents = { [join(etc, 'hostname')]: `${files.hostname}\n`, [join(etc, 'hosts')]: hostsFile(files.hostname), [join(etc, 'resolv.conf')]: resolvConf(files.hostResolvConf ?? ''), [join(init.diff, '.dockerenv')]: '' }
    for (const [path, text] of Object.entries(contents)) {
      writeFileSync(path, text)
      chmodSync(path, 0o644)
    }
    createLayer(root, id, `${id}-init`)
  } catch (error) {
    removeLayer(root, `${id}-init`)
    throw error
  }
  return overlayDirs(root, id)
}
// #endregion createContainerLayers
