/**
 * Chapter 06: the local image store, laid out as Docker's /var/lib/docker is:
 *
 *   image/overlay2/imagedb/content/sha256/<image id>   image configs (a CAS: id = digest)
 *   image/overlay2/layerdb/sha256/<chain id>/          one folder per layer: diff (its
 *                                                      diff ID), parent, cache-id, size
 *   image/overlay2/layerdb/mounts/<container>.json     a running container's hold on a layer
 *   image/overlay2/repositories.json                   tags → image IDs
 *   image/overlay2/distribution/diffid-by-digest/      registry blob digest → diff ID
 *   overlay2/<cache id>/                               the unpacked layer (chapter 05)
 *   blobs/sha256/<digest>                              manifests and layer blobs (chapter 07)
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createLayer, removeLayer } from '#ch/05-layers/driver.ts'
import { blobPath, DigestMismatchError, writeBlob, type Source } from './cas.ts'
import { addImage, allImageIds, allLayers, allTags, hasLayer, imageConfig, imageLayers, layerEntry, readLayer, rememberDiffId, rememberedDiffId, resolveImage, tagImage, tagsOf, untagImage } from '../../lib/image-store.ts'
import { containersUsing, NoSuchImageError, parseImageConfig, storePaths, withTag, type LayerRecord } from '../../lib/image.ts'
import { chainId, chainIds, shortId } from './ids.ts'
import { registerLayer } from '../../lib/layer-register.ts'

export { containersUsing, DEFAULT_ROOT, NoSuchImageError, storePaths, type LayerRecord } from '../../lib/image.ts'

// Given (lib/image-store.ts): reading the layer store (layerEntry, hasLayer, readLayer,
// allLayers), the diff IDs remembered per registry blob, tags (tagImage, untagImage, allTags,
// tagsOf, withTag), allImageIds, imageConfig and imageLayers, resolveImage() (a tag, an ID or
// a prefix to an image ID) and addImage() (the config into the image DB, then its tags).
export { addImage, allImageIds, allLayers, allTags, hasLayer, imageConfig, imageLayers, layerEntry, readLayer, rememberDiffId, rememberedDiffId, resolveImage, tagImage, tagsOf, untagImage, withTag }

// Given (lib/layer-register.ts): registerLayer(), which unpacks one layer tar on top of its
// parent into a fresh overlay2 folder named by a random cache ID and records it in layerdb
// under its chain ID (a layer already stored under that chain ID is kept, the new copy
// removed). `docker rmi` is removeImage() in lib/image-removal.ts, which calls your pruneLayers().
export { registerLayer }

// #region importImage
/**
 * Store an image from its config and a way to read each of its layers (bottom first):
 * layers whose chain ID is already in the store are skipped (unpacked once, shared), the
 * others are registered in order, each checked against its diff ID. Returns the image ID.
 */
export async function importImage(root: string, config: Uint8Array, openLayer: (index: number) => Source, tags: string[] = []): Promise<string> {
  const diffIds = parseImageConfig(config).rootfs.diff_ids
  const chains = chainIds(diffIds)
  // Until the image is recorded, nothing but this import needs the layers it found or made: a
  // prune in another process (an rmi, a failed load) would take them. So the import holds its
  // chain as a container does, moving the hold up as the chain grows, and lets go at the end.
  const holder = `import-${process.pid}-${randomBytes(8).toString('hex')}`
  let release = (): string[] => []
  try {
    for (let i = 0; i < chains.length; i++) {
      if (hasLayer(root, chains[i]!)) {
        try {
          release = holdLayers(root, holder, chains[i]!)
          continue
        } catch (error) {
          if (!(error instanceof LayerGoneError)) throw error // gone meanwhile: unpack it after all
        }
      }
      await registerLayer(root, chains[i - 1] ?? null, openLayer(i), diffIds[i])
      release = holdLayers(root, holder, chains[i]!)
    }
    return await addImage(root, config, tags)
  } finally {
    release()
  }
}
// #endregion importImage

// #region holdLayers
/**
 * Record that `container` stacks its own layers on layer `top` (a chain ID), and so on every
 * layer below it, for as long as this process runs or until the release this returns is called.
 * The hold is on disk, beside the layers, as moby keeps layerdb/mounts/<container>/parent: a
 * prune in another process (another `minidocker rmi`) must see it, and must be able to tell
 * when the process that holds it has died without letting go. The release lets go of the hold,
 * then deletes what it held that nothing else needs, and returns what went.
 *
 * Guarantee, with any number of pruneLayers() running at the same time in other processes on
 * the same store: when holdLayers() returns, every layer from `top` down is stored, and no prune
 * removes one of them before the release. A prune that meets a hold being made either keeps
 * the layers, or holdLayers() throws an Error naming the layer that went and leaves no
 * hold behind. A holder killed at any step leaves nothing that keeps a layer from the next prune.
 */
export function holdLayers(root: string, container: string, top: string): () => string[] {
  const file = holdPath(root, container)
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.tmp-${process.pid}-${startTime(process.pid)}`
  writeFileSync(tmp, JSON.stringify({ Parent: top, Pid: process.pid, Started: startTime(process.pid) }))
  renameSync(tmp, file)
  // A prune takes a layer out of layerdb before it reads the holds: if it read them before this
  // hold appeared, the layer it takes is already missing here.
  const missing = missingLayer(root, top)
  if (missing !== undefined) {
    rmSync(file, { force: true })
    throw new LayerGoneError(missing)
  }
  // the hold goes first: a prune that still saw it would keep the very layers it is to delete
  return () => {
    rmSync(file, { force: true })
    return pruneLayers(root, chainOf(root, top))
  }
}
// #endregion holdLayers

/** A hold that could not be made: a prune was removing one of the layers it was to hold. */
class LayerGoneError extends Error {
  constructor(chain: string) {
    super(`layer ${chain} was removed from the layer store (rmi or prune) while a container was taking hold of it`)
    this.name = 'LayerGoneError'
  }
}

interface Hold { Parent: string; Pid: number; Started?: string }

const holdPath = (root: string, container: string) => join(storePaths(root).layerdb, 'mounts', `${container}.json`)

/** Field 22 of /proc/PID/stat, the process's start time: a PID reused by another process has another. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** Layer `top` and those below it, bottom first (as far as they are still stored). */
function chainOf(root: string, top: string): LayerRecord[] {
  const chain: LayerRecord[] = []
  for (let at = recordOf(root, top); at !== undefined; at = at.parent === undefined ? undefined : recordOf(root, at.parent)) chain.unshift(at)
  return chain
}

/** Layer `chain`'s record, or undefined once it is gone. */
function recordOf(root: string, chain: string): LayerRecord | undefined {
  try {
    return readLayer(root, chain)
  } catch {
    return undefined
  }
}

/** The first layer from `top` down that is not (or no longer) in layerdb, if any. */
function missingLayer(root: string, top: string): string | undefined {
  for (let at: string | undefined = top; at !== undefined; ) {
    const layer = recordOf(root, at)
    if (layer === undefined) return at
    at = layer.parent
  }
  return undefined
}

/**
 * The tops of the holds whose process still runs; the holds whose process is gone are removed,
 * and their tops returned as `stale`: nobody will release them any more. So are the temporary
 * files of holders killed before their rename.
 */
function readHolds(root: string): { live: string[]; stale: string[] } {
  const dir = dirname(holdPath(root, 'x'))
  const holds = { live: [] as string[], stale: [] as string[] }
  if (!existsSync(dir)) return holds
  for (const name of readdirSync(dir)) {
    const half = /\.tmp-(\d+)-(\d+)$/.exec(name)
    if (half !== null && startTime(Number(half[1])) !== half[2]) rmSync(join(dir, name), { force: true })
    if (!name.endsWith('.json')) continue
    let hold: Hold
    try {
      hold = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Hold
    } catch {
      continue // released meanwhile
    }
    if (hold.Started !== undefined && startTime(hold.Pid) === hold.Started) {
      holds.live.push(hold.Parent)
    } else {
      rmSync(join(dir, name), { force: true })
      holds.stale.push(hold.Parent)
    }
  }
  return holds
}

/** Where a layer being pruned waits, out of layerdb's sight, until the prune knows whether it is held. */
// A prune marks what it takes with its PID and start time, as a hold does: a prune killed part
// way leaves its marks, and the next prune tells them from a live prune's and finishes the work.
const me = () => `${process.pid}-${startTime(process.pid)}`
const takenPath = (root: string, chain: string) => `${layerEntry(root, chain)}.pruning-${me()}`
const gonePath = (root: string, chain: string) => `${layerEntry(root, chain)}.gone-${me()}`

function take(root: string, layer: LayerRecord, from = layerEntry(root, layer.chainId)): boolean {
  try {
    renameSync(from, takenPath(root, layer.chainId))
    return true
  } catch (error) {
    if (['ENOENT', 'EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) return false
    throw error
  }
}

function putBack(root: string, layer: LayerRecord): void {
  try {
    renameSync(takenPath(root, layer.chainId), layerEntry(root, layer.chainId))
  } catch (error) {
    if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
    removeLayer(storePaths(root).graph, layer.cacheId)
    rmSync(takenPath(root, layer.chainId), { recursive: true, force: true })
  }
}

/** Delete a layer this prune has taken: past the first rename there is no way back. */
function destroy(root: string, layer: LayerRecord, from = takenPath(root, layer.chainId)): void {
  renameSync(from, gonePath(root, layer.chainId))
  removeLayer(storePaths(root).graph, layer.cacheId)
  rmSync(gonePath(root, layer.chainId), { recursive: true, force: true })
}

/** The record a layerdb folder at `dir` holds. */
function recordIn(dir: string, chain: string): LayerRecord {
  const read = (name: string) => readFileSync(join(dir, name), 'utf8')
  return { chainId: chain, diffId: read('diff'), parent: existsSync(join(dir, 'parent')) ? read('parent') : undefined, cacheId: read('cache-id'), size: Number(read('size')) }
}

/**
 * What dead prunes left: a layer one had taken is taken over (it is decided again, as if this
 * prune had taken it); one it had begun to delete is deleted. Returns the layers taken over.
 */
function takeOver(root: string): LayerRecord[] {
  const dir = join(storePaths(root).layerdb, 'sha256')
  if (!existsSync(dir)) return []
  const adopted: LayerRecord[] = []
  for (const name of readdirSync(dir)) {
    const left = /^([a-f0-9]{64})\.(pruning|gone)-(\d+)-(\d+)$/.exec(name)
    if (left === null || startTime(Number(left[3])) === left[4]) continue
    const chain = `sha256:${left[1]}`
    let layer: LayerRecord
    try {
      layer = recordIn(join(dir, name), chain)
    } catch {
      // killed after the last step of a deletion, or a record another prune just took over
      if (left[2] === 'gone') rmSync(join(dir, name), { recursive: true, force: true })
      continue
    }
    if (left[2] === 'gone') destroy(root, layer, join(dir, name))
    else if (take(root, layer, join(dir, name))) adopted.push(layer)
  }
  return adopted
}

// #region pruneLayers
/**
 * Delete those of `layers` that no image in the store uses and no running container holds:
 * what `rmi` leaves behind, what a load that failed half way added, what a container held
 * after its image went with `rmi -f`; and what the holds of processes that died held. Each goes
 * with its unpacked folder and its layerdb entry, a layer before the one below it. Returns the
 * chain IDs deleted, in the order they went.
 *
 * Guarantee, with holdLayers() and other prunes running at the same time in other processes:
 * a layer a live hold reaches is never deleted, nor one a hold being made will reach once
 * holdLayers() has returned; a layer is deleted whole (folder and entry) by one prune only.
 */
export function pruneLayers(root: string, layers: LayerRecord[]): string[] {
  const stale = readHolds(root).stale
  const images = new Set(allImageIds(root).flatMap((id) => imageLayers(root, id)).map((l) => l.chainId))
  const adopted = takeOver(root)
  const candidates = new Map([...layers, ...stale.flatMap((top) => chainOf(root, top)), ...adopted].map((l) => [l.chainId, l]))
  const taken = [...candidates.values()].filter((l) => !adopted.includes(l) && !images.has(l.chainId) && take(root, l))
  taken.push(...adopted)
  // Only now the holds: one made before a take is seen here, one made after finds its layer gone.
  const held = new Set<string>()
  for (const top of readHolds(root).live) {
    // a layer this prune took is out of layerdb: its record is the one in `candidates`
    const record = (chain: string) => candidates.get(chain) ?? recordOf(root, chain)
    for (let at = record(top); at !== undefined; at = at.parent === undefined ? undefined : record(at.parent)) held.add(at.chainId)
  }
  const keep = (l: LayerRecord) => held.has(l.chainId) || images.has(l.chainId)
  taken.filter(keep).forEach((l) => putBack(root, l))
  let left = taken.filter((l) => !keep(l))
  const gone: LayerRecord[] = []
  while (left.length > 0) {
    // a layer's folder is the lower of those above it: the ones nothing left stacks on go first
    const below = new Set(left.map((l) => l.parent))
    gone.push(...left.filter((l) => !below.has(l.chainId)))
    left = left.filter((l) => below.has(l.chainId))
  }
  for (const layer of gone) destroy(root, layer)
  return gone.map((l) => l.chainId)
}
// #endregion pruneLayers
