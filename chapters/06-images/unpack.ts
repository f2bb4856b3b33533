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
import { NotImplementedError, UnsafeLayerError } from '../../lib/errors.ts'
import tar, { type Header } from 'tar-stream'
import { makeOpaque, makeWhiteout } from '#ch/05-layers/whiteout.ts'
import { layerExtract, layerTar } from '../../lib/image.ts'
import { aufsMarker, OPAQUE_MARKER, restoreMetadata, WHITEOUT_PREFIX, type AufsMarker, type DirTimes } from '../../lib/layer-entries.ts'
import { Helper } from '../../native/helper.ts'
import type { Source } from './cas.ts'

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
  // TODO(06): where an entry goes, decided without ever leaving root.
  //   1. The name comes from whoever built the tar. Some names are refused before the disk is
  //      even looked at (the doc comment says which, and how the error reads).
  //   2. Walk the parent directories one component at a time and look at each without following
  //      it: a symlink there is what an earlier entry planted. Which fs call shows you the symlink
  //      itself, and which one follows it before you can look?
  //   3. A symlink that stays inside is followed exactly as the kernel will follow it once the
  //      layer is mounted: the entry must land where the container finds it by the same name. From
  //      where does the kernel walk a link's target, and what is a ".." in it once the walk has
  //      followed yet another link? One that leads above root is refused, naming the entry, the
  //      symlink and its target. Links can form a loop: give up after MAX_SYMLINKS.
  //   4. And the last component: is it one more directory to walk through, or something else?
  //   Where: "Unpacking without escaping" in README.md; path_resolution(7); containerd's
  //   continuity fs.RootPath and cyphar/filepath-securejoin (which clamp where this refuses).
  throw new NotImplementedError('06-images', 'resolveInside')
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
  // TODO(06): write one ordinary entry at a path that is already resolved.
  //   1. `path` may be the layer's root itself (an entry named ".", "./" or ""). What may the
  //      root be, and what would a symlink there do to every later entry?
  //   2. An entry replaces whatever an earlier entry left at `path` (except a directory over a
  //      directory, which keeps its contents), and must never write through it: picture a symlink
  //      left at `path` that points at the host's /etc/passwd. Removing it first is not the whole
  //      answer: what else can happen at `path` between your removal and your write?
  //   3. The types that matter: directory; file (stream `content`, do not buffer a whole layer);
  //      symlink (store the target as it is: it is harmless until something writes through it);
  //      character and block devices and fifos (only root makes them: ask `helper()`); hard link.
  //      Any other type is an UnsafeLayerError naming the entry: dropping it silently would run
  //      something other than the image its author tested.
  //   4. A hard link's target is another entry of this same layer, named like any entry: resolve
  //      it the same way. A target that escapes or is not there is an UnsafeLayerError naming the
  //      link entry (header.name) and its target.
  //   5. Then owner and mode from the header, never through a symlink (a symlink has no mode of
  //      its own on Linux).
  //   Where: moby's pkg/archive/archive.go (createTarFile); containerd's pkg/archive/tar.go.
  throw new NotImplementedError('06-images', 'writeEntry')
}
// #endregion writeEntry

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
  // TODO(06): apply a whole layer atomically, turning aufs markers into overlay ones.
  //   1. A reader (a store, a crashed run's next start) must never take a half-applied layer at
  //      `dir` for a whole one, even if the process dies half way. Where do you build it, and
  //      how does it become `dir`? On any error, remove what you built and let the error
  //      through: a refused layer leaves nothing.
  //   2. The diff ID is the sha256 of the uncompressed tar, computed while it streams by: the
  //      bytes are read once. layerTar() (lib/image.ts) gunzips and shows you each chunk;
  //      layerExtract() (tar-stream's extract(), keeping the xattrs' bytes) parses; a broken
  //      stream must reject, not hang.
  //   3. Every name is resolved inside the layer before anything is written, markers included:
  //      a marker is an entry like any other, and a symlink can stand where its directory should.
  //   4. A whiteout becomes chapter 05's overlay whiteout. An opaque marker may come before its
  //      directory's own entry (umoci writes it so), and a LATER entry of the same layer may
  //      replace that directory, or one above it, with a symlink: to another directory of the
  //      layer, or out of it. Before you write it, predict the tree the real containerd leaves
  //      for such a layer (the test compares with it): which directory carries the mark, which
  //      never does, and is the layer refused? Then choose when you set the mark, and what must
  //      still hold at that moment.
  //   5. Each ordinary entry gets its xattrs and time from restoreMetadata() (given) once
  //      writeEntry() has made it; a directory's time waits in the DirTimes map you pass it, and
  //      setting those is yours. When is nothing more written in any directory of the layer,
  //      marks and whiteouts included? A time is for the directory its entry made: what may later
  //      entries have done to that directory, or to one above it, and where would a time set
  //      through the old path land then? Does the order among them matter (utimensat(2))?
  //   6. Devices and xattrs need root's helper: start it only when an entry needs it, and close
  //      it (and wait until it has exited) before you return or throw.
  //   Where: "Unpacking without escaping", "A mark for a directory that is gone" and "What a
  //   layer carries besides bytes" in README.md;
  //   moby's pkg/archive/archive.go (Unpack) and
  //   archive_linux.go (overlayWhiteoutConverter); containerd's pkg/archive/tar.go (applyNaive).
  throw new NotImplementedError('06-images', 'applyLayer')
}
// #endregion applyLayer
