import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLayer, overlayDirs } from '#ch/05-layers/driver.ts'
import { createContainerLayers, hostsFile, resolvConf } from '#ch/05-layers/init.ts'
import { mountOverlay, overlayOptions, unmountOverlay, type OverlayDirs } from '#ch/05-layers/overlay.ts'
import { changes, isOpaque, makeOpaque, makeWhiteout } from '#ch/05-layers/whiteout.ts'
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

/** The parts of an overlay data string, option by option (the kernel does not mind their order). */
function parseOptions(data: string): Record<string, string> {
  return Object.fromEntries(data.split(',').map((option) => {
    const eq = option.indexOf('=')
    return eq === -1 ? [option, ''] : [option.slice(0, eq), option.slice(eq + 1)]
  }))
}

/** What kind of file `path` is, in words, for a failure message. */
function describeEntry(path: string): string {
  const stats = lstatSync(path, { throwIfNoEntry: false })
  if (!stats) return 'nothing'
  if (stats.isFile()) return `a regular file of ${stats.size} bytes`
  if (stats.isCharacterDevice()) return `a character device ${stats.rdev >> 8}:${stats.rdev & 0xff}`
  return stats.isDirectory() ? 'a directory' : 'neither a file nor a character device'
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
    const options = parseOptions(overlayOptions({ lower: ['/l/top', '/l/mid', '/l/base'], upper: '/c/diff', work: '/c/work' }))
    expect(Object.keys(options).sort(), 'the options an overlay with an upper layer takes (man 8 mount, "Mount options for overlay"), each once').toEqual(['lowerdir', 'upperdir', 'workdir'])
    expect(options.lowerdir, 'lower[0] is the topmost layer: in which order does the kernel read lowerdir, and what separates its entries? (overlayfs.rst, "Multiple lower layers")').toBe('/l/top:/l/mid:/l/base')
    expect([options.upperdir, options.workdir]).toEqual(['/c/diff', '/c/work'])
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

  it('leaves a whiteout in the upper layer for a deleted file', async () => {
    const s = stack()
    const ns = await mountNamespace()
    mkdirSync(join(s.upper, 'bin'))
    writeFileSync(join(s.upper, 'bin/plain'), '')
    await ns.helper.mknod(join(s.upper, 'bin/null'), 'c', 0o666, 1, 3)
    await mountOverlay(ns.helper, s, s.merged)
    rmSync(ns.inside(join(s.merged, 'data/old.txt')))
    const found = await changes(ns.helper, s)
    expect(found.find((c) => c.path === '/bin/plain')?.kind, 'changes() took an empty regular file (or a directory) for a whiteout: what else does every regular file share with the mark?').toBe('A')
    expect(found.find((c) => c.path === '/bin/null')?.kind, 'changes() took a device like /dev/null (a character device 1/3) for a whiteout: what sets the mark apart from other devices?').toBe('A')
    expect(found.find((c) => c.path === '/data/old.txt')?.kind, 'changes() must recognise the mark overlayfs left in upper for the deleted data/old.txt as D (look at it: ls -l; overlayfs.rst, "whiteouts and opaque directories")').toBe('D')
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
    expect(await isOpaque(ns.helper, join(s.upper, 'data')), 'isOpaque() must recognise the mark overlayfs put on the replaced data/ in upper (the chapter text\'s "Try it" lists its extended attributes; overlayfs.rst, "whiteouts and opaque directories")').toBe(true)
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

  it('still unmounts a union a process holds busy', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    await ns.helper.chdir(join(s.merged, 'etc'))
    await unmountOverlay(ns.helper, s.merged)
    expect(await ns.mounts(), 'a union a process still uses (its working directory is inside) is still mounted: what does umount2 answer then, and how does Docker get rid of it anyway? (man 2 umount2)').not.toContain(s.merged)
  })
})

describeKernel('whiteouts made by hand', () => {
  it('hide a lower file (makeWhiteout) and a lower directory\'s contents (makeOpaque)', async () => {
    const s = stack()
    const ns = await mountNamespace()
    mkdirSync(join(s.upper, 'etc'))
    await makeWhiteout(ns.helper, join(s.upper, 'etc/motd'))
    const made = describeEntry(join(s.upper, 'etc/motd'))
    mkdirSync(join(s.upper, 'data/sub'), { recursive: true })
    writeFileSync(join(s.upper, 'data/sub/only.txt'), 'only\n')
    await makeOpaque(ns.helper, join(s.upper, 'data/sub'))
    await mountOverlay(ns.helper, s, s.merged)
    expect(readdirSync(ns.inside(join(s.merged, 'etc'))).sort(), `etc/motd still shows: makeWhiteout() made ${made}, which overlayfs does not read as "deleted" (compare with the mark it leaves itself, test "leaves a whiteout"; overlayfs.rst, "whiteouts and opaque directories")`).toEqual(['localtime', 'os-release'])
    expect(readdirSync(ns.inside(join(s.merged, 'data/sub'))), 'the lower data/sub/deep.txt shows through data/sub: overlayfs did not take makeOpaque()\'s mark (which attribute, which value, on which directory? compare with the mark overlayfs leaves itself, test "marks a directory replaced")').toEqual(['only.txt'])
    expect(readdirSync(ns.inside(join(s.merged, 'data'))).sort(), 'data/old.txt vanished, so data/ (the parent) was made opaque too: only the directory given may hide its lower contents').toEqual(['old.txt', 'sub'])
  })

  it('are listed as changes, the way docker diff does', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    const m = ns.inside(s.merged)
    writeFileSync(join(m, 'etc/motd'), 'edited\n')
    writeFileSync(join(m, 'etc/os-release'), 'edited\n')
    writeFileSync(join(m, 'etc/new'), 'new\n')
    rmSync(join(m, 'data/old.txt'))
    rmSync(join(m, 'etc/localtime'))
    writeFileSync(join(m, 'etc/localtime'), 'UTC\n')
    const found = await changes(ns.helper, s)
    expect(found.filter((c) => c.kind === 'D'), 'D for deleted names only: does changes() take an ordinary file for a whiteout?').toEqual([{ kind: 'D', path: '/data/old.txt' }])
    expect(found.find((c) => c.path === '/etc/motd')?.kind, '/etc/motd is in the top lower layer and was edited: C').toBe('C')
    expect(found.find((c) => c.path === '/etc/os-release')?.kind, '/etc/os-release is only in the BASE layer and was edited: C when ANY lower layer has the path, not only the nearest').toBe('C')
    expect(found.find((c) => c.path === '/etc/localtime')?.kind, '/etc/localtime is a symlink of the base layer, absolute, so it dangles on the host; the container replaced it by a file: C, since the base layer has the entry itself, whatever it points at').toBe('C')
    expect(found, 'docker diff reads the upper dir alone: every level, paths from "/", sorted').toEqual([
      { kind: 'C', path: '/data' },
      { kind: 'D', path: '/data/old.txt' },
      { kind: 'C', path: '/etc' },
      { kind: 'C', path: '/etc/localtime' },
      { kind: 'C', path: '/etc/motd' },
      { kind: 'A', path: '/etc/new' },
      { kind: 'C', path: '/etc/os-release' },
    ])
  })

  it('list a replaced directory as docker diff does: deleted, and everything in it added', async () => {
    const s = stack()
    const ns = await mountNamespace()
    mkdirSync(join(s.upper, 'fresh'))
    await makeOpaque(ns.helper, join(s.upper, 'fresh'))
    await mountOverlay(ns.helper, s, s.merged)
    const data = ns.inside(join(s.merged, 'data'))
    rmSync(data, { recursive: true })
    mkdirSync(data)
    writeFileSync(join(data, 'old.txt'), 'again\n')
    mkdirSync(join(data, 'sub'))
    writeFileSync(join(data, 'new.txt'), 'new\n')
    const found = await changes(ns.helper, s)
    expect(found.find((c) => c.path === '/data')?.kind, 'data/ was removed and made anew, so overlayfs marked it opaque in upper: its whole lower content is gone, which docker diff reports as D (moby\'s overlayDeletedFile in pkg/archive)').toBe('D')
    expect(found.filter((c) => c.path.startsWith('/data/')), 'below an opaque directory no lower layer shows through: data/old.txt and data/sub have the names of lower entries but are new files, so A').toEqual([
      { kind: 'A', path: '/data/new.txt' },
      { kind: 'A', path: '/data/old.txt' },
      { kind: 'A', path: '/data/sub' },
    ])
    expect(found.find((c) => c.path === '/fresh')?.kind, 'an opaque directory that no lower layer has deleted nothing: A').toBe('A')
    expect(found.map((c) => c.path), 'each path once, sorted').toEqual(['/data', '/data/new.txt', '/data/old.txt', '/data/sub', '/fresh'])
  })
})

describe('the overlay2 layout', () => {
  it('gives every layer diff, work, merged and a short link in l/', () => {
    const root = tempDir()
    const base = createLayer(root, 'base')
    for (const d of [base.diff, base.work, base.merged]) expect(existsSync(d), `${d} is missing`).toBe(true)
    const link = readFileSync(join(root, 'base', 'link'), 'utf8')
    expect(link, 'link holds the short name alone, without a newline (26 characters in Docker)').toMatch(/^[A-Z0-9]{26}$/)
    expect(readlinkSync(join(root, 'l', link)), 'l/<link> points at the layer\'s diff').toBe('../base/diff')
    expect(existsSync(join(root, 'base', 'lower')), 'a base layer has no parents: no lower file').toBe(false)
  })

  it('writes the whole parent chain, nearest first, into each layer\'s lower file', () => {
    const root = tempDir()
    createLayer(root, 'a')
    createLayer(root, 'b', 'a')
    createLayer(root, 'c', 'b')
    const link = (id: string) => readFileSync(join(root, id, 'link'), 'utf8')
    const lower = readFileSync(join(root, 'c', 'lower'), 'utf8')
    expect(lower.endsWith('\n'), 'the lower file ends with a newline, which overlayDirs() and Docker would take for part of the last layer\'s name').toBe(false)
    expect(lower, 'c\'s lower file must name the whole chain below it, nearest first, by short name (moby\'s overlay2 getLower; chapter text, "The layout on disk")').toBe(`l/${link('b')}:l/${link('a')}`)
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
    expect(resolvConf('search lan\nnameserver 10.0.0.1\nnameserver ::1\n'), '::1 is the host\'s loopback too').toBe('search lan\nnameserver 10.0.0.1\n')
    expect(resolvConf('nameserver 127.0.1.1\nnameserver 192.168.1.1\n'), 'a local dnsmasq (127.0.1.1) is on the host\'s loopback too: all of 127.0.0.0/8 is').toBe('nameserver 192.168.1.1\n')
  })

  it('maps localhost and the container\'s own hostname in /etc/hosts', () => {
    const hosts = hostsFile('c0ffee')
    expect(hosts).toMatch(/^127\.0\.0\.1\s+localhost$/m)
    expect(hosts, 'the container must resolve its own hostname, on a loopback address: it has no network of its own yet').toMatch(/^(127(\.\d{1,3}){3}|::1)[ \t]+([^\s]+[ \t]+)*c0ffee$/m)
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
    const left = await ns.mounts()
    expect([m1, m2].filter((m) => left.includes(` ${m} `)), 'still mounted after unmountOverlay()').toEqual([])
  })
})
