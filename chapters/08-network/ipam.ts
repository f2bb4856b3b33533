/**
 * Chapter 08: the lock around address management (IPAM). Each container on the bridge gets an
 * address of the subnet that no other running container has, even when several `minidocker run`s
 * start at the same moment, and gets it back when the container ends, or when the run that held
 * it crashed (given: lib/addresses.ts).
 *
 * The state is one JSON file under minidocker's root (DEFAULT_ROOT/network/ipam.json), changed
 * only while holding a lock file beside it, as libnetwork's ipam keeps its bitmaps in a store
 * and changes them under a lock. Node has no flock(): the lock is made of files.
 */
import { NotImplementedError } from '../../lib/errors.ts'

// #region withLock
/**
 * Run `fn` while holding the lock `dir/ipam.lock`, so no other process reads or writes the
 * allocations in between, and release it after, also when `fn` throws. The lock names its owner
 * (an Owner of lib/net.ts, as JSON); a lock whose owner has died, or that names none, is taken
 * over, so a run killed while holding it, whenever that was, blocks nobody. `dir` may not exist
 * yet.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  // TODO(08): make `fn` run while no other process touches the allocations.
  //   1. Node has no flock(). Which file system operations succeed for exactly one of several
  //      processes trying at the same moment, and fail for the others?
  //   2. A lock that names nobody is taken over (the chapter's "Addresses"). What can another
  //      run see of your lock while you make it, and what does a run killed half-way leave?
  //   3. How is a holder that died told from one that runs? PIDs are reused, and /proc shows
  //      more than running processes.
  //   4. Several calls of one process may wait at once. Nothing but the lock (while held) and
  //      ipam.json may remain in `dir` afterwards, even after runs were killed at any point
  //      of withLock: who removes what they left, and how does it know whose it was?
  //   5. Taking a dead lock over is removeDead's question: what must be true of the file a
  //      run removes?
  //   Where: man 2 open and man 2 link (ERRORS), man 5 proc; libnetwork's ipam takes a lock
  //   around each change of its bitmap. Chapter text: "Addresses", "Two runs, one dead holder".
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
  //   4. Calls of one process run at once too, and two dead files may look alike.
  //   Where: man 2 link, man 2 unlink; flock(2) for what a kernel lock spares you.
  //   Chapter text: "Two runs, one dead holder".
  throw new NotImplementedError('08-network', 'removeDead')
}
// #endregion removeDead
