/**
 * Chapter 05: the overlay2 graph driver's layout, as /var/lib/docker/overlay2 holds it.
 *
 *   <root>/<id>/diff     the layer's own files (an image layer's unpacked tar, or a
 *                        container's writable layer)
 *   <root>/<id>/link     a short name (why: the chapter text's "A deep image")
 *   <root>/<id>/lower    the layers below it (a layer with a parent only)
 *   <root>/<id>/work     overlayfs's work dir for when this layer is the upper one
 *   <root>/<id>/merged   where the union is mounted
 *   <root>/l/            the short names, each leading to its layer's diff
 *
 * The exact form of link, lower and l/ is moby's (daemon/graphdriver/overlay2/overlay.go:
 * create, getLower, lowerFile, linkDir).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { layerPaths, shortName, type LayerPaths } from '../../lib/overlay2.ts'
import type { OverlayDirs } from './overlay.ts'

// Given (lib/overlay2.ts): layerPaths(root, id), a layer's dir, diff, work and merged folders,
// and shortName(), a random link name like Docker's.
export { layerPaths, type LayerPaths }

// #region createLayer
/**
 * Create layer `id` on top of `parent` (none for a base layer): its diff, work and merged
 * folders, its short link, its link file and, with a parent, its lower file. dockerd reads link
 * and lower back as they are, without asking anyone else, so they must hold exactly what moby's
 * overlay2 writes there; and a layer of a deep image must still mount from its lower file.
 */
export function createLayer(root: string, id: string, parent?: string): LayerPaths {
  const paths = layerPaths(root, id)
  if (existsSync(paths.dir)) throw new Error(`layer ${id} already exists`)
  let lower = ''
  if (parent !== undefined) {
    const parentDir = layerPaths(root, parent).dir
    if (!existsSync(parentDir)) throw new Error(`parent layer ${parent} does not exist`)
    const parentLink = readFileSync(join(parentDir, 'link'), 'utf8')
    const parentLower = existsSync(join(parentDir, 'lower')) ? readFileSync(join(parentDir, 'lower'), 'utf8') : ''
    lower = parentLower ? `l/${parentLink}:${parentLower}` : `l/${parentLink}`
  }
  // As moby's create: a layer that could not be made whole is not left half-made.
  const link = shortName()
  try {
    for (const dir of [paths.diff, paths.work, paths.merged]) mkdirSync(dir, { recursive: true })
    // The diff folder's mode is the container's "/" when this layer is the upper one: set, not
    // left to the umask of whoever runs us (dockerd sets its own, 022, as it starts).
    chmodSync(paths.diff, 0o755)
    mkdirSync(join(root, 'l'), { recursive: true })
    symlinkSync(`../${id}/diff`, join(root, 'l', link))
    writeFileSync(join(paths.dir, 'link'), link)
    if (lower) writeFileSync(join(paths.dir, 'lower'), lower)
  } catch (error) {
    rmSync(join(root, 'l', link), { force: true })
    rmSync(paths.dir, { recursive: true, force: true })
    throw error
  }
  return paths
}
// #endregion createLayer

// #region overlayDirs
/**
 * The overlay mount for layer `id`: its parents (from its lower file) under its own diff, every
 * directory an absolute path, the lower ones no longer than the lower file makes them
 * (mountOverlay may have to name a deep image's directories in a shorter form still).
 */
export function overlayDirs(root: string, id: string): OverlayDirs {
  const paths = layerPaths(root, id)
  const lowerFile = join(paths.dir, 'lower')
  if (!existsSync(lowerFile)) throw new Error(`layer ${id} has no parent layers to mount under it`)
  const entries = readFileSync(lowerFile, 'utf8').split(':')
  // Each entry must be one short link of l/: an empty file (cut short by a crash) splits into
  // one empty entry, and join(root, '') is the driver's root itself, which the kernel would
  // mount as the container's lowest layer without a word.
  const bad = entries.find((entry) => !/^l\/[A-Za-z0-9]+$/.test(entry))
  if (bad !== undefined) throw new Error(`layer ${id}'s lower file names ${JSON.stringify(bad)}, which is no short link under ${join(root, 'l')}`)
  // A file cut after a whole name is made of good links all the same, and the kernel would mount
  // the layers it names without the ones below: only a base layer (no lower file of its own) ends
  // a whole chain.
  const last = entries.at(-1)!
  const below = (() => { try { return join(root, 'l', readlinkSync(join(root, last)), '..') } catch { return undefined } })()
  if (below === undefined || existsSync(join(below, 'lower')))
    throw new Error(`layer ${id}'s lower file ends at ${last}, which is ${below === undefined ? 'no layer' : 'not a base layer'}: the file is not whole`)
  const lower = entries.map((link) => join(root, link))
  return { lower, upper: paths.diff, work: paths.work }
}
// #endregion overlayDirs

/** Remove layer `id` and its short link. The caller makes sure nothing has it mounted. */
export function removeLayer(root: string, id: string): void {
  const { dir } = layerPaths(root, id)
  const linkFile = join(dir, 'link')
  if (existsSync(linkFile)) rmSync(join(root, 'l', readFileSync(linkFile, 'utf8')), { force: true })
  rmSync(dir, { recursive: true, force: true })
}
