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
import { createHash, randomBytes } from 'node:crypto'
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { alive, processStart, type Owner } from '../../lib/net.ts'

// #region withLock
/** ipam.lock's name, the prefix of each call's own file (its run's PID and start time follow), and of a claim. */
const LOCK = 'ipam.lock'
const OWN = 'ipam.lock.'
const CLAIM = 'ipam.claim.'

/**
 * Run `fn` while holding the lock `dir/ipam.lock`, so no other process reads or writes the
 * allocations in between, and release it after, also when `fn` throws. The lock is a file that
 * exactly one of several processes can create, and that names its owner (an Owner, as JSON)
 * from the moment it exists; a lock whose owner has died, or that names none, is taken over,
 * so a run killed while holding it, whenever that was, blocks nobody. `dir` may not exist yet.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const lock = join(dir, LOCK)
  // This call's identity, in a file of its own first, then linked in place: link(2) fails with
  // EEXIST for all but one, and the lock is never seen without its owner.
  const mine = await ownFile(dir)
  let held = false
  try {
    while (!held) {
      try {
        await link(mine, lock)
        held = true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const holder = await readFile(lock, 'utf8').catch(() => undefined)
        // Gone meanwhile (undefined): try again. Empty or not JSON: no holder ever wrote that.
        if (holder === undefined) continue
        if (liveHolder(holder)) await sleep(5)
        else await removeDead(lock, holder)
      }
    }
    await sweep(dir)
    return await fn()
  } finally {
    if (held) await rm(lock, { force: true })
    await rm(mine, { force: true })
  }
}

/**
 * A new file in `dir` that names this process (its PID and start time, in the name and as JSON
 * inside) and this call (a nonce): no two calls anywhere make the same name or the same content,
 * so a dead holder's lock is never mistaken for a later one.
 */
async function ownFile(dir: string): Promise<string> {
  const start = processStart(process.pid)!
  const nonce = randomBytes(8).toString('hex')
  const path = join(dir, `${OWN}${process.pid}.${start}.${nonce}`)
  await writeFile(path, JSON.stringify({ pid: process.pid, start, nonce }))
  return path
}

/** Whether a lock file's text names an owner that still runs. */
function liveHolder(text: string): boolean {
  try {
    return alive(JSON.parse(text) as Owner)
  } catch {
    return false
  }
}

/** Remove what runs killed inside withLock left in `dir`: their own files and their claims. */
async function sweep(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name)
    if (name.startsWith(OWN)) {
      // Its name says whose it is, and no name is made twice: a dead run's file is nobody's to race for.
      const [pid, start] = name.slice(OWN.length).split('.')
      if (!alive({ pid: Number(pid), start: start! })) await rm(path, { force: true })
    } else if (name.startsWith(CLAIM)) {
      const claimant = await readFile(path, 'utf8').catch(() => undefined)
      if (claimant !== undefined && !liveHolder(claimant)) await removeDead(path, claimant)
    }
  }
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
  // The right to remove it: a claim named by what the dead file holds, so every run that read
  // that same content races for this one name, and a later dead file gets another.
  const claim = join(dirname(path), CLAIM + createHash('sha256').update(text).digest('hex').slice(0, 32))
  // The claim names its claimant from the moment it exists, as the lock names its holder.
  const me = await ownFile(dirname(path))
  try {
    await link(me, claim)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const claimant = await readFile(claim, 'utf8').catch(() => undefined)
    // A claimant that died holding its claim left a dead file like any other: remove it so too.
    if (claimant !== undefined && !liveHolder(claimant)) await removeDead(claim, claimant)
    else await sleep(1)
    return false
  } finally {
    await rm(me, { force: true })
  }
  try {
    // Only a claimant removes a dead file, and the claim is ours: if `path` still holds `text`, it
    // is the dead file, not a live lock that replaced it (every lock's content is unique).
    if ((await readFile(path, 'utf8').catch(() => undefined)) !== text) return false
    await rm(path, { force: true })
    return true
  } finally {
    await rm(claim, { force: true })
  }
}
// #endregion removeDead
