/**
 * Chapter 08: a container on the bridge. A veth pair per container: one end on the bridge (given:
 * ensureBridge in lib/links.ts makes it), the other moved into the container's network namespace
 * and configured there as eth0.
 *
 * Links and addresses are made with iproute2's `ip`, which speaks netlink to the kernel: Node
 * cannot open a netlink socket, and `ip` is what you type to look at the result. Commands run in
 * the namespace of the process that runs them. The host side is wherever minidocker itself runs
 * (in the tests, a network namespace that stands in for the host).
 */
import type { Lease } from '../../lib/addresses.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Bridge } from '../../lib/net.ts'

// #region connectContainer
/**
 * Connect the container whose PID 1 is `pid` (host PID) to the bridge with `lease`: inside, an
 * `eth0` with the lease's address and a MAC of its own, lo and eth0 up, and a default route via
 * the gateway; outside, the other end of the link on the bridge. Returns the host end's name.
 * When it fails, at whichever step, the host holds nothing it made.
 */
export async function connectContainer(pid: number, bridge: Bridge, lease: Lease): Promise<string> {
  // TODO(08): wire the container whose PID 1 is `pid` to the bridge with `lease`.
  //   1. Which kind of link has two ends that can live in two namespaces, and how does one
  //      end reach a namespace you know only by a PID? Link names are short, and must not
  //      collide with those of a run started at the same moment.
  //   2. What must the container's side have, and in which order will the kernel accept it?
  //      Try each step by hand in a namespace of your own and read what `ip` answers.
  //   3. Commands act on the namespace of the process that runs them.
  //   4. Any step can fail: the container may be gone before you reach it, or the lease may be
  //      one the kernel refuses. What have you made by then, and where is it? And the run may
  //      be killed between any two commands, with everything it started: what stays then?
  //   Where: man 8 ip-link (veth, netns), man 8 ip-route, man 1 nsenter; lib/net.ts and
  //   lib/links.ts for what is given; libnetwork's bridge driver (CreateEndpoint) and osl (the
  //   sandbox side). Chapter text: "A veth pair".
  throw new NotImplementedError('08-network', 'connectContainer')
}
// #endregion connectContainer
