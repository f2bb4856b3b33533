/**
 * An opaque marker whose directory a later entry of the same layer replaces with a symlink (or
 * with a file, before the path is a directory again).
 * applyLayer() may set the mark when it meets the marker or at the end; the real containerd
 * (overlayfs snapshotter, which sets trusted.overlay.opaque itself) says what becomes of it:
 * the same layers are imported there
 * and its snapshot compared with ours, mark by mark. The symlinks lead into a folder this test
 * made, which must stay as it was.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import { isOpaque } from '#ch/05-layers/whiteout.ts'
import { applyLayer } from '#ch/06-images/unpack.ts'
import type { Helper } from '../../native/helper.ts'
import { caught } from '../support/errors.ts'
import { CTR } from '../support/containerd.ts'
import { startContainerd, type Daemon } from '../support/daemons.ts'
import { tempDir } from '../support/files.ts'
import { startHelper } from '../support/helper.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, tarFolder, tarOf, writeDockerSave, type Entry } from '../support/images.ts'

const hostArch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch
const MARK = { name: 'a/b/.wh..wh..opq', content: '' }

/** The layers, each named by what it does; `outside` is the test's own folder beyond the layer. */
function layers(outside: string): Record<string, Entry[]> {
  return {
    'the marker, then "a" -> "c"': [{ name: 'c/' }, { name: 'c/b/' }, { name: 'c/b/keep', content: 'k' }, MARK, { name: 'a', type: 'symlink', linkname: 'c' }],
    'the marker, then "a" -> the outside folder': [MARK, { name: 'a', type: 'symlink', linkname: outside }],
    'the marker, then "a/b" -> "../c/b"': [{ name: 'c/' }, { name: 'c/b/' }, MARK, { name: 'a/b', type: 'symlink', linkname: '../c/b' }],
    'the marker, then "a/b" -> the outside folder\'s "b"': [MARK, { name: 'a/b', type: 'symlink', linkname: join(outside, 'b') }],
    '"a" -> "c", then the marker': [{ name: 'c/' }, { name: 'c/b/' }, { name: 'a', type: 'symlink', linkname: 'c' }, MARK],
    'the marker, then its directory': [MARK, { name: 'a/' }, { name: 'a/b/' }, { name: 'a/b/new', content: 'n' }],
    'the marker, then "a" a file, then "a/" and "a/b/f"': [MARK, { name: 'a', content: 'f' }, { name: 'a/' }, { name: 'a/b/f', content: 'f' }],
  }
}

/** Every name under `dir` with its kind, a symlink's target and overlayfs's opaque mark, read without following any link. */
async function tree(helper: Helper, dir: string): Promise<string[]> {
  const lines: string[] = []
  const walk = async (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(dir, rel, name)
      const st = lstatSync(path)
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `symlink -> ${readlinkSync(path)}` : 'file'
      lines.push(`${rel}${name} ${kind}${(await isOpaque(helper, path)) ? ' OPAQUE' : ''}`)
      if (st.isDirectory()) await walk(`${rel}${name}/`)
    }
  }
  lines.push(`. dir${(await isOpaque(helper, dir)) ? ' OPAQUE' : ''}`)
  await walk('')
  return lines
}

/**
 * What the real containerd makes of each layer, stacked on a base layer of its own: its top
 * snapshot's upper directory, read as tree() reads it. containerd runs in a mount namespace of
 * its own, so the mount it makes for the base layer cannot outlive it on the host.
 */
async function containerdTrees(helper: Helper, tars: Record<string, Buffer>): Promise<Record<string, string[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-opaque-'))
  let containerd: Daemon | undefined
  try {
    containerd = await startContainerd(join(dir, 'containerd'), { prefix: ['unshare', '--mount', '--propagation', 'private'] })
    const snapshots = join(dir, 'containerd', 'root', 'io.containerd.snapshotter.v1.overlayfs', 'snapshots')
    const trees: Record<string, string[]> = {}
    for (const [i, [what, tar]] of Object.entries(tars).entries()) {
      const image = await buildImage([], { tars: [await tarOf([{ name: 'base', content: 'base' }]), tar] })
      const archive = join(dir, `archive-${i}`)
      mkdirSync(archive)
      writeDockerSave(archive, [{ image, tags: [`opaque:${i}`] }])
      writeFileSync(`${archive}.tar`, await tarFolder(archive))
      const before = new Set(readdirSync(snapshots))
      await execa(CTR, ['--address', containerd.socket, '--namespace', `opaque${i}`, 'images', 'import', '--snapshotter', 'overlayfs', '--platform', `linux/${hostArch}`, `${archive}.tar`])
      const top = readdirSync(snapshots).filter((n) => !before.has(n)).sort((x, y) => Number(y) - Number(x))[0]!
      trees[what] = await tree(helper, join(snapshots, top, 'fs'))
    }
    return trees
  } finally {
    await containerd?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

describeKernel('an opaque marker, then a symlink where its directory was', () => {
  it('an opaque marker, then a symlink in place of its directory or a parent, beside containerd', async () => {
    const helper = startHelper()
    const root = tempDir()
    const outside = join(root, 'outside')
    mkdirSync(join(outside, 'b'), { recursive: true })
    writeFileSync(join(outside, 'b', 'precious'), 'precious\n')
    const untouched = await tree(helper, outside)
    const tars: Record<string, Buffer> = {}
    const ours: Record<string, string[]> = {}
    for (const [i, [what, entries]] of Object.entries(layers(outside)).entries()) {
      tars[what] = await tarOf(entries)
      const dir = join(root, 'layers', String(i))
      const error = await caught(() => applyLayer(tars[what]!, dir))
      expect(await tree(helper, outside), `${what}: the folder outside the layer changed (a mark, a file): which directory did the opaque mark's path reach once the later entry had put a symlink on the way? ("A mark for a directory that is gone" in README.md)`).toEqual(untouched)
      expect(error?.message, `${what}: containerd applies this layer; applyLayer refused it. Is the marker's directory looked up again by its name, through the symlink that replaced it?`).toBeUndefined()
      ours[what] = await tree(helper, dir)
    }
    const real = await containerdTrees(helper, tars)
    for (const what of Object.keys(tars)) {
      expect(ours[what], `${what}: the layer differs from containerd's (overlayfs snapshotter, which sets trusted.overlay.opaque itself). Which directory carries the mark, and is it still the one the marker named? ("A mark for a directory that is gone" in README.md)`).toEqual(real[what])
    }
  }, 60_000)
})
