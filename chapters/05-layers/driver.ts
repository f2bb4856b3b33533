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
 * folders, its short link, its link file and, with a parent, its lower file. dockerd reads link
 * and lower back as they are, without asking anyone else, so they must hold exactly what moby's
 * overlay2 writes there; and a layer of a deep image must still mount from its lower file.
 */
export function createLayer(root: string, id: string, parent?: string): LayerPaths {
  // TODO(05): lay out one layer as overlay2 does (the comment at the top of this file).
  //   1. Refuse an id that exists already and a parent that does not, with an Error naming it.
  //      And when something fails half-way: what is left for the next try, and for a dockerd
  //      that reads the root (moby's overlay2, create)?
  //   2. Each layer also gets a short random name (shortName) that leads to its diff from root/l/:
  //      the chapter text's "A deep image" asks what it is for.
  //   3. The lower file must let a layer be mounted without asking anyone about its ancestry: so
  //      which layers must it name, in which order, and where can you find them without walking
  //      the chain yourself? A base layer has none. moby's daemon/graphdriver/overlay2/overlay.go
  //      (create, getLower); a Docker host's /var/lib/docker/overlay2/*/lower.
  //   4. Which of the folders you make does a container see, and with which mode, whichever
  //      process calls you?
  throw new NotImplementedError('05-layers', 'createLayer')
}
// #endregion createLayer

// #region overlayDirs
/**
 * The overlay mount for layer `id`: its parents (from its lower file) under its own diff, every
 * directory an absolute path, the lower ones no longer than the lower file makes them
 * (mountOverlay may have to name a deep image's directories in a shorter form still).
 */
export function overlayDirs(root: string, id: string): OverlayDirs {
  // TODO(05): the overlay mount of layer `id`, from its own files alone.
  //   1. Its lower file is createLayer's: read it as moby's overlay2 does when it mounts (overlay.go, Get).
  //      Is what you read one? A file cut short by a crash is read as it stands, and the kernel
  //      mounts whatever directory each entry comes to: is the file you read the whole chain?
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
