import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { createLayer, layerPaths, overlayDirs } from '#ch/05-layers/driver.ts'
import { createContainerLayers, FALLBACK_NAMESERVERS, resolvConf } from '#ch/05-layers/init.ts'
import { mountOverlay, overlayOptions, unmountOverlay, type OverlayDirs } from '#ch/05-layers/overlay.ts'
import { changes, isOpaque, makeOpaque, makeWhiteout } from '#ch/05-layers/whiteout.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { tempDir } from '../support/files.ts'
import { mountNamespace } from '../support/mountns.ts'
import { startHelper } from '../support/helper.ts'
import { asDockerdReads, mountAsDockerd, processSnapshot, snapshotChanges } from '../support/overlay2.ts'

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
  if (stats.isCharacterDevice()) return 'a character device'
  return stats.isDirectory() ? 'a directory' : 'neither a file nor a character device'
}

type Namespace = Awaited<ReturnType<typeof mountNamespace>>

/**
 * Let the kernel mark `upper`: mount a throw-away union of `lower` under it in the test's own
 * mount namespace, do `act` through its merged view, unmount. Whatever a delete there leaves in
 * `upper` is overlayfs's own doing, never the test's.
 */
async function throughKernel(ns: Namespace, lower: string[], upper: string, act: (merged: string) => void): Promise<void> {
  const merged = await union(ns, lower, upper)
  try {
    act(ns.inside(merged))
  } finally {
    await ns.helper.umount2(merged)
  }
}

/** The kernel's answer to "do the lower layers show this path?": the lowers mounted alone, with an empty upper. */
async function lowerWitness(ns: Namespace, lower: string[]) {
  const at = await union(ns, lower)
  return (path: string) => lstatSync(ns.inside(join(at, path)), { throwIfNoEntry: false }) !== undefined
}

/** `lower` and `upper` (an empty one when not given) mounted as a union in a scratch folder; gives the mount point. */
async function union(ns: Namespace, lower: string[], upper?: string): Promise<string> {
  const scratch = tempDir()
  const [fresh, work, merged] = ['upper', 'work', 'merged'].map((d) => join(scratch, d))
  for (const d of [fresh!, work!, merged!]) mkdirSync(d)
  await ns.helper.mount('overlay', merged!, 'overlay', [], overlayOptions({ lower, upper: upper ?? fresh!, work: work! }))
  return merged!
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

describeKernel('overlayOptions', () => {
  it('three lower layers that all hold etc/motd (lower[0] the topmost), mounted with the string', async () => {
    const root = tempDir()
    const [top, mid, base, upper, work, merged] = ['top', 'mid', 'base', 'upper', 'work', 'merged'].map((d) => join(root, d))
    for (const [dir, name] of [[top, 'top'], [mid, 'mid'], [base, 'base']] as const)
      populate(dir, { 'etc/motd': `from ${name}\n`, [`etc/${name}-only`]: `${name}\n` })
    for (const d of [upper!, work!, merged!]) mkdirSync(d)
    const ns = await mountNamespace()
    const data = overlayOptions({ lower: [top!, mid!, base!], upper: upper!, work: work! })
    const failed = await caught(() => ns.helper.mount('overlay', merged!, 'overlay', [], data))
    expect(failed?.message, `the kernel refused overlayOptions()'s string "${data}": which options does an overlay with an upper layer take (man 8 mount, "Mount options for overlay")?`).toBeUndefined()
    const m = ns.inside(merged!)
    expect(readdirSync(join(m, 'etc')).sort(), 'the union shows every lower layer\'s files').toEqual(['base-only', 'mid-only', 'motd', 'top-only'])
    expect(readFileSync(join(m, 'etc/motd'), 'utf8'), 'etc/motd is in all three lower layers and lower[0] is the topmost: its version must win. In which order does the kernel read lowerdir? (overlayfs.rst, "Multiple lower layers")').toBe('from top\n')
    writeFileSync(join(m, 'etc/base-only'), 'written\n')
    expect(readFileSync(join(upper!, 'etc/base-only'), 'utf8'), 'a write through the union must land in dirs.upper').toBe('written\n')
    expect(readFileSync(join(base!, 'etc/base-only'), 'utf8'), 'a lower layer changed under a write through the union').toBe('base\n')
  })
})

describeKernel('overlayOptions, folders named by users', () => {
  it('docker run on layers kept under folders whose names their users chose', async () => {
    const root = tempDir()
    const ns = await mountNamespace()
    // The names are made here: every printable ASCII character but letters, digits and "/", one per folder name.
    const marks = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => !/[A-Za-z0-9/]/.test(c))
    for (const c of marks) {
      const at = join(root, `x${c.charCodeAt(0)}`)
      const [odd, plain, oddUpper, plainUpper] = [`lay${c}er`, 'layer', `up${c}per`, 'upper'].map((d) => join(at, d))
      populate(odd!, { who: `the directory named lay${c}er\n` })
      populate(plain!, { who: 'the directory named layer\n' })
      for (const d of [oddUpper!, plainUpper!]) mkdirSync(d)
      for (const [lower, upper] of [[odd!, plainUpper!], [plain!, oddUpper!]] as const) {
        const named = lower === odd ? lower : upper
        const refused = await caught(() => overlayOptions({ lower: [lower], upper, work: join(at, `work-${lower === odd}`) }))
        if (refused) {
          expect(refused.message, `overlayOptions() refused a stack with ${named} in it: does its Error name that path?`).toContain(named)
          continue
        }
        const [work, merged] = [join(at, `work-${lower === odd}`), join(at, `merged-${lower === odd}`)]
        for (const d of [work, merged]) mkdirSync(d)
        const data = overlayOptions({ lower: [lower], upper, work })
        const failed = await caught(() => ns.helper.mount('overlay', merged, 'overlay', [], data))
        const shows = failed ? `nothing (${failed.message})` : readFileSync(ns.inside(join(merged, 'who')), 'utf8').trim()
        if (!failed) {
          await caught(async () => writeFileSync(ns.inside(join(merged, 'written')), 'x\n'))
          await ns.helper.umount2(merged)
        }
        const landed = [oddUpper!, plainUpper!].find((u) => existsSync(join(u, 'written'))) ?? 'nowhere'
        if (existsSync(join(landed, 'written'))) rmSync(join(landed, 'written'))
        if (lower === odd) expect(shows, `the only lower layer is ${odd}; mounted with overlayOptions()'s string, the union shows ${shows}. How did the kernel read that string (compare with /proc/PID/mounts)?`).toBe(`the directory named lay${c}er`)
        else expect([shows, landed], `the upper layer is ${oddUpper}; mounted with overlayOptions()'s string, the union shows ${shows}, and a write through it landed in ${landed}. How did the kernel read that string (compare with /proc/PID/mounts)?`).toEqual(['the directory named layer', oddUpper])
      }
    }
    const none = await caught(() => overlayOptions({ lower: [], upper: join(root, 'u'), work: join(root, 'w') }))
    expect(none?.message, `overlayOptions() of a stack with nothing below its upper layer ${none ? `failed with "${none.message}"` : 'resolved'}: what would the kernel make of it, and would the caller learn which part was missing?`).toMatch(/lower/)
  })
})

describeKernel('mountOverlay', () => {
  it('two lower layers that both hold etc/motd', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    const m = ns.inside(s.merged)
    expect(readdirSync(m).sort(), 'the merged dir holds every layer\'s top-level names').toEqual(['bin', 'data', 'etc'])
    expect(readFileSync(join(m, 'etc/motd'), 'utf8'), 'etc/motd is in both lower layers and lower[0] is the top one: which lowerdir entry does the kernel show? (overlayfs.rst, "Multiple lower layers")').toBe('from top\n')
    expect(readFileSync(join(m, 'etc/os-release'), 'utf8')).toBe('base\n')
  })

  it('a write through the union to a file of the base layer', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    writeFileSync(ns.inside(join(s.merged, 'etc/os-release')), 'changed\n')
    expect(readFileSync(join(s.upper, 'etc/os-release'), 'utf8'), 'the written file must be copied up into upperdir').toBe('changed\n')
    expect(readFileSync(join(s.base, 'etc/os-release'), 'utf8'), 'a lower layer is read-only: it must never change').toBe('base\n')
    expect(existsSync(join(s.upper, 'etc/motd')), 'only the written file is copied up').toBe(false)
  })

  it('a container that deleted a file of its image and made files of its own', async () => {
    const s = stack()
    const ns = await mountNamespace()
    mkdirSync(join(s.upper, 'bin'))
    writeFileSync(join(s.upper, 'bin/plain'), '')
    await execa('cp', ['-a', '/dev/null', join(s.upper, 'bin/null')])
    await mountOverlay(ns.helper, s, s.merged)
    rmSync(ns.inside(join(s.merged, 'data/old.txt')))
    const found = await changes(ns.helper, s)
    const mark = describeEntry(join(s.upper, 'data/old.txt'))
    const said = (path: string) => found.find((c) => c.path === path)?.kind ?? 'nothing'
    expect(said('/bin/plain'), `/bin/plain: changes() said ${said('/bin/plain')}. The container made it (: > /bin/plain), and upper holds ${describeEntry(join(s.upper, 'bin/plain'))} there; for data/old.txt, deleted through the union, the kernel left ${mark}. What does each of the two stand for, and how did changes() read them?`).toBe('A')
    expect(said('/bin/null'), `/bin/null: changes() said ${said('/bin/null')}. The container made it (cp -a /dev/null /bin/null), and upper holds ${describeEntry(join(s.upper, 'bin/null'))} there; for data/old.txt, deleted through the union, the kernel left ${mark}. What does each of the two stand for, and how did changes() read them?`).toBe('A')
    expect(found.find((c) => c.path === '/data/old.txt')?.kind, `data/old.txt was deleted through the union and the kernel left ${mark} in upper for it; changes() said ${found.find((c) => c.path === '/data/old.txt')?.kind ?? 'nothing'} (overlayfs.rst, "whiteouts and opaque directories")`).toBe('D')
    expect(existsSync(join(s.base, 'data/old.txt')), 'the lower layer still has the file').toBe(true)
    expect(existsSync(ns.inside(join(s.merged, 'data/old.txt'))), 'the container no longer sees it').toBe(false)
  })

  it('a lower directory removed and made anew through the union', async () => {
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

  it('mounting, then unmounting an idle union', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    expect(await ns.mounts(), 'mounted: the namespace lists the overlay').toContain(` ${s.merged} overlay `)
    await unmountOverlay(ns.helper, s.merged)
    expect(await ns.mounts(), `${s.merged} is still mounted after unmountOverlay()`).not.toContain(s.merged)
    expect(readdirSync(ns.inside(s.merged)), 'the mount point is an empty dir again').toEqual([])
  })

  it('docker stop of a container that left a process behind, under a remapped root, on a busy host', async () => {
    const s = stack()
    const ns = await mountNamespace()
    // dockerd --userns-remap hands the mount point to the remapped root; this helper runs with umask 027.
    chownSync(s.merged, 100000, 100000)
    chmodSync(s.merged, 0o2751)
    const owner = (path: string) => {
      const { uid, gid, mode } = lstatSync(path)
      return `uid ${uid}, gid ${gid}, mode ${(mode & 0o7777).toString(8).padStart(4, '0')}`
    }
    const before = owner(s.merged)
    await ns.helper.umask(0o027)
    await mountOverlay(ns.helper, s, s.merged)
    await ns.helper.chdir(join(s.merged, 'etc')) // the process the container left behind
    // A mount namespace made while the container runs (a systemd service's, another
    // container's) starts as a copy of every mount, the union too.
    const other = startHelper()
    await other.setns(`/proc/${ns.helper.pid}/ns/mnt`, 'mount')
    await other.unshare(['mount'])
    const holds = () => readFileSync(`/proc/${other.pid}/mounts`, 'utf8').includes(` ${s.merged} `)
    expect(holds(), 'test set-up: the other namespace holds a copy of the union').toBe(true)
    const failed = await caught(() => unmountOverlay(ns.helper, s.merged))
    expect(failed?.message, `unmountOverlay() of ${s.merged}, while a process's working directory is inside it, failed: what did the kernel answer, and what of the container's mount would docker stop leave?`).toBeUndefined()
    expect(await ns.mounts(), `unmountOverlay() of ${s.merged} resolved, and the helper's mount namespace still lists it`).not.toContain(` ${s.merged} `)
    expect(holds(), `unmountOverlay() resolved, and /proc/${other.pid}/mounts still lists the union at ${s.merged}: PID ${other.pid}'s mount namespace was made while the container ran. What there can still read and write the container's layers, and for how long? What can reach a mount in a namespace your unmount never enters?`).toBe(false)
    expect(owner(ns.inside(s.merged)), `before the mount, ${s.merged} was a folder of ${before}; after docker stop it is one of ${owner(ns.inside(s.merged))}, and the next docker start puts the container's / there. What became of the folder?`).toBe(before)
    const again = await caught(() => mountOverlay(ns.helper, s, s.merged))
    expect(again?.message, 'the same union, mounted again where unmountOverlay() took it from (docker start after docker stop), failed').toBeUndefined()
  })

  it('docker stop of a container stopped already', async () => {
    const s = stack()
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, s, s.merged)
    await unmountOverlay(ns.helper, s.merged)
    const again = await caught(() => unmountOverlay(ns.helper, s.merged))
    expect(again?.code, `unmountOverlay() of ${s.merged}, where nothing is mounted any more, ${again ? `failed with ${again.message}` : 'resolved'}: its caller would take it for a union it removed. What did the kernel answer, and where did its answer go?`).toBe('EINVAL')
  })
})

describeKernel('marks made by hand', () => {
  it('makeWhiteout on etc/motd and makeOpaque on data/sub, then mounted', async () => {
    const s = stack()
    const ns = await mountNamespace()
    mkdirSync(join(s.upper, 'etc'))
    await makeWhiteout(ns.helper, join(s.upper, 'etc/motd'))
    const made = describeEntry(join(s.upper, 'etc/motd'))
    mkdirSync(join(s.upper, 'data/sub'), { recursive: true })
    writeFileSync(join(s.upper, 'data/sub/only.txt'), 'only\n')
    await makeOpaque(ns.helper, join(s.upper, 'data/sub'))
    // The same two operations done by the kernel, through a union of the same lower layers.
    const kernel = join(s.root, 'kernel-upper')
    mkdirSync(kernel)
    await throughKernel(ns, s.lower, kernel, (m) => {
      rmSync(join(m, 'etc/motd'))
      rmSync(join(m, 'data/sub'), { recursive: true })
      mkdirSync(join(m, 'data/sub'))
    })
    const kernelMade = describeEntry(join(kernel, 'etc/motd'))
    const kind = (path: string) => { const st = lstatSync(path, { throwIfNoEntry: false }); return st && { type: st.mode & 0o170000, rdev: st.rdev } }
    expect(kind(join(s.upper, 'etc/motd')), `makeWhiteout() made ${made} at etc/motd; deleting etc/motd through a union of the same layers, the kernel left ${kernelMade} (ls -l both)`).toEqual(kind(join(kernel, 'etc/motd')))
    await mountOverlay(ns.helper, s, s.merged)
    expect(readdirSync(ns.inside(join(s.merged, 'etc'))).sort(), `etc/motd still shows: makeWhiteout() made ${made}, which overlayfs does not read as "deleted"; the kernel left ${kernelMade} for the same delete`).toEqual(['localtime', 'os-release'])
    expect(readdirSync(ns.inside(join(s.merged, 'data/sub'))), 'the lower data/sub/deep.txt shows through data/sub: overlayfs did not take makeOpaque()\'s mark (which attribute, which value, on which directory? compare with what the kernel left on data/sub when this test removed and made it anew through a union: getfattr -d -m - in the chapter text\'s "Try it")').toEqual(['only.txt'])
    expect(readdirSync(ns.inside(join(s.merged, 'data'))).sort(), 'data/old.txt vanished from the union: data/, the parent of the directory makeOpaque() was given, hides its lower contents too').toEqual(['old.txt', 'sub'])
  })
})

describeKernel('isOpaque', () => {
  it('upper directories whose opaque attribute holds other values, and a path that is not there', async () => {
    const s = stack()
    const ns = await mountNamespace()
    // Values set by the test itself (not through makeOpaque): which of them hide data/sub's lower files is the kernel's say.
    const values = ['y', 'x', 'yes', 'Y', '']
    for (const value of values) {
      const upper = join(s.root, `upper-${values.indexOf(value)}`)
      mkdirSync(join(upper, 'data/sub'), { recursive: true })
      if (value !== '') await ns.helper.setxattr(join(upper, 'data/sub'), 'trusted.overlay.opaque', value)
      const merged = await union(ns, s.lower, upper)
      const hidden = !existsSync(ns.inside(join(merged, 'data/sub/deep.txt')))
      await ns.helper.umount2(merged)
      const said = await caught(async () => { const got = await isOpaque(ns.helper, join(upper, 'data/sub')); if (got !== hidden) throw new Error(`said ${got}`) })
      expect(said?.message, `data/sub in upper ${value === '' ? 'without the attribute' : `with the attribute's value ${JSON.stringify(value)}`}: isOpaque() ${said?.message ?? ''}, and the kernel, mounting it over the lower layers, ${hidden ? 'hid' : 'showed'} the lower data/sub/deep.txt. Which values does overlayfs honour (overlayfs.rst, "whiteouts and opaque directories")?`).toBeUndefined()
    }
    const gone = join(s.upper, 'no-such-dir')
    const failed = await caught(() => isOpaque(ns.helper, gone))
    expect(failed?.code, `isOpaque() of ${gone}, which does not exist, ${failed ? `failed with ${failed.message}` : 'answered as if it were a directory'}: a caller walking a layer would take a path that vanished (or a typo) for a plain directory. Which of getxattr's failures mean "no mark", and which mean something else? (man 2 getxattr, ERRORS)`).toBe('ENOENT')
  })
})

describeKernel('changes()', () => {
  it('docker diff of a container that edited, added, deleted and replaced files of its image', async () => {
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
    const said = (path: string) => found.find((c) => c.path === path)?.kind ?? 'nothing'
    const deleted = found.filter((c) => c.kind === 'D').map((c) => c.path)
    expect(deleted, `the container deleted data/old.txt alone; changes() said D for [${deleted.join(', ')}]`).toEqual(['/data/old.txt'])
    expect(said('/etc/motd'), `/etc/motd: changes() said ${said('/etc/motd')}; the container edited it`).toBe('C')
    expect(said('/etc/os-release'), `/etc/os-release: changes() said ${said('/etc/os-release')}; the container edited it, and the image's base layer (${s.base}) holds it: where did changes() look?`).toBe('C')
    expect(said('/etc/localtime'), `/etc/localtime: changes() said ${said('/etc/localtime')}; the container replaced it with a file, and the image's base layer holds it as a symlink to ${readlinkSync(join(s.base, 'etc/localtime'))}: what did changes() find when it looked there?`).toBe('C')
    expect(found, 'the whole list, as docker diff prints it (paths from "/", sorted)').toEqual([
      { kind: 'C', path: '/data' },
      { kind: 'D', path: '/data/old.txt' },
      { kind: 'C', path: '/etc' },
      { kind: 'C', path: '/etc/localtime' },
      { kind: 'C', path: '/etc/motd' },
      { kind: 'A', path: '/etc/new' },
      { kind: 'C', path: '/etc/os-release' },
    ])
  })

  it('docker diff of a container that replaced a directory of its image, on an upper layer with a history', async () => {
    const s = stack()
    const ns = await mountNamespace()
    // upper's fresh/: a directory the kernel made anew over another stack, whose lower layer had one.
    const elsewhere = join(s.root, 'elsewhere')
    populate(elsewhere, { 'fresh/gone.txt': 'gone\n' })
    await throughKernel(ns, [elsewhere], s.upper, (m) => {
      rmSync(join(m, 'fresh'), { recursive: true })
      mkdirSync(join(m, 'fresh'))
    })
    const shown = await lowerWitness(ns, s.lower)
    await mountOverlay(ns.helper, s, s.merged)
    const data = ns.inside(join(s.merged, 'data'))
    rmSync(data, { recursive: true })
    mkdirSync(data)
    writeFileSync(join(data, 'old.txt'), 'again\n')
    mkdirSync(join(data, 'sub'))
    writeFileSync(join(data, 'new.txt'), 'new\n')
    const found = await changes(ns.helper, s)
    const said = (path: string) => found.find((c) => c.path === path)?.kind ?? 'nothing'
    expect(shown('/data') && shown('/data/sub/deep.txt') && !shown('/fresh'), 'test set-up: what the lower layers alone show').toBe(true)
    expect(said('/data'), `/data: changes() said ${said('/data')}. The container removed data/ and made it again through the union. Look at upper's data/ (ls -la, getfattr -d -m -) and at what the lower layers alone show there: what does docker diff print for it? (moby's pkg/archive: overlayDeletedFile and the walk that calls it)`).toBe('D')
    const inside = found.filter((c) => c.path.startsWith('/data/'))
    expect(inside, `data/old.txt and data/sub: changes() said ${inside.map((c) => `${c.kind} ${c.path}`).join(', ')}. The lower layers alone show both names; the container's union shows [${readdirSync(join(data, 'sub')).join(', ')}] in /data/sub, the base layer holds deep.txt there: which lower files does the container still see under /data? (overlayfs.rst, "whiteouts and opaque directories")`).toEqual([
      { kind: 'A', path: '/data/new.txt' },
      { kind: 'A', path: '/data/old.txt' },
      { kind: 'A', path: '/data/sub' },
    ])
    expect(said('/fresh'), `/fresh: changes() said ${said('/fresh')}. Upper's fresh/ is a directory the kernel made anew after a delete, over another stack (look at it as at data/). What do this container's lower layers alone show at /fresh, and what then did the container do there? (moby's pkg/archive: overlayDeletedFile and the walk that calls it)`).toBe('A')
    expect(found.map((c) => c.path), 'each path once, sorted').toEqual(['/data', '/data/new.txt', '/data/old.txt', '/data/sub', '/fresh'])
  })
})

describeKernel('changes() over an image\'s layers', () => {
  /**
   * Three lower layers of an image: the middle one deletes base's etc/gone.conf and srv/www,
   * replaces base's opt/app with a directory of its own and base's usr/share with a file; the
   * top one has a usr/share directory again. The middle layer is the upper dir of a
   * union over base, in which the kernel did those deletes (chapter 06 writes the same marks
   * when it unpacks a layer).
   */
  async function markedImage(ns: Namespace) {
    const root = tempDir()
    const [top, mid, base, upper, work, merged] = ['top', 'mid', 'base', 'upper', 'work', 'merged'].map((d) => join(root, d))
    for (const d of [mid!, upper!, work!, merged!]) mkdirSync(d)
    populate(base!, { 'etc/gone.conf': 'base\n', 'etc/keep.conf': 'base\n', 'opt/app/old.txt': 'base\n', 'opt/app/lib/x.so': 'base\n', 'srv/www/index.html': 'base\n', 'usr/share/doc/readme': 'base\n' })
    await throughKernel(ns, [base!], mid!, (m) => {
      rmSync(join(m, 'etc/gone.conf'))
      rmSync(join(m, 'srv/www'), { recursive: true })
      rmSync(join(m, 'opt/app'), { recursive: true })
      populate(m, { 'opt/app/new.txt': 'mid\n' })
      rmSync(join(m, 'usr/share'), { recursive: true })
      writeFileSync(join(m, 'usr/share'), 'a file now\n')
    })
    populate(top!, { 'etc/top.conf': 'top\n', 'usr/share/top.txt': 'top\n' })
    return { root, lower: [top!, mid!, base!], upper: upper!, work: work!, merged: merged! }
  }

  it('files a container writes where the image\'s layers deleted or replaced something', async () => {
    const ns = await mountNamespace()
    const s = await markedImage(ns)
    const shown = await lowerWitness(ns, s.lower)
    await mountOverlay(ns.helper, s, s.merged)
    const m = ns.inside(s.merged)
    for (const path of ['etc/gone.conf', 'etc/keep.conf', 'opt/app/old.txt', 'opt/app/new.txt', 'srv/www/index.html', 'opt/app/lib/x.so', 'usr/share/doc/readme']) {
      mkdirSync(join(m, path, '..'), { recursive: true })
      writeFileSync(join(m, path), 'written by the container\n')
    }
    const found = await changes(ns.helper, s)
    const asked = ['/etc/gone.conf', '/etc/keep.conf', '/opt/app/old.txt', '/opt/app/new.txt', '/opt/app/lib', '/opt/app/lib/x.so', '/srv/www', '/srv/www/index.html', '/usr/share/doc', '/usr/share/doc/readme']
    // Set-up: these paths are in some lower layer's folder, yet the kernel does not show them.
    for (const path of ['/etc/gone.conf', '/opt/app/old.txt', '/srv/www/index.html', '/usr/share/doc/readme'])
      expect(shown(path) === false && s.lower.some((l) => existsSync(join(l, path))), `test set-up: ${path}`).toBe(true)
    for (const path of asked) {
      const got = found.find((c) => c.path === path)?.kind
      const want = shown(path) ? 'C' : 'A'
      expect(got, `${path}: changes() said ${got ?? 'nothing'}; the kernel's union of the lower layers alone (mounted by this test) ${want === 'C' ? 'shows' : 'does not show'} ${path}. Which lower layer holds it, and what do the layers above that one hold on its way? (overlayfs.rst, "Multiple lower layers" and "whiteouts and opaque directories")`).toBe(want)
    }
    expect(found.map((c) => c.path), 'each path once, sorted; the parents on the way are listed too').toEqual(
      ['/etc', ...asked.slice(0, 2), '/opt', '/opt/app', ...asked.slice(2, 6), '/srv', ...asked.slice(6, 8), '/usr', '/usr/share', ...asked.slice(8)].sort(),
    )
  })
})

/**
 * Layer `id` as overlayDirs() makes it and mountOverlay() mounts it, and what its union shows
 * (nothing when the mount fails); undefined when overlayDirs() refuses the layer.
 */
async function mountedFromFiles(root: string, id: string): Promise<{ dirs: OverlayDirs; shows: string[] } | undefined> {
  if (await caught(() => overlayDirs(root, id))) return undefined
  const dirs = overlayDirs(root, id)
  const ns = await mountNamespace()
  const merged = layerPaths(root, id).merged
  const failed = await caught(() => mountOverlay(ns.helper, dirs, merged))
  return { dirs, shows: failed ? [] : readdirSync(ns.inside(merged)).sort() }
}

describe('the overlay2 layout', () => {
  it('createLayer of a base layer', () => {
    const root = tempDir()
    const base = createLayer(root, 'base')
    for (const d of [base.diff, base.work, base.merged]) expect(existsSync(d), `${d} is missing`).toBe(true)
    const link = readFileSync(join(root, 'base', 'link'), 'utf8')
    const leads = asDockerdReads(root, `l/${link}`)
    expect(leads, `l/${link}, read as dockerd reads it (overlay2's getLowerDirs), leads to ${leads}, not to base's diff: what must the short link hold for any dockerd, under any root, to find the layer?`).toBe(join(root, 'base', 'diff'))
    expect(existsSync(join(root, 'base', 'lower')), 'a base layer has no parents: no lower file').toBe(false)
  })

})

describe('the overlay2 layout, refusals', () => {
  it('docker pull onto a data root that holds layers, some of them whole', async () => {
    const root = tempDir()
    createLayer(root, 'a')
    const link = readFileSync(join(root, 'a', 'link'), 'utf8')
    const links = () => readdirSync(join(root, 'l')).sort()
    const before = links()
    expect((await caught(() => createLayer(root, 'a')))?.message, 'createLayer() of an id that exists: refused, naming it?').toMatch(/\ba\b/)
    expect([readFileSync(join(root, 'a', 'link'), 'utf8'), links()], 'createLayer() of an id that exists changed that layer or the short links').toEqual([link, before])
    expect(() => createLayer(root, 'b', 'nowhere'), 'createLayer() on a parent that does not exist: refused, naming it?').toThrow(/nowhere/)
    // A parent folder without its link file: a layer whose making was cut short, say.
    mkdirSync(join(root, 'half', 'diff'), { recursive: true })
    const failed = await caught(() => createLayer(root, 'c', 'half'))
    expect(failed, 'createLayer() on a parent that has no link file resolved: what does the new layer\'s lower file name then?').toBeInstanceOf(Error)
    const left = [existsSync(join(root, 'c')) && 'a folder c', links().length !== before.length && 'a short link in l/'].filter(Boolean)
    expect(left, `createLayer(c) failed (${failed?.message}) and left ${left.join(' and ')} behind: a second try, once the parent is whole, is refused as "exists", and a dockerd reading the root finds a layer that cannot mount. What will the next pull find there?`).toEqual([])
  })
})

describeKernel('the overlay2 layout, mounted', () => {
  it('docker run of images whose pull a power loss cut short', async () => {
    const cut = tempDir()
    populate(createLayer(cut, 'a').diff, { 'from-a': 'a\n' })
    createLayer(cut, 'b', 'a')
    writeFileSync(join(cut, 'b', 'lower'), '') // what a crash between open(O_TRUNC) and write(2) leaves
    const empty = await mountedFromFiles(cut, 'b')
    if (empty) expect(empty.shows, `b's lower file is empty; overlayDirs(b) gave lower ${JSON.stringify(empty.dirs.lower)}, and mounted, b's union shows [${empty.shows.join(', ')}]: what did the lower file name, and what did overlayDirs() make of it?`).toEqual([])

    const root = tempDir()
    populate(createLayer(root, 'a').diff, { 'from-a': 'a\n' })
    populate(createLayer(root, 'b', 'a').diff, { 'from-b': 'b\n' })
    populate(createLayer(root, 'c', 'b').diff, { 'from-c': 'c\n' })
    createLayer(root, 'd', 'c')
    const lowerFile = join(root, 'd', 'lower')
    const whole = readFileSync(lowerFile, 'utf8')
    writeFileSync(lowerFile, whole.slice(0, whole.lastIndexOf(':'))) // the file as a crash between two writes leaves it
    const got = await mountedFromFiles(root, 'd')
    if (!got) return
    const { dirs, shows } = got
    expect(shows, `d sits on c, b and a, and its lower file lost its end in a crash; overlayDirs(d) gave lower ${JSON.stringify(dirs.lower.map((l) => l.slice(root.length)))}, and mounted, d's union shows [${shows.join(', ')}]. Every entry leads to a layer: how could overlayDirs() have told that the file it read is not the whole chain?`).toEqual(['from-a', 'from-b', 'from-c'])
  })

  it('three layers: a, b on a, c on b', async () => {
    const root = tempDir()
    populate(createLayer(root, 'a').diff, { who: 'a\n', 'from-a': 'a\n' })
    populate(createLayer(root, 'b', 'a').diff, { who: 'b\n', 'from-b': 'b\n' })
    createLayer(root, 'c', 'b')
    // dockerd reads the lower file back on its own: the format is the contract.
    const lower = readFileSync(join(root, 'c', 'lower'), 'utf8')
    const leadsTo = lower.split(':').map((entry) => asDockerdReads(root, entry))
    const diffs = { [join(root, 'a', 'diff')]: 'a\'s diff', [join(root, 'b', 'diff')]: 'b\'s diff' }
    expect(leadsTo, `c's lower file, read as moby's overlay2 reads it, leads to: ${leadsTo.map((p) => diffs[p] ?? p).join(', ')}. Which layers must it name, in which order, byte for byte? (moby's overlay2: create, getLower, getLowerDirs; chapter text, "The layout on disk")`).toEqual([join(root, 'b', 'diff'), join(root, 'a', 'diff')])
    const dirs = overlayDirs(root, 'c')
    const ns = await mountNamespace()
    const merged = layerPaths(root, 'c').merged
    await mountOverlay(ns.helper, dirs, merged)
    const m = ns.inside(merged)
    expect(readdirSync(m).sort(), 'c mounted from overlayDirs(): the union lacks a layer below c: which layers must c\'s lower file name? (moby\'s overlay2 getLower)').toEqual(['from-a', 'from-b', 'who'])
    expect(readFileSync(join(m, 'who'), 'utf8'), 'c mounted from overlayDirs(): a\'s who hides b\'s, though b is the nearer layer: in which order must c\'s lower file name them?').toBe('b\n')
    expect(dirs.lower.map((l) => realpathSync(l)), `overlayDirs(c).lower leads to ${dirs.lower.map((l) => realpathSync(l)).join(', ')}: which layers lie under c, and which does the kernel read first?`).toEqual([realpathSync(join(root, 'b', 'diff')), realpathSync(join(root, 'a', 'diff'))])
    expect([dirs.upper, dirs.work], 'c\'s own diff and work are the upper and work dirs').toEqual([join(root, 'c', 'diff'), join(root, 'c', 'work')])
  })
})

/** A 64-character layer id, as Docker's. */
const layerId = (n: number) => n.toString(16).padStart(64, '0')

/** `depth` layers on each other under a root a few hundred characters long; each layer's "level" file says which it is. */
function deepImage(depth: number): { root: string; top: string } {
  const root = join(tempDir(), 'r'.repeat(120), 's'.repeat(120))
  mkdirSync(root, { recursive: true })
  for (let i = 0; i < depth; i++) {
    populate(createLayer(root, layerId(i), i === 0 ? undefined : layerId(i - 1)).diff, { level: `${i}\n`, [`only-${i}`]: '' })
  }
  return { root, top: layerId(depth - 1) }
}

describeKernel('a deep image', () => {
  it('an image of 120 layers under a long root, mounted from its overlay2 folders', async () => {
    const { root, top } = deepImage(120)
    const dirs = overlayDirs(root, top)
    const ns = await mountNamespace()
    const before = processSnapshot(ns.helper.pid)
    const merged = layerPaths(root, top).merged
    const failed = await caught(() => mountOverlay(ns.helper, dirs, merged))
    const bytes = Buffer.byteLength(overlayOptions(dirs))
    expect(failed?.message, `mountOverlay() of 120 layers under a root of ${root.length} characters failed; overlayOptions() of its directories is ${bytes} bytes long. How much of its data does mount(2) read, and how does moby's overlay2 mount a deep image (Get; mountFrom)?`).toBeUndefined()
    const changed = snapshotChanges(before, processSnapshot(ns.helper.pid))
    expect(changed, `the helper is not as it was before mountOverlay(): ${changed}. Whoever drives it next relies on it (the TODO's 3.)`).toBe('')
    const m = ns.inside(merged)
    expect(readFileSync(join(m, 'level'), 'utf8'), 'every layer holds "level": the topmost layer\'s must win').toBe('119\n')
    expect(existsSync(join(m, 'only-0')) && existsSync(join(m, 'only-118')), 'the union must show the base layer and every layer between').toBe(true)
    writeFileSync(join(m, 'written'), 'x\n')
    expect(existsSync(join(layerPaths(root, top).diff, 'written')), 'a write through the union must land in the top layer\'s diff').toBe(true)
    // A dockerd that finds these layers mounts them its own way, from their files alone.
    const below = layerId(118)
    const docker = await mountAsDockerd(ns.helper, root, below)
    const bytes119 = Buffer.byteLength(readFileSync(join(root, below, 'lower')))
    expect(docker.failed?.message, `layer 119 mounted as a real dockerd mounts a deep layer, from its lower file as it stands, failed; its lower file is ${bytes119} bytes. What must the lower file name, and in which form, for dockerd to mount it? (moby's overlay2: Get, mountFrom; chapter text, "A deep image" and "The layout on disk")`).toBeUndefined()
    expect(readFileSync(join(ns.inside(docker.merged), 'level'), 'utf8'), 'layer 119 mounted as dockerd mounts it: its own level file must win').toBe('118\n')
  })

  it('docker run of a deep image from a helper whose working directory someone removed', async () => {
    const { root, top } = deepImage(120)
    const ns = await mountNamespace()
    const stand = join(tempDir(), 'stand')
    mkdirSync(stand)
    await ns.helper.chdir(stand)
    // Removed under the helper by someone else; and since then another directory goes by the
    // name the kernel gives the removed one (man 5 proc, /proc/PID/cwd).
    rmSync(stand, { recursive: true })
    mkdirSync(`${stand} (deleted)`)
    const before = processSnapshot(ns.helper.pid)
    const failed = await caught(() => mountOverlay(ns.helper, overlayDirs(root, top), layerPaths(root, top).merged))
    expect(failed?.message, `mountOverlay() of 120 layers by a helper whose working directory had been removed failed: what did it need of that directory?`).toBeUndefined()
    const changed = snapshotChanges(before, processSnapshot(ns.helper.pid))
    expect(changed, `the helper stood in a directory that was removed (and another now has the name /proc gives it); after mountOverlay() it is not as it was: ${changed}. How did mountOverlay() find its way back, and must that way lead where the helper was?`).toBe('')
  })

  it('a stack of 150 layers named by short links, under a long root', async () => {
    const root = join(tempDir(), 'r'.repeat(200))
    const names = Array.from({ length: 150 }, (_, i) => `L${String(i).padStart(25, '0')}`)
    const dirsOf = () => ({ lower: names.map((n) => join(root, 'l', n)), upper: join(root, 'c', 'diff'), work: join(root, 'c', 'work') })
    // The names are the test's own; one of them is longer, by as much as this test wants.
    const page = 4095
    const short = overlayOptions({ lower: names.map((n) => `l/${n}`), upper: 'c/diff', work: 'c/work' })
    const before = short.lastIndexOf(':', page)
    if (short[page] !== ':' && before > 0) names[0] += 'x'.repeat(page - before)
    const dirs = dirsOf()
    names.forEach((n, i) => populate(join(root, 'l', n), { level: `${i}\n`, [`only-${i}`]: '' }))
    for (const d of [dirs.upper, dirs.work, join(root, 'c', 'merged')]) mkdirSync(d, { recursive: true })
    const ns = await mountNamespace()
    const helperBefore = processSnapshot(ns.helper.pid)
    const merged = join(root, 'c', 'merged')
    const failed = await caught(() => mountOverlay(ns.helper, dirs, merged))
    expect(snapshotChanges(helperBefore, processSnapshot(ns.helper.pid)), 'the helper is not as it was before mountOverlay()').toBe('')
    if (failed) {
      expect(await ns.mounts(), `mountOverlay() failed (${failed.message.slice(0, 80)}), and something is mounted at ${merged}`).not.toContain(` ${merged} `)
      return
    }
    const m = ns.inside(merged)
    const shown = names.filter((_, i) => existsSync(join(m, `only-${i}`))).length
    const written = await caught(async () => writeFileSync(join(m, 'written'), 'x\n'))
    expect([shown, written?.code ?? 'written'], `mountOverlay() of ${names.length} lower layers resolved; the union shows ${shown} of them, and a write to it ${written ? `fails with ${written.code}` : 'works'}. How many bytes is the string you handed the kernel this time, how much of it did the kernel read, and what did it make of the part it read? (man 2 mount, data; /proc/PID/mounts shows what it took)`).toEqual([names.length, 'written'])
  })

  it('an image of 120 layers with one layer missing: the mount fails', async () => {
    const { root, top } = deepImage(120)
    rmSync(layerPaths(root, layerId(60)).diff, { recursive: true })
    const ns = await mountNamespace()
    const before = processSnapshot(ns.helper.pid)
    const failed = await caught(() => mountOverlay(ns.helper, overlayDirs(root, top), layerPaths(root, top).merged))
    expect(failed, 'a layer\'s diff is gone, yet mountOverlay() did not fail').toBeDefined()
    const changed = snapshotChanges(before, processSnapshot(ns.helper.pid))
    expect(changed, `the mount failed (${failed?.message?.slice(0, 80)}), and the helper is not as it was before mountOverlay(): ${changed}. A failure must leave it as it was too (the TODO's 3.)`).toBe('')
    expect(await ns.mounts(), 'nothing may be mounted after a failed mountOverlay()').not.toContain(layerPaths(root, top).merged)
  })
})

describe('the -init layer', () => {
  it('docker run on hosts whose resolvers run on the host itself', () => {
    const stub = resolvConf('nameserver 127.0.0.53\noptions edns0\n')
    expect(nameservers(stub), `the host has only systemd-resolved's stub (127.0.0.53); resolvConf() gave the container nameservers [${nameservers(stub).join(', ')}]: where do its queries go from its own network namespace, and what answers them?`).toEqual(FALLBACK_NAMESERVERS)
    expect(otherLines(stub), 'the host\'s other lines must stay as they were, in order').toEqual(['options edns0'])
    expect(stub.endsWith('\n') && !stub.includes('\n\n'), 'the text ends with a newline, without blank lines').toBe(true)
    const six = resolvConf('search lan\nnameserver 10.0.0.1\nnameserver ::1\n')
    expect(nameservers(six), `the host names 10.0.0.1 and ::1; resolvConf() gave the container nameservers [${nameservers(six).join(', ')}]: where do its queries to each go from its own network namespace?`).toEqual(['10.0.0.1'])
    expect(otherLines(six), 'the host\'s other lines must stay as they were, in order').toEqual(['search lan'])
    const dnsmasq = nameservers(resolvConf('nameserver 127.0.1.1\nnameserver 192.168.1.1\n'))
    expect(dnsmasq, `the host runs a dnsmasq on 127.0.1.1 beside its router's 192.168.1.1; resolvConf() gave the container nameservers [${dnsmasq.join(', ')}]: where do its queries to each go from its own network namespace?`).toEqual(['192.168.1.1'])
  })

  it('docker run on hosts whose resolv.conf other tools wrote, IPv4', async () => {
    // The spellings are made here at random (a fixed seed) and read by glibc itself (getaddrinfo, as its resolver reads a nameserver).
    const random = seeded(0x05ca1e)
    const spellings = Array.from({ length: 48 }, (_, i) => spellIPv4(random, i % 2 === 0 ? 0x7f000000 + Math.floor(random() * 2 ** 24) : Math.floor(random() * 2 ** 32)))
    for (const ns of spellings) {
      const leads = await glibcReads(ns)
      if (leads === undefined) continue // not an address to glibc: its resolver skips the line
      const got = resolvConf(`nameserver 192.0.2.1\nnameserver ${ns}\n`)
      const kept = nameservers(got).includes(ns)
      expect(kept, `the host's resolv.conf names nameserver ${ns}, which glibc reads as ${leads}: resolvConf() ${kept ? 'kept' : 'dropped'} it. Where does the container's resolver send its queries for that line, and can it reach that from its own network namespace? (glibc's resolv/res_init.c)`).toBe(!leads.startsWith('127.'))
    }
  })

  it('docker run on hosts whose resolv.conf other tools wrote, IPv6', async () => {
    const random = seeded(0x5ca1ed)
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!
    for (let i = 0; i < 24; i++) {
      const v4 = spellIPv4(random, 0x7f000000 + Math.floor(random() * 2 ** 24), true)
      const [address, scope] = pick([[spellIPv6(random, [0, 0, 0, 0, 0, 0, 0, 1]), pick(['', '%lo', '%1'])], [`${spellIPv6(random, [0, 0, 0, 0, 0, 0xffff], 6)}:${v4}`, ''], [spellIPv6(random, [0xfe80, 0, 0, 0, ...randomGroups(random, 4)]), pick(['%lo', '%1'])]] as const)
      const leads = await glibcReads(address)
      if (leads === undefined) throw new Error(`test set-up: glibc does not read ${address} as an address`)
      const ns = address + scope
      const got = resolvConf(`nameserver 10.0.0.1\nnameserver ${ns}\n`)
      expect(got, `the host's resolv.conf names nameserver ${ns}, which glibc reads as ${leads}${scope ? ` on interface ${scope.slice(1)}` : ''}: resolvConf() ${nameservers(got).includes(ns) ? 'kept' : 'changed'} it. Which address, on which interface, is that from the container's network namespace? (man 7 ipv6; inet_pton(3); resolv/res_init.c)`).toBe('nameserver 10.0.0.1\n')
    }
  })
})

/** The nameserver addresses of a resolv.conf text, as written. */
const nameservers = (text: string) => text.split('\n').flatMap((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1] ?? [])
/** Its lines other than nameservers and blank ones. */
const otherLines = (text: string) => text.split('\n').filter((line) => line.trim() !== '' && !/^\s*nameserver\s/.test(line))

/** A generator of numbers in [0, 1) that gives the same ones for the same seed (mulberry32). */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** `address` (32 bits) spelt at random; what the spelling means is glibc's to say, not this function's. */
function spellIPv4(random: () => number, address: number, dottedOnly = false): string {
  const parts = dottedOnly ? 4 : 1 + Math.floor(random() * 4)
  const bytes = [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff]
  const numbers = [...bytes.slice(0, parts - 1), bytes.slice(parts - 1).reduce((n, b) => n * 256 + b, 0)]
  return numbers.map((n) => (dottedOnly ? String(n) : [String(n), `0${n.toString(8)}`, `0${random() < 0.5 ? 'x' : 'X'}${n.toString(16)}`, `0${n}`][Math.floor(random() * 4)]!)).join('.')
}

/** The 16-bit `groups` (the first `count` of them) spelt at random; what the spelling means is glibc's to say. */
function spellIPv6(random: () => number, groups: number[], count = 8): string {
  const texts = groups.slice(0, count).map((g) => g.toString(16).padStart(1 + Math.floor(random() * 4), '0')).map((t) => (random() < 0.5 ? t : t.toUpperCase()))
  const zeros = groups.slice(0, count).findIndex((g) => g === 0)
  if (zeros === -1 || random() < 0.3) return texts.join(':')
  let end = zeros
  while (end < count && groups[end] === 0) end++
  const [head, tail] = [texts.slice(0, zeros).join(':'), texts.slice(end).join(':')]
  return `${head}::${tail}`
}

const randomGroups = (random: () => number, n: number) => Array.from({ length: n }, () => Math.floor(random() * 0x10000))

/** What glibc makes of a numeric `address` as written (getaddrinfo, hosts from files only: never a DNS query), or undefined if it is none. */
async function glibcReads(address: string): Promise<string | undefined> {
  const run = await execa('getent', ['-s', 'hosts:files', 'ahosts', address], { reject: false, stdin: 'ignore' })
  if (run.exitCode === 2) return undefined
  if (run.exitCode !== 0) throw new Error(`test set-up: getent ahosts ${address} failed: ${run.stderr}`)
  return run.stdout.split(/\s+/)[0]!
}

describeKernel('container layers', () => {
  function image(root: string): string {
    populate(createLayer(root, 'img-base').diff, { 'etc/os-release': 'image\n', 'etc/hostname': 'image-host\n' })
    populate(createLayer(root, 'img-top', 'img-base').diff, { 'app/run': 'run\n' })
    return 'img-top'
  }

  it('container c1 on a two-layer image', async () => {
    const root = tempDir()
    const dirs = createContainerLayers(root, 'c1', image(root), { hostname: 'c1host', hostResolvConf: 'nameserver 10.1.1.1\n' })
    const imageTop = readdirSync(join(root, 'img-top/diff'))
    expect(imageTop, `the image's top layer holds ${imageTop.join(', ')} after createContainerLayers() of c1, and held app before: which of the layers under c1 does every container of this image share, and which are c1's alone?`).toEqual(['app'])
    const hostname = join(root, 'c1-init/diff/etc/hostname')
    expect(existsSync(hostname) && readFileSync(hostname, 'utf8'), 'c1-init/diff/etc/hostname must hold the hostname and a newline').toBe('c1host\n')
    expect(dirs.upper, `createContainerLayers() gave ${dirs.upper} as c1's upper directory; docker commit of c1 archives that folder alone: what would it capture of the files dockerd made for c1?`).toBe(join(root, 'c1', 'diff'))
    expect(dirs.lower.length, `c1's union stacks ${dirs.lower.length} lower layers on an image of two: which layers lie between the image and c1's writes?`).toBe(3)
    const ns = await mountNamespace()
    const merged = join(root, 'c1', 'merged')
    await mountOverlay(ns.helper, dirs, merged)
    const etc = ns.inside(join(merged, 'etc'))
    expect(readFileSync(join(etc, 'hostname'), 'utf8'), 'the init layer\'s hostname must hide the image\'s').toBe('c1host\n')
    expect(readFileSync(join(etc, 'resolv.conf'), 'utf8')).toBe('nameserver 10.1.1.1\n')
    expect(readFileSync(join(etc, 'hosts'), 'utf8')).toContain('c1host')
    expect(readFileSync(join(etc, 'os-release'), 'utf8')).toBe('image\n')
  })

  it('containers created by a minidocker run from two different users\' shells', async () => {
    const root = tempDir()
    const top = image(root)
    const ns = await mountNamespace()
    for (const umask of [0o000, 0o077]) {
      const id = `u${umask.toString(8)}`
      const was = process.umask(umask)
      let dirs: OverlayDirs
      try {
        dirs = createContainerLayers(root, id, top, { hostname: id, hostResolvConf: 'nameserver 10.1.1.1\n' })
      } finally {
        process.umask(was)
      }
      const merged = join(root, id, 'merged')
      await mountOverlay(ns.helper, dirs, merged)
      // Every user of the container reads (and enters) these; only its root may change them.
      const wrong = ['/', '/etc', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf'].flatMap((path) => {
        const st = lstatSync(ns.inside(join(merged, path)))
        const everyone = st.isDirectory() ? 0o555 : 0o444
        const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
        return [(st.mode & 0o022) !== 0 && `${path} (mode ${mode}) can be changed by users other than root`, (st.mode & everyone) !== everyone && `${path} (mode ${mode}) cannot be read by every user`].filter((w): w is string => Boolean(w))
      })
      expect(wrong, `container ${id}'s layers were made by a process whose umask was ${umask.toString(8).padStart(3, '0')}; in the container, ${wrong.join('; ')}. What decided those modes, and what can the container's users do with them?`).toEqual([])
    }
  })

  it('docker create of an id that a crashed earlier create left a layer for', async () => {
    const root = tempDir()
    const top = image(root)
    createLayer(root, 'c9', top) // a leftover of an earlier container took the id
    const leftover = readdirSync(root).sort()
    const failed = await caught(() => createContainerLayers(root, 'c9', top, { hostname: 'c9' }))
    expect(failed, 'createContainerLayers() of an id whose layer exists resolved').toBeInstanceOf(Error)
    const extra = readdirSync(root).filter((name) => !leftover.includes(name))
    expect(extra, `createContainerLayers(c9) failed (${failed?.message}) and left ${extra.join(', ')} behind: the next try is refused for a layer nobody uses, and nothing will ever remove it. What will the next docker create of c9 find, and what will ever remove it?`).toEqual([])
    expect(readdirSync(join(root, 'l')).length, 'a short link was left behind for a layer that is gone').toBe(leftover.filter((n) => n !== 'l').length)
  })

  it('two containers on one image, the first writing and deleting', async () => {
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
