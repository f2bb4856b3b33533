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
  // TODO(05): lay out one layer the way overlay2 does.
  //   1. paths = layerPaths(root, id); refuse an id whose dir already exists, and a parent
  //      whose dir does not.
  //   2. mkdir paths.diff, paths.work and paths.merged (recursive), and root/l.
  //   3. link = shortName(); symlink `../${id}/diff` at root/l/<link>; write it to <dir>/link.
  //   4. With a parent: lower = `l/<parent's link>`, followed by ":" and the parent's own lower
  //      file when it has one (nearest parent first). Write it to <dir>/lower.
  //   5. Return paths.
  throw new NotImplementedError('05-layers', 'createLayer')
}
// #endregion createLayer

// #region overlayDirs
/** The overlay mount for layer `id`: its parents (from its lower file) under its own diff. */
export function overlayDirs(root: string, id: string): OverlayDirs {
  // TODO(05): turn a layer's lower file into mount directories.
  //   1. Read <dir>/lower (a layer without one has no parents: throw an Error).
  //   2. Split it at ":" and join each "l/XYZ" onto root: those are the lower dirs, in order.
  //   3. upper is the layer's diff, work its work dir.
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
