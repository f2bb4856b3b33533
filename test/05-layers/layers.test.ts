import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLayer, overlayDirs } from '#ch/05-layers/driver.ts'
import { createContainerLayers, hostsFile, resolvConf } from '#ch/05-layers/init.ts'
import { mountOverlay, overlayOptions, unmountOverlay, type OverlayDirs } from '#ch/05-layers/overlay.ts'
import { changes, isOpaque, isWhiteout, makeOpaque, makeWhiteout } from '#ch/05-layers/whiteout.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { tempDir } from '../support/files.ts'
import { mountNamespace } from '../support/mountns.ts'

/** Write files (path → content; a path ending in "/" is a directory) under `dir`. */
function populate(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(dir, path), { recursive: true })
    else {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), content)
    }
  }
}

/** A two-layer "image" and an empty upper/work pair, in plain folders. */
function stack(): OverlayDirs & { root: string; base: string; top: string; merged: string } {
  const root = tempDir()
  const [base, top, upper, work, merged] = ['base', 'top', 'upper', 'work', 'merged'].map((d) => join(root, d))
  for (const d of [base, top, upper, work, merged]) mkdirSync(d!)
  populate(base!, { 'etc/os-release': 'base\n', 'etc/motd': 'from base\n', 'data/old.txt': 'old\n', 'data/sub/deep.txt': 'deep\n' })
  symlinkSync('/usr/share/zoneinfo/Nowhere/Atlantis', join(base!, 'etc/localtime')) // absolute: dangles on the host
  populate(top!, { 'etc/motd': 'from top\n', 'bin/tool': 'tool\n' })
  return { root, base: base!, top: top!, merged: merged!, lower: [top!, base!], upper: upper!, work: work! }
}

describe('overlayOptions', () => {
  it('lists lowerdir topmost first, then upperdir and workdir', () => {
    expect(overlayOptions({ lower: ['/l/top', '/l/mid', '/l/base'], upper: '/c/diff', work: '/c/work' }), 'lower[0] is the topmost layer, and lowerdir lists the topmost first').toBe(
      'lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/diff,workdir=/c/work',
    )
  })

  it('refuses paths the kernel would split at "," or ":"', async () => {
    const refusal = async (dirs: OverlayDirs) => (await caught(() => overlayOptions(dirs)))?.message
    expect(await refusal({ lower: ['/a:b'], upper: '/u', work: '/w' }), 'a ":" in a lowerdir splits it in two: name the path').toContain('/a:b')
    expect(await refusal({ lower: ['/a'], upper: '/u,x', work: '/w' }), 'a "," ends the option early: name the path').toContain('/u,x')
    expect(await refusal({ lower: [], upper: '/u', work: '/w' }), 'an overlay without a lower layer is no union: say so').toMatch(/lower/)
  })
})

describeKernel('mountOverlay', () => {
  it('shows the union of the layers, the higher layer winning', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    const m = ns.inside(s.merged)
    expect(readdirSync(m).sort(), 'the merged dir holds every layer\'s top-level names').toEqual(['bin', 'data', 'etc'])
    expect(readFileSync(join(m, 'etc/motd'), 'utf8'), 'the same file in two lower layers: the topmost (lower[0]) must win').toBe('from top\n')
    expect(readFileSync(join(m, 'etc/os-release'), 'utf8')).toBe('base\n')
  })

  it('copies a file up on write and leaves the lower layer untouched', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    writeFileSync(ns.inside(join(s.merged, 'etc/os-release')), 'changed\n')
    expect(readFileSync(join(s.upper, 'etc/os-release'), 'utf8'), 'the written file must be copied up into upperdir').toBe('changed\n')
    expect(readFileSync(join(s.base, 'etc/os-release'), 'utf8'), 'a lower layer is read-only: it must never change').toBe('base\n')
    expect(existsSync(join(s.upper, 'etc/motd')), 'only the written file is copied up').toBe(false)
  })

  it('leaves a whiteout (a 0/0 character device) in the upper layer for a deleted file', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    rmSync(ns.inside(join(s.merged, 'data/old.txt')))
    const mark = lstatSync(join(s.upper, 'data/old.txt'))
    expect(mark.isCharacterDevice() && mark.rdev === 0, 'a deleted lower file is recorded as a 0/0 char device').toBe(true)
    expect(isWhiteout(mark), 'isWhiteout() must recognise the mark overlayfs wrote').toBe(true)
    expect(existsSync(join(s.base, 'data/old.txt')), 'the lower layer still has the file').toBe(true)
    expect(existsSync(ns.inside(join(s.merged, 'data/old.txt'))), 'the container no longer sees it').toBe(false)
  })

  it('marks a directory replaced in the upper layer as opaque', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    const data = ns.inside(join(s.merged, 'data'))
    rmSync(data, { recursive: true })
    mkdirSync(data)
    writeFileSync(join(data, 'new.txt'), 'new\n')
    expect(await isOpaque(ns.helper, join(s.upper, 'data')), 'the new dir hides the old one: trusted.overlay.opaque=y').toBe(true)
    expect(await isOpaque(ns.helper, join(s.upper)), 'a dir that was not replaced is not opaque').toBe(false)
    expect(readdirSync(data), 'nothing of the lower data/ may show through an opaque dir').toEqual(['new.txt'])
  })

  it('unmounts and leaves nothing mounted', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    expect(await ns.mounts(), 'mounted: the namespace lists the overlay').toContain(` ${s.merged} overlay `)
    await unmountOverlay(ns.helper, s.merged)
    expect(await ns.mounts(), `${s.merged} is still mounted after unmountOverlay()`).not.toContain(s.merged)
    expect(readdirSync(ns.inside(s.merged)), 'the mount point is an empty dir again').toEqual([])
  })

  it('still unmounts a union a process holds busy, lazily', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    await ns.helper.chdir(join(s.merged, 'etc'))
    await unmountOverlay(ns.helper, s.merged)
    expect(await ns.mounts(), 'a busy union must be detached (umount2 with "detach") after EBUSY, not left mounted').not.toContain(s.merged)
  })
})

describeKernel('whiteouts made by hand', () => {
  it('hide a lower file (makeWhiteout) and a lower directory\'s contents (makeOpaque)', async () => {
    const s = stack()
    const ns = await mountNamespace()
    mkdirSync(join(s.upper, 'etc'))
    await makeWhiteout(ns.helper, join(s.upper, 'etc/motd'))
    const mark = lstatSync(join(s.upper, 'etc/motd'))
    expect(mark.isCharacterDevice() && mark.rdev === 0, `makeWhiteout made a ${mark.isFile() ? 'regular file' : 'non-device'}: overlayfs reads only a character device 0/0 as "deleted"`).toBe(true)
    mkdirSync(join(s.upper, 'data/sub'), { recursive: true })
    writeFileSync(join(s.upper, 'data/sub/only.txt'), 'only\n')
    await makeOpaque(ns.helper, join(s.upper, 'data/sub'))
    await mountOverlay(ns.helper, s, s.merged)
    expect(readdirSync(ns.inside(join(s.merged, 'etc'))).sort(), 'a whiteout in upper hides motd of every lower layer').toEqual(['localtime', 'os-release'])
    expect(readdirSync(ns.inside(join(s.merged, 'data/sub'))), 'the lower data/sub/deep.txt shows through: the opaque mark is the xattr trusted.overlay.opaque with the value "y", on data/sub itself').toEqual(['only.txt'])
    expect(readdirSync(ns.inside(join(s.merged, 'data'))).sort(), 'data/old.txt vanished, so data/ (the parent) was made opaque too: only the directory given may hide its lower contents').toEqual(['old.txt', 'sub'])
  })

  it('are listed as changes, the way docker diff does', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    const m = ns.inside(s.merged)
    writeFileSync(join(m, 'etc/motd'), 'edited\n')
    writeFileSync(join(m, 'etc/new'), 'new\n')
    rmSync(join(m, 'data/old.txt'))
    rmSync(join(m, 'etc/localtime'))
    writeFileSync(join(m, 'etc/localtime'), 'UTC\n')
    expect(changes(s), 'docker diff reads the upper dir alone: D for a whiteout (a 0/0 char device, not any file with rdev 0), C when ANY lower layer has the path (lstat: a dangling symlink is there too), A otherwise; paths start with "/"').toEqual([
      { kind: 'C', path: '/data' },
      { kind: 'D', path: '/data/old.txt' },
      { kind: 'C', path: '/etc' },
      { kind: 'C', path: '/etc/localtime' },
      { kind: 'C', path: '/etc/motd' },
      { kind: 'A', path: '/etc/new' },
    ])
  })
})

describe('the overlay2 layout', () => {
  it('gives every layer diff, work, merged and a short link in l/', () => {
    const root = tempDir()
    const base = createLayer(root, 'base')
    for (const d of [base.diff, base.work, base.merged]) expect(existsSync(d), `${d} is missing`).toBe(true)
    const link = readFileSync(join(root, 'base', 'link'), 'utf8')
    expect(link, 'link holds a short name (26 characters in Docker)').toMatch(/^[A-Z0-9]{26}$/)
    expect(readlinkSync(join(root, 'l', link)), 'l/<link> points at the layer\'s diff').toBe('../base/diff')
    expect(existsSync(join(root, 'base', 'lower')), 'a base layer has no parents: no lower file').toBe(false)
  })

  it('writes the whole parent chain, nearest first, into each layer\'s lower file', () => {
    const root = tempDir()
    createLayer(root, 'a')
    createLayer(root, 'b', 'a')
    createLayer(root, 'c', 'b')
    const link = (id: string) => readFileSync(join(root, id, 'link'), 'utf8')
    expect(readFileSync(join(root, 'c', 'lower'), 'utf8'), 'a lower file names the whole chain, nearest first: the parent\'s link, then the parent\'s own lower file').toBe(`l/${link('b')}:l/${link('a')}`)
    expect(overlayDirs(root, 'c')).toEqual({
      lower: [join(root, 'l', link('b')), join(root, 'l', link('a'))],
      upper: join(root, 'c', 'diff'),
      work: join(root, 'c', 'work'),
    })
  })
})

describe('the -init layer', () => {
  it('drops nameservers on the host\'s loopback and falls back to public ones', () => {
    expect(resolvConf('nameserver 127.0.0.53\noptions edns0\n'), 'systemd-resolved\'s stub is unreachable from a container').toBe(
      'options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
    )
    expect(resolvConf('search lan\nnameserver 10.0.0.1\nnameserver ::1\n')).toBe('search lan\nnameserver 10.0.0.1\n')
  })

  it('maps localhost and the container\'s own hostname in /etc/hosts', () => {
    const hosts = hostsFile('c0ffee')
    expect(hosts).toMatch(/^127\.0\.0\.1\s+localhost$/m)
    expect(hosts, 'the container must resolve its own hostname').toMatch(/\sc0ffee$/m)
  })
})

describeKernel('container layers', () => {
  function image(root: string): string {
    populate(createLayer(root, 'img-base').diff, { 'etc/os-release': 'image\n', 'etc/hostname': 'image-host\n' })
    populate(createLayer(root, 'img-top', 'img-base').diff, { 'app/run': 'run\n' })
    return 'img-top'
  }

  it('put an -init layer with hostname, hosts and resolv.conf between the image and the rw layer', async () => {
    const root = tempDir()
    const dirs = createContainerLayers(root, 'c1', image(root), { hostname: 'c1host', hostResolvConf: 'nameserver 10.1.1.1\n' })
    expect(readdirSync(join(root, 'img-top/diff')), 'the image\'s top layer changed: init files go into <id>-init/diff, never into an image layer, which every container shares').toEqual(['app'])
    const hostname = join(root, 'c1-init/diff/etc/hostname')
    expect(existsSync(hostname) && readFileSync(hostname, 'utf8'), 'c1-init/diff/etc/hostname must hold the hostname and a newline').toBe('c1host\n')
    expect(dirs.upper, 'the container writes into its own layer, not into the init layer').toBe(join(root, 'c1', 'diff'))
    expect(dirs.lower.length, 'lower = init layer + the image\'s two layers').toBe(3)
    const ns = await mountNamespace()
    const merged = join(root, 'c1', 'merged')
    await mountOverlay(ns.helper, dirs, merged)
    const etc = ns.inside(join(merged, 'etc'))
    expect(readFileSync(join(etc, 'hostname'), 'utf8'), 'the init layer\'s hostname must hide the image\'s').toBe('c1host\n')
    expect(readFileSync(join(etc, 'resolv.conf'), 'utf8')).toBe('nameserver 10.1.1.1\n')
    expect(readFileSync(join(etc, 'hosts'), 'utf8')).toContain('c1host')
    expect(readFileSync(join(etc, 'os-release'), 'utf8')).toBe('image\n')
  })

  it('share the image\'s layers between two containers, which never see each other\'s changes', async () => {
    const root = tempDir()
    const top = image(root)
    const one = createContainerLayers(root, 'one', top, { hostname: 'one' })
    const two = createContainerLayers(root, 'two', top, { hostname: 'two' })
    expect(one.lower.slice(1), 'both containers stack on the very same image layers').toEqual(two.lower.slice(1))
    const ns = await mountNamespace()
    const [m1, m2] = [join(root, 'one', 'merged'), join(root, 'two', 'merged')]
    await mountOverlay(ns.helper, one, m1)
    await mountOverlay(ns.helper, two, m2)
    writeFileSync(ns.inside(join(m1, 'etc/os-release')), 'one was here\n')
    rmSync(ns.inside(join(m1, 'app/run')))
    expect(readFileSync(ns.inside(join(m2, 'etc/os-release')), 'utf8'), 'a change in container one leaked into container two').toBe('image\n')
    expect(existsSync(ns.inside(join(m2, 'app/run'))), 'a delete in container one leaked into container two').toBe(true)
    expect(readFileSync(join(root, 'img-base/diff/etc/os-release'), 'utf8'), 'the image layer changed').toBe('image\n')
    await unmountOverlay(ns.helper, m1)
    await unmountOverlay(ns.helper, m2)
    expect(await ns.mounts(), 'both overlays must be gone after unmounting').not.toMatch(/ overlay /)
  })
})
