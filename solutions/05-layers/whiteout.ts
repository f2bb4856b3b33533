/**
 * Chapter 05: how a layer says "deleted". overlayfs marks a deleted name with a whiteout and
 * a directory whose lower contents must not show through as opaque (the kernel's
 * Documentation/filesystems/overlayfs.rst). aufs said the same with `.wh.NAME` and
 * `.wh..wh..opq` files; chapter 06 converts those when it applies a layer.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import type { Helper } from '../../native/helper.ts'
import { isOpaque, makeOpaque, makeWhiteout } from '../../lib/overlay-marks.ts'
import type { OverlayDirs } from './overlay.ts'

// Given (lib/overlay-marks.ts): overlayfs's two marks, made and read by the helper.
export { isOpaque, makeOpaque, makeWhiteout }

/** One line of `docker diff`: A added, C changed, D deleted. */
export interface Change {
  kind: 'A' | 'C' | 'D'
  /** absolute inside the container, e.g. "/etc/hosts" */
  path: string
}

// #region changes
/**
 * What a container changed, read from its upper layer alone, as `docker diff` lists it: D for
 * a deleted name, C for a name the lower layers show, A for one they do not. The lower layers
 * are an image's, with the marks its layers left (chapter 06 writes them): what they show is
 * what the kernel shows of them stacked alone. Paths start with "/"; sorted by path, each path
 * once.
 */
export async function changes(helper: Helper, dirs: OverlayDirs): Promise<Change[]> {
  const isWhiteout = (stats: Stats) => stats.isCharacterDevice() && stats.rdev === 0
  // Does the union of the lower layers alone show `rel`? Ask the layers from the top down, as
  // the kernel does: a whiteout on the way hides the path, an opaque directory or a non-directory
  // on the way hides every layer below the one that holds it.
  const inLower = async (rel: string): Promise<boolean> => {
    const names = rel.split('/').filter(Boolean)
    for (const layer of dirs.lower) {
      let below = true
      let path = layer
      for (const [i, name] of names.entries()) {
        path = join(path, name)
        const stats = lstatSync(path, { throwIfNoEntry: false })
        if (!stats) break
        if (isWhiteout(stats)) return false
        if (i === names.length - 1) return true
        if (!stats.isDirectory()) return false
        if (await isOpaque(helper, path)) below = false
      }
      if (!below) return false
    }
    return false
  }
  const found: Change[] = []
  const walk = async (rel: string, lowerShows: boolean): Promise<void> => {
    for (const name of readdirSync(join(dirs.upper, rel))) {
      const child = join(rel, name)
      const stats = lstatSync(join(dirs.upper, child))
      const below = lowerShows && (await inLower(child))
      if (isWhiteout(stats)) {
        found.push({ kind: 'D', path: child })
      } else if (stats.isDirectory() && (await isOpaque(helper, join(dirs.upper, child)))) {
        found.push({ kind: below ? 'D' : 'A', path: child })
        await walk(child, false)
      } else {
        found.push({ kind: below ? 'C' : 'A', path: child })
        if (stats.isDirectory()) await walk(child, lowerShows)
      }
    }
  }
  await walk('/', true)
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
// #endregion changes
