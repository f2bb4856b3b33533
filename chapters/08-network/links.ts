/**
 * Chapter 08: links. The bridge (minidocker0, the workbook's docker0) with the gateway address,
 * and a veth pair per container: one end on the bridge, the other moved into the container's
 * network namespace and configured there as eth0.
 *
 * Links and addresses are made with iproute2's `ip`, which speaks netlink to the kernel: Node
 * cannot open a netlink socket, and `ip` is what you type to look at the result. Commands run in
 * the namespace of the process that runs them, so everything meant for the container's side goes
 * through nsenter --net=/proc/PID/ns/net. The host side is wherever minidocker itself runs (in the
 * tests, a network namespace that stands in for the host).
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { command } from '../../lib/command.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { inNetns, ipBatch, macFor, type Bridge } from '../../lib/net.ts'
import type { Lease } from './ipam.ts'

export { inNetns, ipBatch, macFor } from '../../lib/net.ts'

/** A bridge network (lib/net.ts): the bridge's name and the subnet its containers take addresses from. */
export type { Bridge }

/** The workbook's docker0: Docker's default bridge is docker0 on 172.17.0.0/16. */
export const DEFAULT_BRIDGE: Bridge = { name: 'minidocker0', subnet: '172.29.0.0/16' }

// #region ensureBridge
/**
 * Make sure the bridge exists, holds the gateway (the subnet's first host address) and is up,
 * and that the host forwards IPv4 between its interfaces. Safe to call when all of it is
 * already done (every run calls it); the caller holds a lock, so two runs never race here.
 */
export async function ensureBridge(bridge: Bridge, gateway: string, prefix: number): Promise<void> {
  // TODO(08): the host's side of the network, made idempotently: every run calls this.
  //   1. The bridge: create it only when it does not exist (which `ip link` subcommand shows one
  //      device and fails when it is missing?).
  //   2. The gateway address on it, and the bridge up. Which `ip addr` verb does not fail when
  //      the address is already there?
  //   3. The host must forward IPv4 between interfaces, or what DNAT sends on is dropped: which
  //      sysctl, and why does writing it in /proc/sys/net change only this network namespace?
  //   Use `command` or `ipBatch`. Where: man 8 ip-link (type bridge), man 8 ip-address,
  //   libnetwork's bridge driver (setupDevice, setupBridgeIPv4, setupIPForwarding).
  //   Chapter text: "The bridge".
  throw new NotImplementedError('08-network', 'ensureBridge')
}
// #endregion ensureBridge

// #region connectContainer
/**
 * Connect the container whose PID 1 is `pid` (host PID) to the bridge with `lease`: inside, an
 * `eth0` with the lease's address and a MAC of its own, lo and eth0 up, and a default route via
 * the gateway; outside, the other end of the link on the bridge. Returns the host end's name.
 * On failure nothing is left.
 */
export async function connectContainer(pid: number, bridge: Bridge, lease: Lease): Promise<string> {
  // TODO(08): wire the container whose PID 1 is `pid` to the bridge with `lease`.
  //   1. Which kind of link has two ends in two namespaces, and how does one end get into a
  //      namespace you know only by a PID? Link names are at most 15 bytes and must not
  //      collide with a run started at the same moment.
  //   2. Why must each container's end have a MAC of its own on one bridge (macFor)?
  //   3. What does the kernel say to a route via a gateway that no address on an up link can
  //      reach? So, in which order inside the container?
  //   4. On any failure, nothing is left: what deletes both ends at once?
  //   Where: man 8 ip-link, man 8 ip-route, man 1 nsenter; libnetwork's bridge driver
  //   (CreateEndpoint) and osl (the sandbox side). Chapter text: "A veth pair".
  throw new NotImplementedError('08-network', 'connectContainer')
}
// #endregion connectContainer

// #region disconnectContainer
/**
 * Delete the host end of a container's veth pair, which deletes the other end too. A pair that
 * is already gone (the container's namespace went away, and took the pair with it) is no error.
 */
export async function disconnectContainer(host: string): Promise<void> {
  // TODO(08): delete the host end of a container's veth pair (the other end goes with it).
  //   1. When the container's namespace is already gone, the pair went with it: that is no
  //      error, but any other failure is.
  //   Where: man 8 ip-link (delete). Chapter text: "A veth pair".
  throw new NotImplementedError('08-network', 'disconnectContainer')
}
// #endregion disconnectContainer

// #region loopbackUp
/** Bring up lo in the container's network namespace: a new namespace's lo is down. */
export async function loopbackUp(pid: number): Promise<void> {
  // TODO(08): bring up lo in the container's network namespace, not the host's.
  //   1. A new network namespace has lo, down. Which process's namespace does `ip` act on,
  //      and how do you run it in the container's?
  //   Where: man 1 nsenter, man 8 ip-link. Chapter text: "--network none and host".
  throw new NotImplementedError('08-network', 'loopbackUp')
}
// #endregion loopbackUp
