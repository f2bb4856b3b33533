/**
 * Chapter 08's given address management (IPAM): the lowest free address of a subnet for a
 * container, and giving it back. The state is one JSON file under minidocker's root
 * (DEFAULT_ROOT/network/ipam.json), read and written only inside the chapter's withLock, as
 * libnetwork's ipam keeps its bitmaps in a store and changes them under a lock. The lock itself
 * is the learner's (chapters/08-network/ipam.ts).
 */
import { withLock } from '#ch/08-network/ipam.ts'
import { ContainerError } from './errors.ts'
import { alive, loadAllocations, parseSubnet, processStart, saveAllocations, toAddress } from './net.ts'

/** An address given to a container, with what it needs to configure its eth0. */
export interface Lease {
  address: string
  /** the subnet's prefix length, e.g. 16 for 172.29.0.0/16 */
  prefix: number
  /** the bridge's address, the container's default route */
  gateway: string
}

/**
 * Give `owner` (a PID) the lowest free address of `subnet` that a container may have. An
 * address whose owner has died is free again. A full subnet is a ContainerError (125) that
 * says "no free address" and names the subnet.
 */
export async function allocate(dir: string, subnet: string, owner: number): Promise<Lease> {
  const { network, prefix } = parseSubnet(subnet)
  const start = processStart(owner)
  if (start === undefined) throw new ContainerError(`cannot allocate an address for process ${owner}: it is not running`, 125)
  return withLock(dir, async () => {
    const allocations = await loadAllocations(dir)
    // Reclaim what crashed runs left: their owners are gone, or their PIDs now name another process.
    for (const [address, holder] of Object.entries(allocations)) if (!alive(holder)) delete allocations[address]
    const last = network + 2 ** (32 - prefix) - 1
    for (let n = network + 2; n < last; n++) {
      const address = toAddress(n)
      if (allocations[address]) continue
      allocations[address] = { pid: owner, start }
      await saveAllocations(dir, allocations)
      return { address, prefix, gateway: toAddress(network + 1) }
    }
    throw new ContainerError(`no free address in ${subnet}: all ${last - network - 2} are in use`, 125)
  })
}

/** Give `address` back, under the lock; releasing an address that is not allocated does nothing. */
export async function release(dir: string, address: string): Promise<void> {
  await withLock(dir, async () => {
    const allocations = await loadAllocations(dir)
    delete allocations[address]
    await saveAllocations(dir, allocations)
  })
}
