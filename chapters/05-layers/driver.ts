/**
 * Chapter 05: the overlay2 graph driver's layout, as /var/lib/docker/overlay2 holds it.
 *
 *   <root>/<id>/diff     the layer's own files (an image layer's unpacked tar, or a
 *                        container's writable layer)
 *   <root>/<id>/link     a short name (why: the chapter text's "A deep image")
 *   <root>/<id>/lower    the layers below it, by short name, as a mount's lowerdir wants them
 *   <root>/<id>/work     overlayfs's work dir for when this layer is the upper one
 *   <root>/<id>/merged   where the union is mounted
 *   <root>/l/<LINK>      symlink to ../<id>/diff
 *
 * Check your work with `npx workbook check 5`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NotImplementedError } from '../../lib/errors.ts'
import { layerPaths, shortName, type LayerPaths } from '../../lib/overlay2.ts'
import type { OverlayDirs } from './overlay.ts'

// Given (lib/overlay2.ts): layerPaths(root, id), a layer's dir, diff, work and merged folders,
// and shortName(), a random link name like Docker's.
export { layerPaths, type LayerPaths }

// #region createLayer
/**
 * Create layer `id` on top of `parent` (none for a base layer): its diff, work and merged
 * folders, its short link, its link file and, with a parent, its lower file. link holds the
 * bare short name, lower each layer as `l/<short name>` (relative to root); Docker reads both
 * back byte for byte, so neither ends with a newline.
 */
export function createLayer(root: string, id: string, parent?: string): LayerPaths {
  // TODO(05): lay out one layer as overlay2 does (the comment at the top of this file).
  //   1. Refuse an id that exists already and a parent that does not, with an Error naming it.
  //   2. Each layer also gets a short random name (shortName) that leads to its diff from root/l/:
  //      the chapter text's "A deep image" asks what it is for.
  //   3. The lower file must let a layer be mounted without asking anyone about its ancestry: so
  //      which layers must it name, in which order, and where can you find them without walking
  //      the chain yourself? A base layer has none. moby's daemon/graphdriver/overlay2/overlay.go
  //      (create, getLower); a Docker host's /var/lib/docker/overlay2/*/lower.
  throw new NotImplementedError('05-layers', 'createLayer')
}
// #endregion createLayer

// #region overlayDirs
/**
 * The overlay mount for layer `id`: its parents (from its lower file) under its own diff, every
 * directory an absolute path, each lower one by its short link under root/l (mountOverlay may
 * have to name them in a shorter form, and a link's name is short where a layer id is not).
 */
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
