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
import { allocate, parseSubnet, processStart, release, toAddress, withLock } from './ipam.ts'
import { connectContainer, DEFAULT_BRIDGE, disconnectContainer, ensureBridge, loopbackUp } from './links.ts'
import { ensureChains, publishPorts, sweepStaleRules, unpublishPorts } from './ports.ts'

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
  // TODO(08): the container's /etc/hostname, /etc/hosts and /etc/resolv.conf, as files in
  //   `dir` and the mounts that put them in place.
  //   1. Why into the container's own directory and mounted over the image's, never written
  //      into the image? (Think of two containers of one image, and of `docker commit`.)
  //   2. hosts: localhost for both loopback addresses, and, when there is an address, the
  //      container's hostname on it as the last line: the address, a tab, the name (the tests
  //      read that line).
  //   3. resolv.conf: the host's, as dockerd filters it (given: resolvConf, hostResolvConf; a
  //      host may have none). Why can a nameserver on 127.0.0.53 not work in the container?
  //   4. The mounts are OCI Mount entries (lib/oci.ts) that mountInRootfs (lib/rootfs-setup.ts) mounts:
  //      the same kind of entry a `-v HOST:CONTAINER` becomes: chapter 03's README shows one
  //      in its config.json example, and explains why a file can be bind-mounted over a file.
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
 * address allocated, no veth, no rule and no proxy. detach() runs the same undos. On the
 * bridge it also sweeps the DNAT rules of runs that ended without undoing (sweepStaleRules).
 */
export async function attachNetwork(pid: number, request: NetworkRequest): Promise<Attachment> {
  // TODO(08): give the container the network `request` asks for, while its PID 1 waits.
  //   1. What does each mode need: host (the host's namespace, already the container's), none
  //      (a namespace of its own: what is wrong with a new one's lo?), bridge (everything else
  //      in this chapter)? The /etc files only when request.files, in root/containers/ID.
  //   2. The host's side (the bridge and its rules) is made by whichever run comes first, and
  //      two runs starting together must never both make it: what in this chapter already
  //      keeps two runs apart? Beware: that lock is not reentrant, and allocate takes it
  //      itself; a holder that asks for it again waits for ever.
  //   3. Some steps need what an earlier one produced: the arguments each step takes say which.
  //   4. Whatever fails, nothing may stay: no address allocated, no veth, no rule, no proxy,
  //      no container directory. detach() undoes the same, once the container has ended, in
  //      the reverse order of making.
  //   5. A run killed with SIGKILL undoes nothing, and its DNAT rules stay (sweepStaleRules).
  //      Where among your steps does the sweep go, and under which lock? Think of a run that
  //      dies between the sweep and the allocation that gives its address away, of a stale
  //      rule for a port this run publishes, and of two runs sweeping at once. Whose are this
  //      run's rules (publishPorts' owner)?
  //   Where: libnetwork's sandbox and endpoint Join; dockerd's libnetwork-setkey hook; chapter
  //   09's create() for the same undo-on-failure shape. Chapter text: "Putting it together"
  //   and "Rules a killed run left".
  throw new NotImplementedError('08-network', 'attachNetwork')
}
// #endregion attachNetwork
