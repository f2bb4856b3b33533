/**
 * Chapter 08: address management (IPAM). Each container on the bridge gets an address of the
 * subnet that no other running container has, even when several `minidocker run`s start at the
 * same moment, and gets it back when the container ends, or when the run that held it crashed.
 *
 * The state is one JSON file under minidocker's root (DEFAULT_ROOT/network/ipam.json), changed
 * only while holding a lock file beside it, as libnetwork's ipam keeps its bitmaps in a store
 * and changes them under a lock.
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { alive, loadAllocations, parseSubnet, processStart, saveAllocations, toAddress, type Owner } from '../../lib/net.ts'
import { ContainerError } from '../../lib/errors.ts'

export { alive, parseSubnet, processStart, toAddress, toNumber, type Allocations, type Owner } from '../../lib/net.ts'

/** An address given to a container, with what it needs to configure its eth0. */
export interface Lease {
  address: string
  /** the subnet's prefix length, e.g. 16 for 172.29.0.0/16 */
  prefix: number
  /** the bridge's address, the container's default route */
  gateway: string
}

// #region withLock
/**
 * Run `fn` while holding the lock `dir/ipam.lock`, so no other process reads or writes the
 * allocations in between, and release it after, also when `fn` throws. The lock is a file that
 * exactly one of several processes can create, and that names its owner (an Owner, as JSON)
 * from the moment it exists; a lock whose owner has died, or that names none, is taken over,
 * so a run killed while holding it, whenever that was, blocks nobody. `dir` may not exist yet.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const lock = join(dir, 'ipam.lock')
  // The owner is written first, to a file of this call's own, then linked in place: link(2)
  // fails with EEXIST for all but one, and the lock is never seen empty.
  const mine = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(mine, JSON.stringify({ pid: process.pid, start: processStart(process.pid) }))
  try {
    for (;;) {
      try {
        await link(mine, lock)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const holder = await readFile(lock, 'utf8').catch(() => undefined)
        // Gone meanwhile (undefined): try again. Empty or not JSON: no holder ever wrote that.
        // (Two runs that find the same dead holder at once may both remove it; the lock is held
        // for milliseconds, so that needs a crash and a race in the same instant.)
        if (holder !== undefined && !liveHolder(holder)) await rm(lock, { force: true })
        else if (holder !== undefined) await sleep(5)
      }
    }
  } finally {
    await rm(mine, { force: true })
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { force: true })
  }
}

/** Whether a lock file's text names an owner that still runs. */
function liveHolder(text: string): boolean {
  try {
    return alive(JSON.parse(text) as Owner)
  } catch {
    return false
  }
}
// #endregion withLock

// #region allocate
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
// #endregion allocate

// #region release
/** Give `address` back, under the lock; releasing an address that is not allocated does nothing. */
export async function release(dir: string, address: string): Promise<void> {
  await withLock(dir, async () => {
    const allocations = await loadAllocations(dir)
    delete allocations[address]
    await saveAllocations(dir, allocations)
  })
}
// #endregion release
