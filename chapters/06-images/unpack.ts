/**
 * Chapter 06: applying a layer tar to a directory, safely.
 *
 * A layer comes from someone else. Unpacking is where container runtimes have had their
 * worst bugs: a tar entry named "../../etc/cron.d/x", an absolute path, or a symlink
 * "a -> /etc" followed by an entry "a/passwd" writes outside the layer, as root. Every path
 * is therefore resolved here by hand, one component at a time, before anything is written.
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { createHash } from 'node:crypto'
import { chmodSync, createWriteStream, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar, { type Header } from 'tar-stream'
import { makeOpaque, makeWhiteout } from '#ch/05-layers/whiteout.ts'
import { layerTar } from '../../lib/image.ts'
import { Helper } from '../../native/helper.ts'
import type { Source } from './cas.ts'

/** A tar entry that would write outside the layer, or cannot be applied at all. */
export class UnsafeLayerError extends Error {
  override name = 'UnsafeLayerError'
}

/** aufs's whiteout prefix, used by every layer tar: ".wh.NAME" deletes NAME. */
export const WHITEOUT_PREFIX = '.wh.'
/** aufs's opaque marker: this directory hides everything below it. */
export const OPAQUE_MARKER = '.wh..wh..opq'

/** The most symlinks followed while resolving one path, as the kernel's ELOOP limit. */
const MAX_SYMLINKS = 40

// #region resolveInside
/**
 * The host path where tar entry `name` goes inside `root`. Refuses an absolute name, a ".."
 * component, and a name whose parent directories pass through a symlink that leads outside
 * `root` (an absolute target, or a relative one that climbs above root). Symlinks that stay
 * inside are followed, so "a -> b" then "a/file" lands in root/b/file. The last component
 * itself is never followed: writing an entry replaces whatever is there.
 */
export function resolveInside(root: string, name: string): string {
  // TODO(06): resolve an entry name without ever leaving root.
  //   1. A name starting with "/" is absolute: throw UnsafeLayerError. Split the rest at "/",
  //      dropping "" and "."; any ".." component: throw UnsafeLayerError. No part left: return root.
  //   2. Walk the parent components (all but the last) one at a time, keeping the components
  //      resolved so far. lstatSync (never statSync: it would follow the link) each step.
  //   3. Not a symlink (or not there yet): keep the component and go on.
  //   4. A symlink: readlinkSync it. An absolute target, or a relative one that, joined onto the
  //      components resolved so far and normalised (posix.join/posix.normalize), starts with "..":
  //      throw UnsafeLayerError naming the entry, the symlink and its target.
  //   5. Otherwise restart from root with the target's components followed by those still to do.
  //      Count the symlinks followed; more than MAX_SYMLINKS is a loop: throw.
  //   6. Return join(root, ...resolved, last component): the last one is the entry itself and is
  //      not followed.
  throw new NotImplementedError('06-images', 'resolveInside')
}
// #endregion resolveInside

/** What an aufs-style name in a layer tar asks for. */
export type AufsMarker = { kind: 'opaque'; dir: string } | { kind: 'whiteout'; path: string }

// #region aufsMarker
/**
 * Read an entry name the aufs way: "DIR/.wh..wh..opq" makes DIR opaque, "DIR/.wh.NAME"
 * deletes DIR/NAME, anything else is an ordinary entry (undefined). The names returned are
 * still tar names, to be resolved with resolveInside(); a whiteout of "", "." or ".." would
 * delete the directory itself or its parent and is refused.
 */
export function aufsMarker(name: string): AufsMarker | undefined {
  // TODO(06): read an entry name the aufs way.
  //   1. Strip trailing "/"; split into dir (everything before the last "/", or "." when there is
  //      none) and base (the last component). Do not use path.join: it would swallow "..".
  //   2. base === OPAQUE_MARKER: return { kind: 'opaque', dir }.
  //   3. base starts with WHITEOUT_PREFIX: the hidden name is the rest. "", "." or ".." would
  //      whiteout the directory itself or its parent: throw UnsafeLayerError. Otherwise return
  //      { kind: 'whiteout', path: `${dir}/${hidden}` }.
  //   4. Anything else is an ordinary entry: return undefined.
  throw new NotImplementedError('06-images', 'aufsMarker')
}
// #endregion aufsMarker

/** Which helper makes device nodes and whiteouts (started on first use). */
export type HelperFor = () => Helper

// #region writeEntry
/**
 * Write one ordinary tar entry at `path` (already resolved inside the layer), replacing what
 * is there unless both are directories: a directory, a file with the bytes of `content`, a
 * symlink (its target is stored as it is: it is only dangerous when written through, which
 * resolveInside() refuses), a hard link to an earlier entry of this layer, a device or a
 * fifo. Owner, mode and mtime come from the header. The layer's root itself ("." or "./")
 * may only be a directory: as a symlink it would send every later entry to wherever it points.
 * Any other entry type is refused, never dropped without a word.
 */
export async function writeEntry(root: string, path: string, header: Header, content: AsyncIterable<Uint8Array>, helper: HelperFor): Promise<void> {
  // TODO(06): write one ordinary entry.
  //   1. mkdirSync(dirname(path), { recursive: true }). If something is already at path (lstatSync)
  //      and it is not the case "directory over directory", rmSync it (recursive, force): an entry
  //      replaces what an earlier one left, and a symlink is removed, never written through.
  //   2. By header.type: 'directory' mkdirSync; 'file'/'contiguous-file' pipeline(content,
  //      createWriteStream(path, { flags: 'wx', mode })) ('wx' refuses to follow anything there);
  //      'symlink' symlinkSync(header.linkname, path); devices helper().mknod(...).
  //   3. 'link': the target is another entry of this layer: resolveInside(root, header.linkname);
  //      if nothing is there, throw UnsafeLayerError; else linkSync(target, path) and return
  //      (a hard link shares its target's owner and mode).
  //   4. Any other type (fifo): return.
  //   5. lchownSync to header.uid/gid; unless it is a symlink, chmodSync to header.mode and, for
  //      anything but a directory, lutimesSync to header.mtime.
  throw new NotImplementedError('06-images', 'writeEntry')
}
// #endregion writeEntry

// #region applyLayer
/**
 * Unpack layer `source` (a tar, gzipped or not) into `dir`, which must not exist yet, and
 * return its diff ID (the sha256 of the uncompressed tar) and size. aufs whiteouts become
 * overlay ones: ".wh.NAME" a 0/0 device named NAME, ".wh..wh..opq" the opaque xattr on its
 * directory. The layer is built in "<dir>.partial" and renamed into place at the end, so a
 * refused entry (or any failure) leaves nothing behind.
 */
export async function applyLayer(source: Source, dir: string): Promise<{ diffId: string; size: number }> {
  // TODO(06): the whole layer, atomically.
  //   1. Refuse an existing `dir`. Build in work = `${dir}.partial` (remove a stale one, mkdir it).
  //   2. extract = tar.extract(); pipeline(Readable.from(layerTar(source, chunk => { hash it,
  //      count it })), extract).catch(() => {}): a failure (bad gzip) destroys extract, and the
  //      loop below throws it. Do not await the pipeline: the loop is what consumes it.
  //   3. for await (const entry of extract): m = aufsMarker(entry.header.name).
  //      opaque: mkdir resolveInside(work, m.dir) and remember it. whiteout: p = resolveInside(work,
  //      m.path), mkdir its parent, rmSync p, makeWhiteout(helper(), p). otherwise: writeEntry(work,
  //      resolveInside(work, name), entry.header, entry, helper). Then entry.resume().
  //   4. After the loop, makeOpaque() every remembered dir (the marker can come before its dir's
  //      own entry), renameSync(work, dir), return { diffId: "sha256:" + hex, size }.
  //   5. On any error rmSync(work) and rethrow. Finally close the helper if you started one
  //      (helper.close(); await helper.exited). Start it lazily: most layers need none.
  throw new NotImplementedError('06-images', 'applyLayer')
}
// #endregion applyLayer
