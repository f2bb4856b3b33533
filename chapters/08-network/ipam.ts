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
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

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
  // TODO(08): make `fn` run while no other process touches the allocations.
  //   1. Node has no flock(). Which open(2) flags make creating a file succeed for exactly one
  //      of several processes trying at the same moment? (Node's open flags: the "x" ones.)
  //   2. The lock file is dir/ipam.lock and holds its owner, JSON {pid, start} (see Owner and
  //      processStart): a run killed while holding it must not block every later run forever.
  //      An empty lock file is a holder between its open and its write: that one is alive.
  //   3. Create dir if it is missing; release the lock even when `fn` throws.
  //   Where: man 2 open (O_EXCL); libnetwork's ipam takes a lock around each change of its
  //   bitmap (ipam/allocator.go). Chapter text: "Addresses".
  throw new NotImplementedError('08-network', 'withLock')
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
  // TODO(08): give `owner` the lowest free address of `subnet`, recorded in dir/ipam.json.
  //   1. Which addresses of a subnet may never be given to a container? (parseSubnet and
  //      toAddress do the arithmetic.) The lease carries the prefix and the gateway too.
  //   2. Read, choose and write inside one withLock: what happens when two runs read the
  //      file before either writes it?
  //   3. A run that crashed never released its address. How does the record tell a dead owner
  //      from a live one, even when the PID has been reused? (Owner, alive.)
  //   4. A full subnet is a ContainerError (125) whose message says "no free address" and
  //      names the subnet. An owner that is not running gets no address.
  //   Where: libnetwork ipam's RequestAddress; man 5 proc (/proc/PID/stat, starttime).
  //   Chapter text: "Addresses".
  throw new NotImplementedError('08-network', 'allocate')
}
// #endregion allocate

// #region release
/** Give `address` back, under the lock; releasing an address that is not allocated does nothing. */
export async function release(dir: string, address: string): Promise<void> {
  // TODO(08): give `address` back, under the same lock as allocate; releasing an address
  //   that is not allocated is no error.
  //   1. Why does a release need the lock at all, when it only removes one entry?
  //   Where: libnetwork ipam's ReleaseAddress. Chapter text: "Addresses".
  throw new NotImplementedError('08-network', 'release')
}
// #endregion release
