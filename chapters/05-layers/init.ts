/**
 * Chapter 05: a container's own two layers, as dockerd prepares them. Between the image's
 * layers and the container's writable layer sits "<id>-init", with the files every
 * container needs to find as its own: /etc/hostname, /etc/hosts, /etc/resolv.conf.
 *
 * Check your work with `npx workbook check 5`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
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
 * The container's resolv.conf from the host's: a nameserver on the host's loopback
 * (systemd-resolved's 127.0.0.53, a local dnsmasq) cannot be reached from the container's
 * own network namespace, so those lines go; with none left, Google's public DNS is used,
 * as dockerd does. Every other line (search, options) is kept.
 */
export function resolvConf(host: string): string {
  // TODO(05): filter the host's resolv.conf for a container.
  //   1. Split into lines and drop empty ones.
  //   2. Drop "nameserver 127.x.x.x" and "nameserver ::1" lines: the host's loopback is not the
  //      container's.
  //   3. If no nameserver line is left, add one for each of FALLBACK_NAMESERVERS.
  //   4. Join with "\n" and end with a newline.
  throw new NotImplementedError('05-layers', 'resolvConf')
}
// #endregion resolvConf

// #region hostsFile
/** /etc/hosts for a container with no network yet: loopback names and its own hostname. */
export function hostsFile(hostname: string): string {
  // TODO(05): /etc/hosts for a container.
  //   1. Docker's lines: "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
  //      fe00::0 ip6-localnet, ff00::0 ip6-mcastprefix, ff02::1 ip6-allnodes, ff02::2 ip6-allrouters.
  //   2. Then one line for the container's own name, e.g. `127.0.1.1\t${hostname}`.
  //   3. Join with "\n" and end with a newline.
  throw new NotImplementedError('05-layers', 'hostsFile')
}
// #endregion hostsFile

// #region createContainerLayers
/**
 * Create "<id>-init" on top of the image's top layer and "<id>" on top of that, fill the
 * init layer, and return the overlay mount of the container's layer.
 */
export function createContainerLayers(root: string, id: string, imageTop: string, files: InitFiles): OverlayDirs {
  // TODO(05): the container's two layers.
  //   1. createLayer(root, `${id}-init`, imageTop).
  //   2. In its diff, write etc/hostname (the name and a newline), etc/hosts (hostsFile) and
  //      etc/resolv.conf (resolvConf of files.hostResolvConf, or of "" when it is not given),
  //      plus an empty /.dockerenv as Docker does.
  //   3. createLayer(root, id, `${id}-init`): the container's writable layer.
  //   4. Return overlayDirs(root, id).
  throw new NotImplementedError('05-layers', 'createContainerLayers')
}
// #endregion createContainerLayers
