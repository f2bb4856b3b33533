/**
 * Chapter 08: address management (IPAM). Each container on the bridge gets an address of the
 * subnet that no other running container has, even when several `minidocker run`s start at the
 * same moment, and gets it back when the container ends, or when the run that held it crashed.
 *
 * The state is one JSON file under minidocker's root (DEFAULT_ROOT/network/ipam.json), changed
 * only while holding a lock file beside it, as libnetwork's ipam keeps its bitmaps in a store
 * and changes them under a lock.
 */
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { alive, loadAllocations, parseSubnet, processStart, saveAllocations, toAddress, type Owner } from '../../lib/net.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

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
