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
import { hostsFile } from '../../lib/etc-hosts.ts'
import { createLayer, overlayDirs } from './driver.ts'
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
  // TODO(05): the host's resolv.conf, made fit for a container.
  //   1. Which nameserver addresses answer only on the host itself, and so not from a container's
  //      own network namespace? systemd-resolved's stub and a local dnsmasq are two examples; which
  //      addresses does IPv4's loopback cover, and IPv6's? Chapter text, "A container's own
  //      layers"; man 7 ip, man 7 ipv6.
  //   2. dockerd does the same in libnetwork's internal/resolvconf package (TransformForLegacyNw).
  //   3. The host's file is written for a resolver (glibc's resolv/res_init.c), not for your eyes: does
  //      your test of an address answer as the network stack would, however the address is written?
  throw new NotImplementedError('05-layers', 'resolvConf')
}
// #endregion resolvConf

// #region createContainerLayers
/**
 * A container's two layers, "<id>-init" and "<id>", on the image's top layer, the init layer
 * filled for `files`; gives the overlay mount of the container's own layer.
 */
export function createContainerLayers(root: string, id: string, imageTop: string, files: InitFiles): OverlayDirs {
  // TODO(05): a container's own two layers, on top of the image's.
  //   1. "<id>-init" sits on the image's top layer and "<id>" on the init layer. The container
  //      writes only into its own layer; the image's layers are shared by every container of
  //      that image and never change.
  //   2. Which files must every container find as its own, whatever its image holds? Chapter
  //      text, "The real thing"; moby's daemon/initlayer (Setup) and
  //      daemon/internal/layer/layer_store.go (initMount). Here the init layer holds their
  //      contents, not empty files.
  //   3. Return what mounting the container's layer takes.
  //   4. Two layers are made one after the other: what must become of the first when the second
  //      cannot be made?
  //   5. What you write here hides the image's own: who in the container may read it, and who
  //      change it, whichever process calls you?
  throw new NotImplementedError('05-layers', 'createContainerLayers')
}
// #endregion createContainerLayers
