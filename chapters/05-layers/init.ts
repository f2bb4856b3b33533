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
  // TODO(05): the host's resolv.conf, made fit for a container.
  //   1. A nameserver on the host's loopback (any 127.x address, ::1) answers only on the host's
  //      own loopback, which the container's network namespace does not share: it goes.
  //   2. With no nameserver left, the container gets FALLBACK_NAMESERVERS, as dockerd does
  //      (libnetwork/resolvconf). Every other line stays; blank lines go; end with a newline.
  throw new NotImplementedError('05-layers', 'resolvConf')
}
// #endregion resolvConf

// #region hostsFile
/** /etc/hosts for a container with no network yet: loopback names and its own hostname. */
export function hostsFile(hostname: string): string {
  // TODO(05): /etc/hosts for a container that has no network of its own yet.
  //   1. Docker's default lines for localhost and the IPv6 names, tab-separated (`docker run --rm
  //      busybox cat /etc/hosts`, or libnetwork's etchosts package).
  //   2. The container must resolve its own hostname: one more line, on a loopback address.
  throw new NotImplementedError('05-layers', 'hostsFile')
}
// #endregion hostsFile

// #region createContainerLayers
/**
 * Create "<id>-init" on top of the image's top layer and "<id>" on top of that, fill the
 * init layer, and return the overlay mount of the container's layer.
 */
export function createContainerLayers(root: string, id: string, imageTop: string, files: InitFiles): OverlayDirs {
  // TODO(05): a container's own two layers, on top of the image's.
  //   1. "<id>-init" sits on the image's top layer and "<id>" on the init layer. The container
  //      writes only into its own layer; the image's layers are shared by every container of
  //      that image and never change.
  //   2. The init layer holds etc/hostname (the name and a newline), etc/hosts, etc/resolv.conf
  //      (from files.hostResolvConf, or from nothing) and an empty .dockerenv: chapter text, "A
  //      container's own layers"; moby's layer/layer_store.go (initMount).
  //   3. Return what mounting the container's layer takes.
  throw new NotImplementedError('05-layers', 'createContainerLayers')
}
// #endregion createContainerLayers
