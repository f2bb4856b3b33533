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
import { NotImplementedError } from '../../lib/errors.ts'
import type { Attachment, NetworkRequest } from '../../lib/net.ts'

// The request `run` makes and what it gets back (lib/net.ts), for the chapters that call this.
export type { Attachment, NetworkRequest }

// #region attachNetwork
/**
 * Give the container whose PID 1 is `pid` (a host PID, waiting before exec) the network
 * `request` asks for. If a step fails, what the earlier steps made is undone and the error is
 * thrown, so a failed attach leaves no address allocated, no veth, no rule and no proxy.
 * detach() undoes the same once the container has ended. A run on the bridge also removes the
 * DNAT rules that runs killed before it left.
 */
export async function attachNetwork(pid: number, request: NetworkRequest): Promise<Attachment> {
  // TODO(08): give the container the network `request` asks for, while its PID 1 waits.
  //   1. What does each mode need: host, none (a namespace of its own: what is wrong with a
  //      new one's lo?), bridge (everything else in this chapter, yours and the given pieces
  //      in lib/)? The /etc files only when request.files, in root/containers/ID.
  //   2. The host's side is made by whichever run comes first, and runs start together.
  //   3. Whatever fails, nothing may stay; detach() undoes the same, in the reverse order of
  //      making, once the container has ended and while other runs go on.
  //   4. A run killed with SIGKILL undoes nothing, and its DNAT rules stay. Where among your
  //      steps does the sweep go, and whose are this run's rules?
  //   Where: libnetwork's sandbox and endpoint Join; dockerd's libnetwork-setkey hook; chapter
  //   09's create() for the same undo-on-failure shape. Chapter text: "Putting it together"
  //   and "Rules a killed run left".
  throw new NotImplementedError('08-network', 'attachNetwork')
}
// #endregion attachNetwork
