/**
 * Chapter 08's given links: the bridge (minidocker0, the workbook's docker0) with the gateway
 * address, a veth's MAC, a container's veth pair made and deleted, and lo in a namespace of its
 * own. When and in which order a run calls them is the learner's (chapters/08-network/network.ts).
 *
 * Links and addresses are made with iproute2's `ip`, which speaks netlink to the kernel: Node
 * cannot open a netlink socket, and `ip` is what you type to look at the result. Commands run in
 * the namespace of the process that runs them, so everything meant for the container's side goes
 * through nsenter --net=/proc/PID/ns/net.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import type { Lease } from './addresses.ts'
import { command } from './command.ts'
import { inNetns, ipBatch, type Bridge } from './net.ts'

/** The workbook's docker0: Docker's default bridge is docker0 on 172.17.0.0/16. */
export const DEFAULT_BRIDGE: Bridge = { name: 'minidocker0', subnet: '172.29.0.0/16' }

/**
 * The MAC address of the container's eth0 with `address`: locally administered, unicast, and
 * derived from the address, so two containers on one bridge never share one, and a container
 * that gets an address again gets the same MAC. Docker's form, which chapter 11's `inspect`
 * shows: 02:42 and the address's four bytes, each as two lowercase hex digits.
 */
export function macFor(address: string): string {
  // 02: the locally administered bit set, the multicast bit clear.
  return ['02', '42', ...address.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0'))].join(':')
}

/**
 * Make sure the bridge exists, holds the gateway (the subnet's first host address) and is up,
 * and that the host forwards IPv4 between its interfaces. Safe to call when all of it is
 * already done (every run calls it). Not safe to run in two processes at once.
 */
export async function ensureBridge(bridge: Bridge, gateway: string, prefix: number): Promise<void> {
  const exists = await command(['ip', '-o', 'link', 'show', 'dev', bridge.name]).then(() => true, () => false)
  if (!exists) await command(['ip', 'link', 'add', 'name', bridge.name, 'type', 'bridge'])
  // replace, not add: idempotent when the address is already there.
  await ipBatch([`addr replace ${gateway}/${prefix} dev ${bridge.name}`, `link set ${bridge.name} up`])
  // Without forwarding, what DNAT sends on to a container is dropped: the host is a router here.
  // /proc/sys/net belongs to the network namespace of the process that opens it.
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1')
}

/**
 * Connect the container whose PID 1 is `pid` (host PID) to the bridge with `lease`: a veth pair,
 * one end on the bridge and up, the other born in the container's network namespace, renamed
 * eth0, given macFor's MAC, its address, brought up with lo, and a default route via the
 * gateway (libnetwork's bridge driver, CreateEndpoint, and its osl package). Returns the host
 * end's name. When it fails, at whichever step, the pair is deleted again; a run killed
 * meanwhile leaves no pair on the host once the container's namespace has gone.
 */
export async function connectContainer(pid: number, bridge: Bridge, lease: Lease): Promise<string> {
  // Names are at most 15 bytes; random ones, as Docker's, never collide between parallel runs.
  const host = `veth${randomBytes(4).toString('hex').slice(0, 7)}`
  const peer = `${host}c`
  // `netns PID` after the peer's name makes the pair with that end in the container already:
  // there is no moment at which both ends are the host's and a kill would leave them there.
  await ipBatch([
    `link add ${host} type veth peer name ${peer} netns ${pid}`,
    `link set ${host} master ${bridge.name}`,
    `link set ${host} up`,
  ]).catch(async (error: unknown) => {
    await disconnectContainer(host)
    throw error
  })
  try {
    // The kernel takes a route via the gateway only once an address on its subnet is on a link that is up.
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

/** Delete a container's veth pair by its host end. A pair that is already gone is no error. */
export async function disconnectContainer(host: string): Promise<void> {
  // Gone before ip looked the name up: "Cannot find device"; gone between the lookup and the
  // delete, as the container's namespace went: "RTNETLINK answers: No such device".
  await command(['ip', 'link', 'del', host]).catch((error: unknown) => {
    if (!/Cannot find device|No such device/.test(String(error))) throw error
  })
}

/** Bring up lo in the container's network namespace. */
export async function loopbackUp(pid: number): Promise<void> {
  await command(inNetns(pid, ['ip', 'link', 'set', 'lo', 'up']))
}
