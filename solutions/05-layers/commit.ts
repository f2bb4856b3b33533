/**
 * Chapter 05: what `docker commit` archives. A container's changes are its upper directory, and
 * an image layer is a tar that must mean the same on any machine, whatever its storage driver:
 * committing writes the one as the other, the inverse of what chapter 06 does when it applies a
 * layer.
 */
import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar, { type Header, type Pack } from 'tar-stream'
import type { Helper } from '../../native/helper.ts'
import { isOpaque } from './whiteout.ts'

/** A tar header as tar-stream takes it: a name, and what the entry's kind needs. */
type Headers = Partial<Header> & Pick<Header, 'name'>

// #region diffTar
/**
 * Write to `out` the layer tar of the changes held in `upper`, a container's upper directory: the
 * layer `docker commit` makes of it, as moby's overlay2 driver and pkg/archive write it (the
 * overlay whiteout format). A real dockerd or containerd that unpacks the tar onto the image's
 * layers must come to the same tree the container saw. Resolves when the whole tar is written to
 * `out`; rejects with the first failure.
 */
export async function diffTar(helper: Helper, upper: string, out: Writable): Promise<void> {
  const pack = tar.pack()
  const written = pipeline(pack, out)
  try {
    // The first name written for each inode with more than one link: later names link to it.
    // Whiteouts are recognised before this, as they all share one inode of overlayfs's own.
    const seen = new Map<string, string>()
    const walk = async (rel: string): Promise<void> => {
      for (const name of readdirSync(join(upper, rel)).sort()) {
        const path = join(upper, rel, name)
        const entry = rel ? `${rel}/${name}` : name
        const stats = lstatSync(path)
        const owned = { uid: stats.uid, gid: stats.gid, mtime: stats.mtime }
        // With its type bits: tar-stream keeps only the low 12 bits, but takes a bare 0 for
        // "no mode given" and writes its default (0644, 0755) for a file of mode 000.
        const mode = stats.mode
        if (stats.isCharacterDevice() && stats.rdev === 0) {
          await add(pack, { ...owned, name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', mode: 0o600, size: 0 })
        } else if (stats.isDirectory()) {
          await add(pack, { ...owned, name: `${entry}/`, type: 'directory', mode })
          if (await isOpaque(helper, path))
            await add(pack, { ...owned, name: `${entry}/.wh..wh..opq`, type: 'file', mode: stats.mode & 0o777, size: 0 })
          await walk(entry)
        } else {
          const header = { ...owned, name: entry, mode }
          const inode = `${stats.dev}:${stats.ino}`
          const first = stats.nlink > 1 ? seen.get(inode) : undefined
          if (first !== undefined) await add(pack, { ...header, type: 'link', linkname: first, size: 0 })
          else {
            if (stats.nlink > 1) seen.set(inode, entry)
            await addOne(pack, path, header, stats)
          }
        }
      }
    }
    await walk('')
    pack.finalize()
  } catch (error) {
    pack.destroy(error as Error)
  }
  await written
}

/** An ordinary non-directory: its own kind of entry, a regular file with its bytes. */
async function addOne(pack: Pack, path: string, header: Headers, stats: Stats): Promise<void> {
  // Linux's dev_t: the minor's low 8 bits, the major's 12, then the minor's next 12 (makedev(3))
  const device = { devmajor: (stats.rdev >> 8) & 0xfff, devminor: (stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00) }
  if (stats.isFile()) await pipeline(createReadStream(path), pack.entry({ ...header, type: 'file', size: stats.size }))
  else if (stats.isSymbolicLink()) await add(pack, { ...header, type: 'symlink', linkname: readlinkSync(path) })
  else if (stats.isCharacterDevice()) await add(pack, { ...header, type: 'character-device', ...device })
  else if (stats.isBlockDevice()) await add(pack, { ...header, type: 'block-device', ...device })
  else if (stats.isFIFO()) await add(pack, { ...header, type: 'fifo' })
  // a socket has no tar type: moby logs it and leaves it out, as here
}

/** One entry without data (a file's of none), written before the next is begun. */
function add(pack: Pack, header: Headers): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, '', (error) => (error ? reject(error) : resolve())))
}
// #endregion diffTar
