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
import { randomBytes } from 'node:crypto'
import type { Lease } from '../../lib/addresses.ts'
import { disconnectContainer, macFor } from '../../lib/links.ts'
import { inNetns, ipBatch, type Bridge } from '../../lib/net.ts'

// #region connectContainer
/**
 * Connect the container whose PID 1 is `pid` (host PID) to the bridge with `lease`: a veth pair,
 * one end on the bridge and up, the other moved into the container's network namespace, renamed
 * eth0, given a MAC of its own, its address, brought up with lo, and a default route via the
 * gateway. Returns the host end's name. When it fails, at whichever step, the host holds nothing
 * it made: the pair is deleted again.
 */
export async function connectContainer(pid: number, bridge: Bridge, lease: Lease): Promise<string> {
  // Names are at most 15 bytes; random ones, as Docker's, never collide between parallel runs.
  const host = `veth${randomBytes(4).toString('hex').slice(0, 7)}`
  const peer = `${host}c`
  await ipBatch([
    `link add ${host} type veth peer name ${peer} netns ${pid}`,
    `link set ${host} master ${bridge.name}`,
    `link set ${host} up`,
  ]).catch(async (error: unknown) => {
    await disconnectContainer(host)
    throw error
  })
  try {
    // In the container's namespace: the order matters. A route via the gateway needs an address
    // on the same subnet, on a link that is up, or the kernel refuses it.
    await ipBatch([
      `link set ${peer} name eth0`,
      `link set eth0 address ${macFor(lease.address)}`,
      `addr add ${lease.address}/${lease.prefix} dev eth0`,
      'link set eth0 up',
      'link set lo up',
      `route add default via ${lease.gateway}`,
    ], inNetns(pid, []))
  } catch (error) {
    await disconnectContainer(host)
    throw error
  }
  return host
}
// #endregion connectContainer
