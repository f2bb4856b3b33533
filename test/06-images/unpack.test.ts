import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { isOpaque } from '#ch/05-layers/whiteout.ts'
import { applyLayer, aufsMarker, resolveInside, UnsafeLayerError } from '#ch/06-images/unpack.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { tempDir } from '../support/files.ts'
import { sha256, tarOf, type Entry } from '../support/images.ts'

/** A sandbox: `layer` is where the tar goes, `outside` a folder next to it that must stay untouched. */
function sandbox() {
  const root = tempDir()
  const outside = join(root, 'outside')
  mkdirSync(outside)
  writeFileSync(join(outside, 'passwd'), 'precious\n')
  return { root, layer: join(root, 'layers', 'new'), outside }
}

/** Apply a malicious tar: it must fail with UnsafeLayerError and leave no trace. */
async function expectRefused(entries: Entry[], why: RegExp) {
  const s = sandbox()
  mkdirSync(join(s.root, 'layers'))
  const tar = await tarOf(entries)
  const error = await caught(() => applyLayer(tar, s.layer))
  expect(error, 'a tar entry that escapes the layer must be refused with an UnsafeLayerError').toBeInstanceOf(UnsafeLayerError)
  expect(error.message, 'the error must name the entry and the reason').toMatch(why)
  expect(readdirSync(join(s.root, 'layers')), 'a refused layer must leave nothing behind: did applyLayer() remove its <dir>.partial folder on the error?').toEqual([])
  expect(readdirSync(s.outside), 'nothing may be written outside the layer').toEqual(['passwd'])
  expect(readFileSync(join(s.outside, 'passwd'), 'utf8')).toBe('precious\n')
}

describe('resolveInside', () => {
  it('maps entry names into the layer, ignoring "./" and repeated slashes', () => {
    expect(resolveInside('/L', 'etc/passwd')).toBe('/L/etc/passwd')
    expect(resolveInside('/L', './etc//hosts')).toBe('/L/etc/hosts')
  })

  it('refuses absolute names and ".." components, naming the entry', async () => {
    const absolute = await caught(() => resolveInside('/L', '/etc/passwd'))
    expect(absolute, 'an absolute name is an UnsafeLayerError').toBeInstanceOf(UnsafeLayerError)
    expect(absolute.message).toMatch(/"\/etc\/passwd".*absolute/)
    const climbing = await caught(() => resolveInside('/L', 'a/../../etc/passwd'))
    expect(climbing, 'a ".." component is an UnsafeLayerError').toBeInstanceOf(UnsafeLayerError)
    expect(climbing.message).toMatch(/"a\/\.\.\/\.\.\/etc\/passwd".*\.\./)
  })

  it('follows a symlink that stays inside, and refuses one that leads out', async () => {
    const root = tempDir()
    mkdirSync(join(root, 'real'))
    symlinkSync('real', join(root, 'inside'))
    symlinkSync('../..', join(root, 'up'))
    symlinkSync('/etc', join(root, 'abs'))
    const leadsOut = 'a parent that is a symlink leading out must be refused, naming the symlink and its target: does the walk lstat each parent (stat follows the link before you can see it)?'
    for (const [name, link] of [['up/file', /symlink "up" -> "\.\.\/\.\."/], ['abs/passwd', /symlink "abs" -> "\/etc"/]] as const) {
      const error = await caught(() => resolveInside(root, name))
      expect(error, `"${name}": ${leadsOut}`).toBeInstanceOf(UnsafeLayerError)
      expect(error.message, `"${name}": ${leadsOut}`).toMatch(link)
    }
    expect(resolveInside(root, 'inside/file'), 'a symlink within the layer is followed, as the kernel will follow it in the container').toBe(join(root, 'real', 'file'))
  })

  it('never follows the last component: the entry replaces what is there', async () => {
    const root = tempDir()
    mkdirSync(join(root, 'real'))
    symlinkSync('real', join(root, 'inside'))
    symlinkSync('/etc', join(root, 'abs'))
    const replaced = 'the last component is the entry itself: it is replaced, never followed'
    expect((await caught(() => resolveInside(root, 'abs')))?.message, `"abs" -> "/etc": ${replaced}`).toBeUndefined()
    expect(resolveInside(root, 'abs'), `"abs" -> "/etc": ${replaced}`).toBe(join(root, 'abs'))
    expect(resolveInside(root, 'inside'), `"inside" -> "real": ${replaced}`).toBe(join(root, 'inside'))
  })
})

/** A marker with its name normalised: "./bin" and "bin" are the same tar name. */
function normalised(name: string) {
  const m = aufsMarker(name)
  if (m?.kind === 'opaque') return { ...m, dir: posix.normalize(m.dir || '.') }
  return m && { ...m, path: posix.normalize(m.path) }
}

describe('aufsMarker', () => {
  it('reads .wh..wh..opq as "this directory is opaque" and .wh.NAME as "NAME is deleted"', () => {
    expect(normalised('usr/share/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'usr/share' })
    expect(normalised('.wh..wh..opq'), 'a marker at the top makes the layer root opaque').toEqual({ kind: 'opaque', dir: '.' })
    expect(normalised('etc/.wh.motd')).toEqual({ kind: 'whiteout', path: 'etc/motd' })
    expect(normalised('.wh.bin'), 'a top-level whiteout').toEqual({ kind: 'whiteout', path: 'bin' })
  })

  it('leaves ordinary names alone, ".wh." inside a name included', () => {
    expect(aufsMarker('etc/motd')).toBeUndefined()
    expect(aufsMarker('etc/not.wh.motd'), 'only a name that STARTS with .wh. is a whiteout').toBeUndefined()
    expect(aufsMarker('var/')).toBeUndefined()
  })

  it('refuses a whiteout of "..", "." or nothing, which would delete a directory above', async () => {
    for (const name of ['etc/.wh...', 'etc/.wh..', 'etc/.wh.']) {
      const error = await caught(() => aufsMarker(name))
      expect(error, `"${name}" names no file of its directory: refuse it (did path.join swallow the ".."?)`).toBeInstanceOf(UnsafeLayerError)
    }
  })
})

describe('applyLayer', () => {
  it('unpacks files, dirs, symlinks and hard links with their modes, and returns the diff ID', async () => {
    const s = sandbox()
    const tar = await tarOf([
      { name: 'bin/' },
      { name: 'bin/tool', content: 'tool', mode: 0o755 },
      { name: 'bin/alias', type: 'symlink', linkname: 'tool' },
      { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
      { name: 'etc/secret', content: 's', mode: 0o600 },
    ])
    const { diffId, size } = await applyLayer(gzipSync(tar), s.layer)
    expect(diffId, 'the diff ID is the sha256 of the UNCOMPRESSED tar').toBe(sha256(tar))
    expect(size).toBe(tar.length)
    expect(readFileSync(join(s.layer, 'bin/tool'), 'utf8')).toBe('tool')
    expect(statSync(join(s.layer, 'bin/tool')).mode & 0o777).toBe(0o755)
    expect(statSync(join(s.layer, 'etc/secret')).mode & 0o777, 'modes come from the tar headers').toBe(0o600)
    expect(readlinkSync(join(s.layer, 'bin/alias'))).toBe('tool')
    expect(statSync(join(s.layer, 'bin/hard')).ino, 'a hard link shares the inode of its target').toBe(statSync(join(s.layer, 'bin/tool')).ino)
    expect(existsSync(`${s.layer}.partial`), 'the work dir must be renamed into place').toBe(false)
  })

  it('applies a truncated tar with no end-of-archive blocks', async () => {
    const s = sandbox()
    const tar = await tarOf([{ name: 'a.txt', content: 'a' }], { trailer: false })
    expect(tar.length, 'test setup: one header and one data block').toBe(1024)
    const { diffId } = await applyLayer(tar, s.layer)
    expect(diffId).toBe(sha256(tar))
    expect(readFileSync(join(s.layer, 'a.txt'), 'utf8')).toBe('a')
  })

  it('applies a tar cut off inside its last block, as umoci writes them', async () => {
    const s = sandbox()
    const whole = await tarOf([{ name: 'etc/' }, { name: 'etc/motd', content: 'hello there' }], { trailer: false })
    const cut = whole.subarray(0, 512 * 2 + 'hello there'.length)
    await applyLayer(cut, s.layer)
    expect(readFileSync(join(s.layer, 'etc/motd'), 'utf8'), 'the last file is whole even though its block padding is missing').toBe('hello there')
  })

  it('fails on a broken gzip stream and leaves nothing behind', async () => {
    const s = sandbox()
    const gz = gzipSync(await tarOf([{ name: 'a.txt', content: 'a'.repeat(5000) }]))
    const error = await caught(() => applyLayer(gz.subarray(0, gz.length - 40), s.layer))
    expect(error, 'a truncated gzip stream must reject (not hang, not succeed)').toBeInstanceOf(Error)
    expect(existsSync(s.layer) || existsSync(`${s.layer}.partial`), 'neither the layer nor its partial dir may be left').toBe(false)
  })

  it('refuses an entry with ".."', async () => {
    await expectRefused([{ name: 'ok.txt', content: 'fine' }, { name: '../outside/passwd', content: 'pwned' }], /\.\./)
  })

  it('refuses an absolute path', async () => {
    await expectRefused([{ name: '/tmp/pwned', content: 'pwned' }], /absolute/)
  })

  it('refuses a write through a symlink with an absolute target', async () => {
    const s = sandbox()
    await expectRefused([
      { name: 'evil', type: 'symlink', linkname: s.outside },
      { name: 'evil/passwd', content: 'pwned' },
    ], /symlink "evil"/)
  })

  it('refuses a write through a symlink whose relative target climbs out', async () => {
    await expectRefused([
      { name: 'dir/' },
      { name: 'dir/evil', type: 'symlink', linkname: '../../../outside' },
      { name: 'dir/evil/passwd', content: 'pwned' },
    ], /symlink "dir\/evil" -> "\.\.\/\.\.\/\.\.\/outside"/)
  })

  it('refuses a whiteout that would delete the layer\'s parent', async () => {
    await expectRefused([{ name: 'etc/' }, { name: 'etc/.wh...', content: '' }], /whiteout/)
  })

  it('refuses a hard link to a file outside the layer, naming the link', async () => {
    await expectRefused([{ name: 'stolen', type: 'link', linkname: '../../outside/passwd' }], /"stolen"[^]*\.\./)
    await expectRefused([{ name: 'stolen', type: 'link', linkname: '/etc/passwd' }], /"stolen"[^]*absolute/)
    await expectRefused([
      { name: 'door', type: 'symlink', linkname: '../../outside' },
      { name: 'stolen', type: 'link', linkname: 'door/passwd' },
    ], /"stolen"[^]*symlink "door"/)
  })

  it('refuses a hard link whose target is not in the layer, naming the link and its target', async () => {
    await expectRefused([{ name: 'etc/' }, { name: 'etc/stolen', type: 'link', linkname: 'etc/shadow' }], /etc\/stolen[^]*etc\/shadow|etc\/shadow[^]*etc\/stolen/)
  })

  it('replaces a symlink with a later entry of the same name instead of writing through it', async () => {
    const s = sandbox()
    await applyLayer(await tarOf([
      { name: 'evil', type: 'symlink', linkname: join(s.outside, 'passwd') },
      { name: 'evil', content: 'replaced\n' },
    ]), s.layer)
    expect(readFileSync(join(s.outside, 'passwd'), 'utf8'), 'the file entry "evil" was written through the symlink "evil": an entry replaces what is there, its last component is never followed').toBe('precious\n')
    expect(lstatSync(join(s.layer, 'evil')).isFile(), 'the layer\'s "evil" must be the regular file of the second entry').toBe(true)
    expect(readFileSync(join(s.layer, 'evil'), 'utf8')).toBe('replaced\n')
  })

  it('refuses an opaque marker reached through a symlink that leads out', async () => {
    const s = sandbox()
    await expectRefused([
      { name: 'evil', type: 'symlink', linkname: s.outside },
      { name: 'evil/.wh..wh..opq', content: '' },
    ], /evil\/\.wh\.\.wh\.\.opq[^]*symlink "evil"/)
    await expectRefused([
      { name: 'evil', type: 'symlink', linkname: '../../outside' },
      { name: 'evil/sub/.wh..wh..opq', content: '' },
    ], /evil\/sub[^]*symlink "evil"/)
  })
})

describeKernel('whiteouts while applying a layer', () => {
  it('turn .wh.NAME into a 0/0 device and .wh..wh..opq into the opaque xattr, even before the dir entry', async () => {
    const s = sandbox()
    await applyLayer(await tarOf([
      { name: 'data/.wh..wh..opq', content: '' },
      { name: 'data/' },
      { name: 'data/new.txt', content: 'new' },
      { name: 'etc/' },
      { name: 'etc/.wh.motd', content: '' },
    ]), s.layer)
    const whiteout = lstatSync(join(s.layer, 'etc/motd'))
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0, '.wh.motd must become a 0/0 character device named motd').toBe(true)
    expect(existsSync(join(s.layer, 'etc/.wh.motd')), 'the aufs marker itself is not kept').toBe(false)
    expect(readdirSync(join(s.layer, 'data')), 'the opaque marker is not kept either').toEqual(['new.txt'])
    const helper = startHelper()
    expect(await isOpaque(helper, join(s.layer, 'data')), '.wh..wh..opq must become trusted.overlay.opaque=y on data/').toBe(true)
  })
})
