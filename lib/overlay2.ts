/**
 * Chapter 05's given pieces of the overlay2 layout, which the starter and the reference share:
 * the folders of one layer under the driver's root, and the short link names.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

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
export function shortName(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('')
}
