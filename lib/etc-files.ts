/**
 * Chapter 08's given name files: the container's /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, written into the container's own directory (as dockerd writes
 * containers/ID/hosts) and bind-mounted over the image's, which are never written to.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolvConf } from '#ch/05-layers/init.ts'
import { hostResolvConf } from './net.ts'
import type { Mount } from './oci.ts'

/**
 * Write the container's hostname, hosts and resolv.conf into `dir` and return the bind mounts
 * that put them at /etc/... hosts names localhost and, when it has an address, the container's
 * hostname on that address, as its last line.
 */
export function nameFiles(dir: string, hostname: string, address: string | undefined): Mount[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...(address ? [`${address}\t${hostname}`] : [])]
  const files: Record<string, string> = {
    hostname: `${hostname}\n`,
    hosts: hosts.join('\n') + '\n',
    'resolv.conf': resolvConf(hostResolvConf() ?? ''), // filtered as chapter 05 does it
  }
  return Object.entries(files).map(([name, text]) => {
    writeFileSync(join(dir, name), text)
    return { destination: `/etc/${name}`, type: 'bind', source: join(dir, name), options: ['rbind'] }
  })
}
