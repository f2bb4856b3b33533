/**
 * Chapter 05: a container's own two layers, as dockerd prepares them. Between the image's
 * layers and the container's writable layer sits "<id>-init", with the files every
 * container needs to find as its own: /etc/hostname, /etc/hosts, /etc/resolv.conf.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLayer, overlayDirs } from './driver.ts'
import type { OverlayDirs } from './overlay.ts'

export interface InitFiles {
  hostname: string
  /** the host's /etc/resolv.conf, filtered by resolvConf() */
  hostResolvConf?: string
}

/** The nameservers Docker falls back to when the host has only local ones. */
export const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4']

// #region resolvConf
/**
 * The container's resolv.conf from the host's: the nameservers a container in a network
 * namespace of its own cannot reach go; with none left, FALLBACK_NAMESERVERS, as dockerd does.
 * The tests compare the text: every other line stays, in order; blank lines go; the fallbacks
 * are `nameserver <ip>` lines at the end; the text ends with a newline.
 */
export function resolvConf(host: string): string {
  const lines = host.split('\n').filter((line) => line.trim() !== '')
  const isLocal = (line: string) => /^\s*nameserver\s+(127\.|::1\s*$)/.test(line)
  const kept = lines.filter((line) => !isLocal(line))
  if (!kept.some((line) => /^\s*nameserver\s/.test(line)))
    kept.push(...FALLBACK_NAMESERVERS.map((ip) => `nameserver ${ip}`))
  return kept.join('\n') + '\n'
}
// #endregion resolvConf

// #region hostsFile
/**
 * /etc/hosts for a container with no network yet: Docker's default lines, tab-separated (the
 * tests check only the one for localhost over IPv4), and a line that lets the container resolve
 * its own hostname.
 */
export function hostsFile(hostname: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `127.0.1.1\t${hostname}`,
  ].join('\n') + '\n'
}
// #endregion hostsFile

// #region createContainerLayers
/**
 * Create "<id>-init" on top of the image's top layer and "<id>" on top of that, fill the
 * init layer, and return the overlay mount of the container's layer. Its etc/hostname holds
 * the hostname and a newline; its etc/resolv.conf is resolvConf() of files.hostResolvConf
 * (of "" without one).
 */
export function createContainerLayers(root: string, id: string, imageTop: string, files: InitFiles): OverlayDirs {
  const init = createLayer(root, `${id}-init`, imageTop)
  const etc = join(init.diff, 'etc')
  mkdirSync(etc, { recursive: true })
  writeFileSync(join(etc, 'hostname'), `${files.hostname}\n`)
  writeFileSync(join(etc, 'hosts'), hostsFile(files.hostname))
  writeFileSync(join(etc, 'resolv.conf'), resolvConf(files.hostResolvConf ?? ''))
  writeFileSync(join(init.diff, '.dockerenv'), '')
  createLayer(root, id, `${id}-init`)
  return overlayDirs(root, id)
}
// #endregion createContainerLayers
