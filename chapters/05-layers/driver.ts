/**
 * Chapter 05: the overlay2 graph driver's layout, as /var/lib/docker/overlay2 holds it.
 *
 *   <root>/<id>/diff     the layer's own files (an image layer's unpacked tar, or a
 *                        container's writable layer)
 *   <root>/<id>/link     a short name, so that a mount's data fits in one page
 *   <root>/<id>/lower    the parents' short names, "l/ABC:l/DEF", nearest parent first
 *   <root>/<id>/work     overlayfs's work dir for when this layer is the upper one
 *   <root>/<id>/merged   where the union is mounted
 *   <root>/l/<LINK>      symlink to ../<id>/diff
 *
 * Check your work with `npx workbook check 5`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { OverlayDirs } from './overlay.ts'

/** The folders of one layer, by the driver's names. */
export interface LayerPaths {
  dir: string
  diff: string
  work: string
  merged: string
}

export function layerPaths(root: string, id: string): LayerPaths {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new Error(`invalid layer id: "${id}"`)
  const dir = join(root, id)
  return { dir, diff: join(dir, 'diff'), work: join(dir, 'work'), merged: join(dir, 'merged') }
}

/** A short, random link name: 26 upper-case letters and digits, like Docker's. */
function shortName(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('')
}

// #region createLayer
/**
 * Create layer `id` on top of `parent` (none for a base layer): its diff, work and merged
 * folders, its link, and its lower file, which names the parent's link followed by the
 * parent's own lower file, so the whole chain is written down in every layer.
 */
export function createLayer(root: string, id: string, parent?: string): LayerPaths {
  // TODO(05): lay out one layer as overlay2 does (the comment at the top of this file).
  //   1. Refuse an id that exists already and a parent that does not, with an Error naming it.
  //   2. Each layer gets a short random name (shortName) that leads to its diff from root/l/: mount
  //      options then name l/XYZ instead of long paths, so a deep image fits in one page.
  //   3. The lower file must let a layer be mounted without asking anyone about its ancestry: so
  //      what must it hold, in which order? A base layer has none. moby's
  //      daemon/graphdriver/overlay2/overlay.go (create, getLower).
  throw new NotImplementedError('05-layers', 'createLayer')
}
// #endregion createLayer

// #region overlayDirs
/** The overlay mount for layer `id`: its parents (from its lower file) under its own diff. */
export function overlayDirs(root: string, id: string): OverlayDirs {
  // TODO(05): the overlay mount of layer `id`, from its own files alone.
  //   1. Its lower file lists short names relative to root, already in the order a mount wants.
  //   2. A layer without parents cannot be mounted as a union: an Error.
  //   3. Upper and work come from the layer's own folder (layerPaths): overlayfs wants the work
  //      dir empty and on the same filesystem as the upper dir, which is why both live there.
  throw new NotImplementedError('05-layers', 'overlayDirs')
}
// #endregion overlayDirs

/** Remove layer `id` and its short link. The caller makes sure nothing has it mounted. */
export function removeLayer(root: string, id: string): void {
  const { dir } = layerPaths(root, id)
  const linkFile = join(dir, 'link')
  if (existsSync(linkFile)) rmSync(join(root, 'l', readFileSync(linkFile, 'utf8')), { force: true })
  rmSync(dir, { recursive: true, force: true })
}
