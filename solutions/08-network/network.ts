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
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...(address ? [`${address}\t${hostname}`] : [])]
  const files: Record<string, string> = {
    hostname: `${hostname}\n`,
    hosts: hosts.join('\n') + '\n',
    'resolv.conf': resolvConf(hostResolvConf()),
  }
  return Object.entries(files).map(([name, text]) => {
    writeFileSync(join(dir, name), text)
    return { destination: `/etc/${name}`, type: 'bind', source: join(dir, name), options: ['rbind'] }
  })
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
    const lease = await allocate(state, bridge.subnet, pid)
    undo.push(() => release(state, lease.address))
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
    const published = await publishPorts(request.ports, bridge, lease.address, { pid, start: processStart(pid) ?? '' })
    undo.push(() => unpublishPorts(published))
    const mounts = request.files ? nameFiles(dir, request.hostname, lease.address) : []
    return { mounts, address: lease.address, detach }
  } catch (error) {
    await detach()
    throw error
  }
}
// #endregion attachNetwork
