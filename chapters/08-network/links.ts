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
import { inNetns, ipBatch, type Bridge } from '../../lib/net.ts'
import type { Lease } from './ipam.ts'

export { inNetns, ipBatch } from '../../lib/net.ts'

/** A bridge network (lib/net.ts): the bridge's name and the subnet its containers take addresses from. */
export type { Bridge }

/** The workbook's docker0: Docker's default bridge is docker0 on 172.17.0.0/16. */
export const DEFAULT_BRIDGE: Bridge = { name: 'minidocker0', subnet: '172.29.0.0/16' }

// #region macFor
/**
 * The MAC address of the container's eth0 with `address`: locally administered, unicast, and
 * derived from the address, so two containers on one bridge never share one, and a container
 * that gets an address again gets the same MAC. Docker's, byte for byte: the tests and chapter
 * 11's `inspect` compare it with the MAC libnetwork derives from the same address.
 */
export function macFor(address: string): string {
  // TODO(08): the MAC of the eth0 that holds `address`.
  //   1. What do the two lowest bits of a MAC's first byte say, and why is 02 a first byte no
  //      network card was ever given?
  //   2. Why derive it from the address rather than pick it at random, or use one for all?
  //      What does a bridge learn from the source MACs it sees?
  //   3. What does 0 become in hex, and what must it be in a MAC?
  //   Where: the "A veth pair" section; moby's libnetwork netutils (GenerateMACFromIP).
  throw new NotImplementedError('08-network', 'macFor')
}
// #endregion macFor

// #region ensureBridge
/**
 * Make sure the bridge exists, holds the gateway (the subnet's first host address) and is up,
 * and that the host forwards IPv4 between its interfaces. Safe to call when all of it is
 * already done (every run calls it); the caller holds a lock, so two runs never race here.
 */
export async function ensureBridge(bridge: Bridge, gateway: string, prefix: number): Promise<void> {
  // TODO(08): the host's side of the network, made idempotently: every run calls this, and
  //   the second run must change nothing and fail at nothing.
  //   1. Which of these fail when what they make is already there, and how do you avoid that
  //      for each: creating the bridge, giving it the gateway address, bringing it up?
  //   2. A DNAT'ed packet from outside is for a container, not for the host: what must the host
  //      be willing to do with it, and where is that switch (it belongs to a network namespace,
  //      so it must be set in the one minidocker runs in)?
  //   Where: man 8 ip-link (type bridge), man 8 ip-address, the kernel's ip-sysctl.rst;
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
  //   1. Which kind of link has two ends that can live in two namespaces, and how does one
  //      end reach a namespace you know only by a PID? Link names are at most 15 bytes and
  //      must not collide with a run started at the same moment.
  //   2. Inside, the end is eth0 with a MAC of its own (macFor), the lease's address, up, with
  //      lo up too, and a default route via the gateway. The kernel refuses a route via a
  //      gateway that no address on an up link can reach: plan the order around that.
  //   3. Commands act on the namespace of the process that runs them: the container's side
  //      must never be configured in the host's (inNetns).
  //   4. On any failure nothing is left, not even the half made on the host.
  //   Where: man 8 ip-link (veth, netns), man 8 ip-route, man 1 nsenter; libnetwork's bridge
  //   driver (CreateEndpoint) and osl (the sandbox side). Chapter text: "A veth pair".
  throw new NotImplementedError('08-network', 'connectContainer')
}
// #endregion connectContainer

// #region disconnectContainer
/**
 * Delete a container's veth pair by its host end. A pair that is already gone is no error.
 */
export async function disconnectContainer(host: string): Promise<void> {
  // TODO(08): delete a container's veth pair by its host end.
  //   1. What happens to the other end, and to a pair whose container namespace is gone?
  //   2. A pair that is already gone is no error (say which words of the tool's error tell
  //      you so: it can go before ip looks its name up, or between that and the delete); any
  //      other failure is.
  //   Where: man 8 ip-link (delete). Chapter text: "A veth pair".
  throw new NotImplementedError('08-network', 'disconnectContainer')
}
// #endregion disconnectContainer

// #region loopbackUp
/** Bring up lo in the container's network namespace. */
export async function loopbackUp(pid: number): Promise<void> {
  // TODO(08): bring up lo in the container's network namespace, not the host's.
  //   1. In what state is lo in a new network namespace? Which process's namespace does `ip`
  //      act on, and how do you run it in the container's?
  //   Where: man 1 nsenter, man 8 ip-link. Chapter text: "--network none and host".
  throw new NotImplementedError('08-network', 'loopbackUp')
}
// #endregion loopbackUp
