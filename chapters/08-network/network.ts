/**
 * Chapter 08: the container's network, composed. `minidocker run` calls attachNetwork once,
 * after the fork and before exec, while the container's PID 1 waits (the moment chapter 04
 * puts it in its cgroup), and the returned detach() when the container has ended.
 *
 *   --network none     its own namespace with lo only (and up)
 *   --network host     the host's namespace: nothing to do
 *   --network bridge   the default: an address, a veth on the bridge, published ports, and the
 *                      container's /etc/hosts, /etc/hostname and /etc/resolv.conf
 *
 * Check your work with `npx workbook check 8`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NotImplementedError } from '../../lib/errors.ts'
import { hostResolvConf, NETWORK_MODES, resolvConf, type Attachment, type NetworkMode, type NetworkRequest } from '../../lib/net.ts'
import type { Mount } from '../../lib/oci.ts'
import { allocate, parseSubnet, release, toAddress, withLock } from './ipam.ts'
import { connectContainer, DEFAULT_BRIDGE, disconnectContainer, ensureBridge, loopbackUp } from './links.ts'
import { ensureChains, publishPorts, unpublishPorts } from './ports.ts'

// Given (lib/net.ts): the NetworkMode names, what `run` asks for (NetworkRequest), what it gets
// back (Attachment), and the host's resolv.conf as the container's.
export { hostResolvConf, NETWORK_MODES, resolvConf, type Attachment, type NetworkMode, type NetworkRequest }

// #region nameFiles
/**
 * Write the container's hostname, hosts and resolv.conf into `dir` (its own directory, as
 * dockerd writes containers/ID/hosts) and return the bind mounts that put them at /etc/...
 * The image's own files are never written to. hosts names localhost and, when it has an
 * address, the container's hostname on that address.
 */
export function nameFiles(dir: string, hostname: string, address: string | undefined): Mount[] {
  // TODO(08): write the container's hostname, hosts and resolv.conf into `dir` and return the
  //   bind mounts that put them at /etc/hostname, /etc/hosts and /etc/resolv.conf.
  //   1. Why into the container's own directory and bind-mounted, never into the image?
  //   2. hosts: localhost for 127.0.0.1 and ::1, and the hostname on `address` when there is one,
  //      as its last line: the address, a tab, the name (Docker's layout; the tests read it so).
  //   3. resolv.conf: the host's (hostResolvConf; a host may have none) through resolvConf: why
  //      must a nameserver on 127.0.0.53 go?
  //   4. The mounts are Mount entries (lib/oci.ts) of the kind chapter 03's parseVolume makes
  //      for `-v`: chapter 03's mountInRootfs mounts them.
  //   Where: moby's daemon/container_operations_unix.go and libnetwork's sandbox_dns_unix.go
  //   (buildHostsFile, setupResolutionFiles). Chapter text: "Names".
  throw new NotImplementedError('08-network', 'nameFiles')
}
// #endregion nameFiles

// #region attachNetwork
/**
 * Give the container whose PID 1 is `pid` (a host PID, waiting before exec) the network
 * `request` asks for. Each step that changes something registers its undo first; if a later
 * step fails, the undos run in reverse and the error is thrown, so a failed attach leaves no
 * address allocated, no veth, no rule and no proxy. detach() runs the same undos.
 */
export async function attachNetwork(pid: number, request: NetworkRequest): Promise<Attachment> {
  // TODO(08): give the container the network `request` asks for, while its PID 1 waits.
  //   1. host: nothing to do. none: lo up, and the /etc files without an address.
  //   2. bridge: the host's side (ensureBridge, ensureChains) under the IPAM lock, so two
  //      runs never create them at once (the lock is not reentrant: allocate takes it itself,
  //      and a holder that asks again waits for ever); an address (owned by `pid`); the veth; the ports; the
  //      /etc files (only when request.files) in root/containers/ID.
  //   3. Every step that changes something must be undone if a later one fails, in reverse
  //      order; detach() runs the same undos when the container has ended. What must never
  //      be left: an address, a veth, a rule, a proxy, the container's directory.
  //   Where: libnetwork's sandbox and endpoint Join; dockerd's libnetwork-setkey hook.
  //   Chapter text: "Putting it together".
  throw new NotImplementedError('08-network', 'attachNetwork')
}
// #endregion attachNetwork
