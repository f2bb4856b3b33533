/**
 * What a layer entry carries besides its bytes, owner and mode: extended attributes as pax
 * SCHILY.xattr records, and times. GNU tar makes the layer from a tree the test builds (a
 * capability set by setcap, binary user.* values, a symlink with a time of its own, directories
 * listed before their children, a whiteout written into one) and extracts it again with
 * --xattrs -p: the kernel's view of that extraction is what applyLayer() must give.
 */
import { lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import { applyLayer } from '#ch/06-images/unpack.ts'
import type { Helper } from '../../native/helper.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { startHelper } from '../support/helper.ts'
import { describeKernel } from '../support/kernel.ts'
import { tarOf } from '../support/images.ts'
import tar from 'tar-stream'

const TEXT = '"What a layer carries besides bytes" in README.md'
/** The attributes the tree carries; each path of both trees is asked for each of them. */
const XATTRS = ['security.capability', 'user.note', 'user.dir']
const TAR_XATTRS = ['--xattrs', '--xattrs-include=*']

/** The tree GNU tar packs, each time a whole second (as Docker's layers have them). */
async function buildTree(helper: Helper, src: string): Promise<void> {
  mkdirSync(join(src, 'd', 'sub'), { recursive: true })
  writeFileSync(join(src, 'd', 'f'), 'f\n')
  writeFileSync(join(src, 'd', 'ping'), readFileSync('/bin/true'), { mode: 0o755 })
  await execa('setcap', ['cap_setuid,cap_net_raw+ep', join(src, 'd', 'ping')]) // cap_setuid's bit is a byte 0x80: not UTF-8
  writeFileSync(join(src, 'd', '.wh.gone'), '') // written into d after d's entry, by the layer's whiteout
  writeFileSync(join(src, 'd', 'sub', 'g'), 'g\n')
  symlinkSync('f', join(src, 'd', 'link'))
  await helper.setxattrBytes(join(src, 'd', 'f'), 'user.note', Buffer.from([0xff, 0x00, 0x61, 0x80]))
  await helper.setxattrBytes(join(src, 'd', 'sub'), 'user.dir', Buffer.from('sub'))
  const at = (path: string, seconds: number) => lutimesSync(join(src, path), seconds, seconds)
  at('d/link', 1_000_000_000)
  for (const path of ['d/f', 'd/ping', 'd/.wh.gone', 'd/sub/g']) at(path, 1_100_000_000)
  at('d/sub', 1_150_000_000)
  at('d', 1_200_000_000)
  utimesSync(src, 1_250_000_000, 1_250_000_000)
}

/** Every path under `dir` but whiteouts (GNU tar knows no aufs marker), the root as ".". */
function paths(dir: string, rel = ''): string[] {
  const found = rel === '' ? ['.'] : []
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`
    const st = lstatSync(join(dir, path))
    if (name.startsWith('.wh.') || (st.isCharacterDevice() && st.rdev === 0)) continue
    found.push(path)
    if (st.isDirectory()) found.push(...paths(dir, path))
  }
  return found
}

/** The value of xattr `name` on `path` itself, as hex, or "none". */
async function xattr(helper: Helper, path: string, name: string): Promise<string> {
  try {
    return (await helper.getxattrBytes(path, name)).toString('hex')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENODATA') return 'none'
    throw error
  }
}

/** Per path, "PATH KIND mtime=MS" lines and "PATH NAME=HEX" lines, read without following a link. */
async function view(helper: Helper, dir: string, names: string[]) {
  const times: Record<'dir' | 'other', string[]> = { dir: [], other: [] }
  const xattrs: string[] = []
  for (const path of names) {
    const st = lstatSync(join(dir, path))
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file'
    times[kind === 'dir' ? 'dir' : 'other'].push(`${path} ${kind} mtime=${new Date(st.mtimeMs).toISOString()}`)
    for (const name of XATTRS) if (kind !== 'symlink') xattrs.push(`${path} ${name}=${await xattr(helper, join(dir, path), name)}`)
  }
  return { ...times, xattrs }
}

describeKernel('what a layer carries besides bytes', () => {
  it('xattrs and times of a layer GNU tar made, as GNU tar --xattrs -p extracts them', async () => {
    const helper = startHelper()
    const root = tempDir()
    const src = join(root, 'src')
    await buildTree(helper, src)
    const layer = join(root, 'layer.tar')
    await execa('tar', ['-C', src, ...TAR_XATTRS, '--sort=name', '-cf', layer, '.'])
    const real = join(root, 'real')
    mkdirSync(real)
    await execa('tar', ['-C', real, ...TAR_XATTRS, '-p', '-xf', layer])
    const ours = join(root, 'ours')
    const error = await caught(() => applyLayer(readFileSync(layer), ours))
    expect(error?.message, `GNU tar extracts this layer; applyLayer() failed. A setxattr refused with EINVAL got a value the kernel cannot parse: is it the bytes the tar holds (is header.pax text?) (${TEXT})`).toBeUndefined()
    const names = paths(real)
    expect(paths(ours), 'the layer holds other names than GNU tar extracts').toEqual(names)
    const want = await view(helper, real, names)
    const got = await view(helper, ours, names)
    expect(got.xattrs, `extended attributes differ from GNU tar's extraction (hex values). Is every SCHILY.xattr record applied, with its value's bytes as the tar holds them (is header.pax text?), and set after every step the kernel drops security.capability for (capabilities(7), chown(2))? (${TEXT})`).toEqual(want.xattrs)
    expect(got.other, `times of files and symlinks differ from GNU tar's extraction. Was each time set on the entry itself: which call leaves a symlink's target alone and sets the link's own? (${TEXT})`).toEqual(want.other)
    expect(got.dir, `directory times differ from GNU tar's extraction: the tar lists each directory before its children, and the layer's whiteout is made in "d" after them. Was a directory's time set while entries were still written into it? (${TEXT})`).toEqual(want.dir)
  }, 30_000)

  it("a directory's time never reaches where a later symlink in its place leads", async () => {
    const root = tempDir()
    const outside = join(root, 'outside')
    mkdirSync(join(outside, 'b'), { recursive: true })
    for (const path of [join(outside, 'b'), outside]) utimesSync(path, 1_000_000_000, 1_000_000_000)
    const before = [lstatSync(outside).mtimeMs, lstatSync(join(outside, 'b')).mtimeMs]
    const tar = await tarOf([{ name: 'a/' }, { name: 'a/b/' }, { name: 'a', type: 'symlink', linkname: outside }])
    await caught(() => applyLayer(tar, join(root, 'layer')))
    expect([lstatSync(outside).mtimeMs, lstatSync(join(outside, 'b')).mtimeMs], `the times of a folder outside the layer changed: the layer listed "a/" and "a/b/", then replaced "a" with a symlink to that folder. Whose directory did the saved times reach at the end? (${TEXT})`).toEqual(before)
  }, 30_000)

  it('a directory replaced by a file, listed again, then a file two levels under it', async () => {
    const root = tempDir()
    // each entry with a time of its own (seconds): which one ends up on which directory?
    const entries: [string, 'directory' | 'file', number][] = [
      ['a/', 'directory', 1_000_000_000],
      ['a/b/', 'directory', 1_100_000_000],
      ['a', 'file', 1_200_000_000],
      ['a/', 'directory', 1_300_000_000],
      ['a/b/f', 'file', 1_400_000_000],
    ]
    const pack = tar.pack()
    for (const [name, type, seconds] of entries) {
      const header = { name, type, mode: type === 'file' ? 0o644 : 0o755, mtime: new Date(seconds * 1000) }
      if (type === 'file') pack.entry(header, 'x\n')
      else pack.entry(header)
    }
    pack.finalize()
    const chunks: Buffer[] = []
    for await (const chunk of pack) chunks.push(chunk as Buffer)
    const layer = join(root, 'layer.tar')
    writeFileSync(layer, Buffer.concat(chunks))
    const real = join(root, 'real')
    mkdirSync(real)
    // --recursive-unlink: an entry replaces whatever an earlier one left, as a layer's do
    await execa('tar', ['-C', real, '--recursive-unlink', '-p', '-xf', layer])
    const ours = join(root, 'ours')
    const error = await caught(() => applyLayer(readFileSync(layer), ours))
    expect(error?.message, `GNU tar extracts this layer; applyLayer() failed (${TEXT})`).toBeUndefined()
    // a time none of the entries carries is the time the unpacking made the directory
    const layerTimes = new Set(entries.map(([, , seconds]) => seconds * 1000))
    const timeOf = (dir: string, path: string) => {
      const ms = lstatSync(join(dir, path)).mtimeMs
      return `${path}: ${layerTimes.has(ms) ? new Date(ms).toISOString() : 'a time of its own (no entry lists it)'}`
    }
    expect(['a', 'a/b'].map((path) => timeOf(ours, path)), `directory times differ from GNU tar's extraction of a layer that lists "a/" and "a/b/", replaces "a" with a file, lists "a/" again, then "a/b/f". Which directory was the time of the entry "a/b/" for, and is the directory at that path at the end the same one? (${TEXT})`).toEqual(['a', 'a/b'].map((path) => timeOf(real, path)))
  }, 30_000)
})
