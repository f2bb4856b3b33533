/**
 * Chapter 08: address management (IPAM). Each container on the bridge gets an address of the
 * subnet that no other running container has, even when several `minidocker run`s start at the
 * same moment, and gets it back when the container ends, or when the run that held it crashed.
 *
 * The state is one JSON file under minidocker's root (DEFAULT_ROOT/network/ipam.json), changed
 * only while holding a lock file beside it, as libnetwork's ipam keeps its bitmaps in a store
 * and changes them under a lock.
 */
import { readFileSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ContainerError } from '../../lib/errors.ts'

/** An address given to a container, with what it needs to configure its eth0. */
export interface Lease {
  address: string
  /** the subnet's prefix length, e.g. 16 for 172.29.0.0/16 */
  prefix: number
  /** the bridge's address, the container's default route */
  gateway: string
}

/** Who holds an address: a process, named by PID and start time so a reused PID does not count. */
export interface Owner {
  pid: number
  start: string
}

/** ipam.json: address → its owner. */
export type Allocations = Record<string, Owner>

/** The start time of process `pid` (field 22 of /proc/PID/stat), or undefined if it is gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** True while the owner still runs: the same PID with the same start time. */
export function alive(owner: Owner): boolean {
  return processStart(owner.pid) === owner.start
}

/** A dotted quad as a 32-bit number, and back. */
export const toNumber = (address: string): number => address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
export const toAddress = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')

/** The subnet "a.b.c.d/N": its network number and prefix length. */
export function parseSubnet(cidr: string): { network: number; prefix: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr)
  const prefix = Number(match?.[2])
  if (!match || prefix > 30 || match[1]!.split('.').some((o) => Number(o) > 255))
    throw new ContainerError(`invalid subnet "${cidr}": expected a.b.c.d/N with N at most 30`, 125)
  const size = 2 ** (32 - prefix)
  return { network: toNumber(match[1]!) - (toNumber(match[1]!) % size), prefix }
}

// #region withLock
/**
 * Run `fn` while holding the lock `dir/ipam.lock`, so no other process reads or writes the
 * allocations in between. The lock is a file created exclusively, holding its owner; a lock
 * whose owner has died is taken over, so a run killed while holding it blocks nobody.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const lock = join(dir, 'ipam.lock')
  const me = JSON.stringify({ pid: process.pid, start: processStart(process.pid) })
  for (;;) {
    try {
      // 'wx' is O_CREAT|O_EXCL: of all the processes trying at once, exactly one creates it.
      const file = await open(lock, 'wx')
      await file.writeFile(me)
      await file.close()
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = await readFile(lock, 'utf8').catch(() => '')
      // An empty file is a holder between its open and its write: wait for it, it is alive.
      // (Two runs that find the same dead holder at once may both remove it; the lock is held
      // for milliseconds, so that needs a crash and a race in the same instant.)
      if (holder && !alive(JSON.parse(holder) as Owner)) await rm(lock, { force: true })
      else await sleep(5)
    }
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { force: true })
  }
}
// #endregion withLock

async function load(dir: string): Promise<Allocations> {
  const text = await readFile(join(dir, 'ipam.json'), 'utf8').catch(() => '{}')
  return JSON.parse(text) as Allocations
}

/** Replace ipam.json whole (write a temp file, rename it), so a crash never leaves half a file. */
async function save(dir: string, allocations: Allocations): Promise<void> {
  await writeFile(join(dir, 'ipam.json.tmp'), JSON.stringify(allocations, null, 1))
  await rename(join(dir, 'ipam.json.tmp'), join(dir, 'ipam.json'))
}

// #region allocate
/**
 * Give `owner` (a PID) the lowest free address of `subnet`. The subnet's first address names the
 * network, the second is the gateway (the bridge) and the last is the broadcast address: none
 * is ever given out. An address whose owner has died is free again. A full subnet is a
 * ContainerError (125) that says "no free address" and names the subnet.
 */
export async function allocate(dir: string, subnet: string, owner: number): Promise<Lease> {
  const { network, prefix } = parseSubnet(subnet)
  const start = processStart(owner)
  if (start === undefined) throw new ContainerError(`cannot allocate an address for process ${owner}: it is not running`, 125)
  return withLock(dir, async () => {
    const allocations = await load(dir)
    // Reclaim what crashed runs left: their owners are gone, or their PIDs now name another process.
    for (const [address, holder] of Object.entries(allocations)) if (!alive(holder)) delete allocations[address]
    const last = network + 2 ** (32 - prefix) - 1
    for (let n = network + 2; n < last; n++) {
      const address = toAddress(n)
      if (allocations[address]) continue
      allocations[address] = { pid: owner, start }
      await save(dir, allocations)
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
    const allocations = await load(dir)
    delete allocations[address]
    await save(dir, allocations)
  })
}
// #endregion release
