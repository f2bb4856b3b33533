/**
 * Chapter 08: the container's network, composed. `minidocker run` calls attachNetwork once,
 * after the fork and before exec, while the container's PID 1 waits (the moment chapter 04
 * puts it in its cgroup), and the returned detach() when the container has ended.
 *
 *   --network none     its own namespace with lo only (and up)
 *   --network host     the host's namespace: nothing to do
 *   --network bridge   the default: an address, a veth on the bridge, published ports, and the
 *                      container's /etc/hosts, /etc/hostname and /etc/resolv.conf
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { allocate } from '../../lib/addresses.ts'
import { nameFiles } from '../../lib/etc-files.ts'
import { connectContainer, DEFAULT_BRIDGE, disconnectContainer, ensureBridge, loopbackUp } from '../../lib/links.ts'
import { loadAllocations, parseSubnet, processStart, saveAllocations, toAddress, type Attachment, type NetworkRequest, type Owner } from '../../lib/net.ts'
import { publishPorts, sweepStaleRules, unpublishPorts } from '../../lib/publish.ts'
import { withLock } from './ipam.ts'
import { ensureChains } from './ports.ts'

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
  const undo: (() => Promise<void> | void)[] = []
  const detach = async () => {
    for (const step of undo.splice(0).reverse()) await step()
  }
  try {
    if (request.mode === 'host') return { mounts: [], detach }
    const dir = join(request.root, 'containers', request.id)
    undo.push(() => rmSync(dir, { recursive: true, force: true }))
    if (request.mode === 'none') {
      await loopbackUp(pid)
      return { mounts: request.files ? nameFiles(dir, request.hostname, undefined) : [], detach }
    }
    const bridge = request.bridge ?? DEFAULT_BRIDGE
    const state = join(request.root, 'network')
    const { network, prefix } = parseSubnet(bridge.subnet)
    const owner: Owner = { pid, start: processStart(pid) ?? '' }
    const lease = await allocate(state, bridge.subnet, pid)
    undo.push(() => releaseOwn(state, lease.address, owner))
    // The host's side is made once, by whichever run comes first, and what killed runs left is
    // swept, under the IPAM lock: two runs never create the same bridge or chain, nor delete
    // the same rule. After allocate: every owner it found dead, and whose address it may have
    // given us, is dead still, so none of its rules can point at our address once we publish.
    await withLock(state, async () => {
      await ensureBridge(bridge, toAddress(network + 1), prefix)
      await ensureChains(bridge)
      await sweepStaleRules()
    })
    const veth = await connectContainer(pid, bridge, lease)
    undo.push(() => disconnectContainer(veth))
    // The rules' owner is the lease's (allocate refused a process that is not running; one
    // that has ended since gets rules that are stale from the start, and swept).
    const published = await publishPorts(request.ports, bridge, lease.address, owner)
    undo.push(() => unpublishPorts(published))
    const mounts = request.files ? nameFiles(dir, request.hostname, lease.address) : []
    return { mounts, address: lease.address, detach }
  } catch (error) {
    await detach()
    throw error
  }
}
// #endregion attachNetwork

/**
 * Give `address` back if `owner` still holds it. Once the container has ended its address is
 * free to any run's allocate, which may have given it to another container by the time this run
 * undoes: release() would take that container's address away.
 */
async function releaseOwn(state: string, address: string, owner: Owner): Promise<void> {
  await withLock(state, async () => {
    const allocations = await loadAllocations(state)
    const holder = allocations[address]
    if (holder?.pid !== owner.pid || holder.start !== owner.start) return
    delete allocations[address]
    await saveAllocations(state, allocations)
  })
}
