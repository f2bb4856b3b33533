/**
 * Chapter 06: applying a layer tar to a directory, safely.
 *
 * A layer comes from someone else. Unpacking is where container runtimes have had their
 * worst bugs: a tar entry named "../../etc/cron.d/x", an absolute path, or a symlink
 * "a -> /etc" followed by an entry "a/passwd" writes outside the layer, as root. Every path
 * is therefore resolved here by hand, one component at a time, before anything is written.
 */
import { createHash } from 'node:crypto'
import { chmodSync, createWriteStream, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Header } from 'tar-stream'
import { makeOpaque, makeWhiteout } from '#ch/05-layers/whiteout.ts'
import { layerExtract, layerTar } from '../../lib/image.ts'
import { aufsMarker, OPAQUE_MARKER, restoreMetadata, WHITEOUT_PREFIX, type AufsMarker, type DirTimes } from '../../lib/layer-entries.ts'
import { Helper } from '../../native/helper.ts'
import type { Source } from './cas.ts'
import { UnsafeLayerError } from '../../lib/errors.ts'

/** A tar entry that would write outside the layer, or cannot be applied at all (lib/errors.ts). */
export { UnsafeLayerError }

// Given (lib/layer-entries.ts): aufsMarker(), which reads an entry name the aufs way (an opaque
// marker, a whiteout, or an ordinary entry), and restoreMetadata(), which gives an entry written
// by writeEntry() its xattrs and time, and keeps a directory's time in a DirTimes map for later.
export { aufsMarker, OPAQUE_MARKER, restoreMetadata, WHITEOUT_PREFIX, type AufsMarker, type DirTimes }

/** The most symlinks followed while resolving one path, as the kernel's ELOOP limit. */
const MAX_SYMLINKS = 40

// #region resolveInside
/**
 * The host path where tar entry `name` goes inside `root`: where the kernel will find it by
 * that name once the layer is mounted. Refuses an absolute name, a ".." component, and a name
 * whose parent directories lead outside `root` through a symlink. A refusal is an
 * UnsafeLayerError that quotes the name, then gives the reason in words the tests look for:
 * "absolute", "..", or for a link that leads out `symlink "LINK" -> "TARGET"`.
 */
export function resolveInside(root: string, name: string): string {
  if (name.startsWith('/')) throw new UnsafeLayerError(`refusing "${name}": an absolute path in a layer`)
  const parts = name.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw new UnsafeLayerError(`refusing "${name}": ".." would climb out of the layer`)
  if (parts.length === 0) return root
  let done: string[] = []
  // each component still to walk, with the symlink whose target brought it in (a ".." can only
  // come from one: the name's own are refused above)
  let todo: { part: string; via?: { link: string; target: string } }[] = parts.slice(0, -1).map((part) => ({ part }))
  const outside = (via: { link: string; target: string }) =>
    new UnsafeLayerError(`refusing "${name}": it would be written through symlink "${via.link}" -> "${via.target}", which points outside the layer`)
  for (let hops = 0; todo.length > 0; ) {
    const { part, via } = todo.shift()!
    if (part === '..') {
      // `done` holds no symlink, so its last directory's parent is the one before it, as the kernel sees it
      if (done.length === 0) throw outside(via!)
      done.pop()
      continue
    }
    const here = join(root, ...done, part)
    if (!lstatSync(here, { throwIfNoEntry: false })?.isSymbolicLink()) {
      done.push(part)
      continue
    }
    if (++hops > MAX_SYMLINKS) throw new UnsafeLayerError(`refusing "${name}": too many levels of symlinks`)
    const link = { link: [...done, part].join('/'), target: readlinkSync(here) }
    if (link.target.startsWith('/')) throw outside(link)
    // the target is walked from the link's own directory, component by component: a ".." in it
    // leaves the directory a symlink before it led to, not the one its text names
    todo = [...link.target.split('/').filter((p) => p !== '' && p !== '.').map((p) => ({ part: p, via: link })), ...todo]
  }
  return join(root, ...done, parts.at(-1)!)
}
// #endregion resolveInside

/** Which helper makes device nodes and whiteouts (started on first use). */
export type HelperFor = () => Helper

// #region writeEntry
/**
 * Write one ordinary tar entry at `path` (already resolved inside the layer), replacing what
 * is there unless both are directories: a directory, a file with the bytes of `content`, a
 * symlink (its target is stored as it is: it is only dangerous when written through, which
 * resolveInside() refuses), a hard link to an earlier entry of this layer, a device or a
 * fifo. Owner and mode come from the header (its times and xattrs: restoreMetadata()). A hard
 * link to a target that escapes or is not there is an UnsafeLayerError quoting the link's own
 * name (header.name), then its target. The layer's root itself comes as an entry too (".", "./"
 * or ""): one refused there is an UnsafeLayerError quoting its name. Any other entry type is
 * refused, never dropped without a word (an UnsafeLayerError quoting the entry's name and
 * saying "unknown entry type").
 */
export async function writeEntry(root: string, path: string, header: Header, content: AsyncIterable<Uint8Array>, helper: HelperFor): Promise<void> {
  if (path === root && header.type !== 'directory')
    throw new UnsafeLayerError(`refusing ${JSON.stringify(header.name)}: the layer's root must be a directory, not a ${header.type ?? 'entry of unknown type'}`)
  mkdirSync(dirname(path), { recursive: true })
  const existing = lstatSync(path, { throwIfNoEntry: false })
  if (existing && !(existing.isDirectory() && header.type === 'directory')) rmSync(path, { recursive: true, force: true })
  switch (header.type) {
    case 'directory':
      mkdirSync(path, { recursive: true })
      break
    case 'file':
    case 'contiguous-file':
      await pipeline(content, createWriteStream(path, { flags: 'wx', mode: header.mode }))
      break
    case 'symlink':
      symlinkSync(header.linkname, path)
      break
    case 'link': {
      let target: string
      try {
        target = resolveInside(root, header.linkname)
      } catch (error) {
        throw new UnsafeLayerError(`refusing hard link "${header.name}" -> "${header.linkname}": ${(error as Error).message}`)
      }
      if (!lstatSync(target, { throwIfNoEntry: false }))
        throw new UnsafeLayerError(`refusing hard link "${header.name}": its target "${header.linkname}" is not in this layer`)
      linkSync(target, path)
      return
    }
    case 'character-device':
    case 'block-device':
      await helper().mknod(path, header.type === 'character-device' ? 'c' : 'b', header.mode, header.devmajor, header.devminor)
      break
    case 'fifo':
      await helper().mknod(path, 'p', header.mode, 0, 0)
      break
    default:
      throw new UnsafeLayerError(`refusing ${JSON.stringify(header.name)}: unknown entry type${header.type ? ` "${header.type}"` : ''}`)
  }
  lchownSync(path, header.uid, header.gid)
  if (header.type !== 'symlink') chmodSync(path, header.mode)
}
// #endregion writeEntry

/** Is `path` (relative to `root`) a directory whose every component, itself included, is a directory and not a symlink? */
function plainDirectory(root: string, path: string): boolean {
  let at = root
  for (const part of path.split('/').filter((p) => p !== '')) {
    at = join(at, part)
    if (!lstatSync(at, { throwIfNoEntry: false })?.isDirectory()) return false
  }
  return true
}

// #region applyLayer
/**
 * Unpack layer `source` (a tar, gzipped or not) into `dir`, which must not exist yet (nor
 * need its parent folder), and return its diff ID (the sha256 of the uncompressed tar) and
 * size. aufs whiteouts become overlay ones: ".wh.NAME" chapter 05's whiteout named NAME,
 * ".wh..wh..opq" the opaque mark on its directory, as long as a later entry of the layer does
 * not replace that directory. Each entry keeps its header's xattrs and time (a directory's
 * time as long as a later entry does not replace it). A layer is all or nothing: nothing at `dir` is ever taken for a
 * whole layer unless it is one, and a refused entry (or any failure) leaves nothing behind.
 */
export async function applyLayer(source: Source, dir: string): Promise<{ diffId: string; size: number }> {
  if (existsSync(dir)) throw new Error(`cannot apply a layer into ${dir}: it already exists`)
  const work = `${dir}.partial`
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  const hash = createHash('sha256')
  let size = 0
  let started: Helper | undefined
  const helper = () => (started ??= Helper.start({ stdout: 'ignore', stderr: 'ignore' }))
  const opaque = new Set<string>()
  const dirTimes: DirTimes = new Map()
  // A time, like a mark, is for the directory its entry made. When a later entry removes what
  // stands at a path, the directories there and below go, and what was saved for them with
  // them: a directory made again at the same path is another one
  const forget = (path: string) => {
    const rel = relative(work, path)
    for (const saved of [dirTimes, opaque]) for (const key of saved.keys()) if (key === rel || key.startsWith(`${rel}/`)) saved.delete(key)
  }
  const extract = layerExtract()
  const bytes = Readable.from(layerTar(source, (chunk) => {
    hash.update(chunk)
    size += chunk.length
  }))
  // a failure (bad gzip, a read error) destroys extract, and the loop below throws it
  pipeline(bytes, extract).catch(() => {})
  try {
    for await (const entry of extract) {
      const marker = aufsMarker(entry.header.name)
      if (marker?.kind === 'opaque') {
        // resolved as the entry it is, so a symlinked directory is followed or refused like any
        // parent; the marker may come before its directory's own entry (umoci writes it so)
        const path = dirname(resolveInside(work, entry.header.name))
        mkdirSync(path, { recursive: true })
        opaque.add(relative(work, path))
      } else if (marker?.kind === 'whiteout') {
        const path = resolveInside(work, marker.path)
        mkdirSync(dirname(path), { recursive: true })
        forget(path)
        rmSync(path, { recursive: true, force: true })
        await makeWhiteout(helper(), path)
      } else {
        const content = entry as unknown as AsyncIterable<Uint8Array> // a streamx Readable; its typings omit the iterator
        const path = resolveInside(work, entry.header.name)
        const there = lstatSync(path, { throwIfNoEntry: false })
        if (there && !(there.isDirectory() && entry.header.type === 'directory')) forget(path)
        await writeEntry(work, path, entry.header, content, helper)
        await restoreMetadata(work, path, entry.header, helper, dirTimes)
      }
      entry.resume() // skip whatever the entry's data the writer did not read
    }
    // a later entry may have replaced the marked directory, or one above it, with a symlink:
    // the mark went with the directory it was for, and a path through the link leads elsewhere
    for (const path of opaque) if (plainDirectory(work, path)) await makeOpaque(helper(), join(work, path))
    // last: every whiteout and entry made in a directory changed its time; utimes(2) changes
    // the directory's own times, never its parent's, so any order will do. A time is for the
    // directory its entry made: one a later entry replaced by a symlink took its time with it
    for (const [path, mtime] of dirTimes) if (plainDirectory(work, path)) lutimesSync(join(work, path), mtime, mtime)
    renameSync(work, dir)
    return { diffId: `sha256:${hash.digest('hex')}`, size }
  } catch (error) {
    rmSync(work, { recursive: true, force: true })
    throw error
  } finally {
    if (started) {
      started.close()
      await started.exited
    }
  }
}
// #endregion applyLayer
