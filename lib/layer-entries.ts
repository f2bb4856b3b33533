/**
 * Given for chapter 06: reading a layer entry's name the aufs way, and giving an entry its
 * extended attributes and time once it is written. applyLayer() (chapter 06, unpack.ts) calls
 * both; the directories' times it collects are applyLayer()'s to set.
 */
import { lutimesSync } from 'node:fs'
import { relative } from 'node:path'
import type { Header } from 'tar-stream'
import { UnsafeLayerError } from './errors.ts'
import { xattrsOf } from './image.ts'
import type { Helper } from '../native/helper.ts'

/** aufs's whiteout prefix, used by every layer tar: ".wh.NAME" deletes NAME. */
export const WHITEOUT_PREFIX = '.wh.'
/** aufs's opaque marker: this directory hides everything below it. */
export const OPAQUE_MARKER = '.wh..wh..opq'

/** What an aufs-style name in a layer tar asks for. */
export type AufsMarker = { kind: 'opaque'; dir: string } | { kind: 'whiteout'; path: string }

/**
 * Read an entry name the aufs way: "DIR/.wh..wh..opq" makes DIR opaque, "DIR/.wh.NAME"
 * deletes DIR/NAME, anything else is an ordinary entry (undefined). The names returned are
 * still tar names, to be resolved with resolveInside(); a whiteout of "", "." or ".." would
 * delete the directory itself or its parent and is refused with an UnsafeLayerError that says
 * "whiteout".
 */
export function aufsMarker(name: string): AufsMarker | undefined {
  const trimmed = name.replace(/\/+$/, '')
  const slash = trimmed.lastIndexOf('/')
  const dir = slash < 0 ? '.' : trimmed.slice(0, slash)
  const base = trimmed.slice(slash + 1)
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir }
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined
  const hidden = base.slice(WHITEOUT_PREFIX.length)
  if (hidden === '' || hidden === '.' || hidden === '..') throw new UnsafeLayerError(`refusing whiteout "${name}": it names no file`)
  return { kind: 'whiteout', path: `${dir}/${hidden}` }
}

/** Directories whose times wait for the layer's last entry: path relative to the layer's root → the header's mtime. */
export type DirTimes = Map<string, Date>

/**
 * Give the entry writeEntry() has just made at `path` (inside the layer at `root`) what its
 * header says beyond owner and mode: its extended attributes, as xattrsOf(header) gives them,
 * and its modification time, both on the entry itself, never on what a symlink points to. A
 * directory's time is not final while entries are still written into it: it goes into
 * `dirTimes`, for applyLayer() to set once nothing more is written in the layer. A hard link
 * has nothing of its own to set. A refused xattr fails the layer with the syscall's error, unless the file system has no xattrs at all.
 */
export async function restoreMetadata(root: string, path: string, header: Header, helper: () => Helper, dirTimes: DirTimes): Promise<void> {
  if (header.type === 'link') return
  // after writeEntry's lchown: chown(2) drops security.capability, as writing the file would
  for (const [name, value] of xattrsOf(header)) {
    try {
      await helper().setxattrBytes(path, name, value)
    } catch (error) {
      if ((error as { code?: string }).code !== 'EOPNOTSUPP') throw error
    }
  }
  if (header.type === 'directory') dirTimes.set(relative(root, path), header.mtime)
  else lutimesSync(path, header.mtime, header.mtime)
}
