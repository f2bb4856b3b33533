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
import { link, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises'
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
 * allocations in between, and release it after, also when `fn` throws. The lock is a file that
 * exactly one of several processes can create, and that names its owner (an Owner, as JSON)
 * from the moment it exists; a lock whose owner has died, or that names none, is taken over,
 * so a run killed while holding it, whenever that was, blocks nobody. `dir` may not exist yet.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  // TODO(08): make `fn` run while no other process touches the allocations.
  //   1. Node has no flock(). Which file system operations succeed for exactly one of several
  //      processes trying at the same moment, and fail for the others with EEXIST?
  //   2. A lock file that names nobody is taken over (the chapter's "Addresses"). What can
  //      another run see if the file is created first and its owner written after, and what
  //      does a run killed between the two leave? So how must the lock appear?
  //   3. A holder that died is recognised by its PID and start time (Owner, alive): why not
  //      by its PID alone?
  //   4. Several calls of one process may wait at once: nothing they create may share a name.
  //      Nothing but the lock (while held) and ipam.json may remain in `dir` afterwards, even
  //      after runs were killed at any point of withLock: who removes what they left, and how
  //      does it know the run is dead without racing anyone for it?
  //   5. A dead lock is removed through removeDead, never by a plain remove (see its TODO).
  //   Where: man 2 open and man 2 link (ERRORS); libnetwork's ipam takes a lock around
  //   each change of its bitmap. Chapter text: "Addresses", "Two runs, one dead holder".
  throw new NotImplementedError('08-network', 'withLock')
}
// #endregion withLock

// #region removeDead
/**
 * Remove the file `path`, which held `text` when the caller read it, and whose owner `text`
 * names (or would name) is dead. Several runs may call this at once with the same `text`, from
 * other processes or from this one: at most one of them removes the file, and no call removes
 * what another run has put at `path` since. Returns true when this call removed it; false when
 * it did not (another run has, or is at it, or `path` holds something else now): the caller
 * looks again. A run killed at any point of this blocks nobody.
 */
export async function removeDead(path: string, text: string): Promise<boolean> {
  // TODO(08): take a dead lock over without ever removing a live one, and say whether you did.
  //   1. Play "read it, judge it dead, remove it" through with two runs, then again with a
  //      second look just before the remove: whose lock goes? What stays between any look and
  //      the remove that acts on a name?
  //   2. What must hold, whatever the timing: of all the calls given the same dead `text`, at
  //      most one removes it, and none removes a file another run has put at `path` since.
  //   3. A run can be killed right after any change it makes in here: what it leaves may block
  //      nobody for longer than it takes the next run to notice, and must not reopen the race.
  //   4. Calls of one process run at once too: nothing they make may share a name.
  //   Where: man 2 link, man 2 unlink; flock(2) for what a kernel lock spares you.
  //   Chapter text: "Two runs, one dead holder".
  throw new NotImplementedError('08-network', 'removeDead')
}
// #endregion removeDead

// #region allocate
/**
 * Give `owner` (a PID) the lowest free address of `subnet` that a container may have. An
 * address whose owner has died is free again. A full subnet is a ContainerError (125) that
 * says "no free address" and names the subnet.
 */
export async function allocate(dir: string, subnet: string, owner: number): Promise<Lease> {
  // TODO(08): give `owner` the lowest free address of `subnet`, recorded in dir/ipam.json.
  //   1. Which addresses of a subnet may never be given to a container? (parseSubnet and
  //      toAddress do the arithmetic.) The lease carries the prefix and the gateway too.
  //   2. Two runs that both read the file before either writes it pick the same address:
  //      what must span the read, the choice and the write?
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
