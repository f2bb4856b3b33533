/**
 * A mount point swapped for a symlink between the check and the mount (CVE-2021-30465), or
 * while it is being made (CVE-2024-45310): a directory on the way to the destination becomes a
 * symlink to a stand-in host folder before each of the helper's requests in turn. The mount
 * point must be made, and the mount land, inside the rootfs, or be refused; never outside.
 * The swaps go on after the mount: a :ro volume's remount must reach the mount just made, or
 * be refused with that mount taken back, whatever the name leads to by then (a plain
 * directory of the same name, a symlink into the host's own mount). The mount table is read after
 * every request, so a mount outside the rootfs counts even when it is taken back later. And what
 * the image plants at a single-file volume's own name (a FIFO, a symlink) must neither stall the
 * run nor end up under the volume.
 * Everything happens in a mount namespace and on a tmpfs the test made.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect, it } from 'vitest'
import { makeMountPoint, type MountPointKind } from '#ch/03-rootfs/rootfs.ts'
import type { Helper } from '../../native/helper.ts'
import { ContainerError } from '../../lib/errors.ts'
import { mountInRootfs } from '../../lib/rootfs-setup.ts'
import { parseVolume } from '../../lib/volumes.ts'
import { caught } from '../support/errors.ts'
import { swappedBeforeRequest } from '../support/interpose.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace } from '../support/mountns.ts'

/** The lines of a mountinfo whose mount point is at or below `dir`. */
const linesBelow = (mountinfo: string, dir: string) =>
  mountinfo.split('\n').filter(Boolean).filter((line) => {
    const point = line.split(' ')[4]!
    return point === dir || point.startsWith(`${dir}/`)
  })

/** How many fds the process serving `helper`'s requests holds. */
const fdCount = (helper: Helper) => readdirSync(`/proc/${helper.serving}/fd`).length

/**
 * What is done to the rootfs's /vol/data, the mount point of `-v SRC:/vol/data:ro`, right before
 * one of the helper's requests: the directory is renamed aside, inside the rootfs, and its name
 * then leads somewhere else. A swap that takes `times` is done again before every later request.
 */
const SWAPS: Record<string, (rootfs: string, host: string, times: number) => void> = {
  '/vol swapped for a symlink to the host': (rootfs, host) => {
    renameSync(join(rootfs, 'vol'), join(rootfs, 'vol.real'))
    symlinkSync(host, join(rootfs, 'vol'))
  },
  '/vol swapped for a plain directory of the same name': (rootfs) => {
    renameSync(join(rootfs, 'vol'), join(rootfs, 'vol.real'))
    mkdirSync(join(rootfs, 'vol', 'data'), { recursive: true })
  },
  '/vol/data swapped for a plain directory of the same name': (rootfs) => {
    renameSync(join(rootfs, 'vol', 'data'), join(rootfs, 'vol', 'data.real'))
    mkdirSync(join(rootfs, 'vol', 'data'))
  },
  '/vol/data swapped for a symlink into the host': (rootfs, host) => {
    renameSync(join(rootfs, 'vol', 'data'), join(rootfs, 'vol', 'data.real'))
    symlinkSync(join(host, 'data'), join(rootfs, 'vol', 'data'))
  },
  '/vol kept moving (a plain /vol/data in its place)': (rootfs, _host, times) => {
    renameSync(join(rootfs, times ? `vol.moved${times - 1}` : 'vol'), join(rootfs, `vol.moved${times}`))
    if (!times) mkdirSync(join(rootfs, 'vol', 'data'), { recursive: true })
  },
}

/**
 * `-v SRC:/vol/data[:ro]` mounted by mountInRootfs again and again, with `swap` done right before
 * the helper's request number 0, 1, 2, ... in turn, until a run has no request left to swap
 * before. After every request of every run, the test's namespace is searched for a mount outside
 * the rootfs, even one that is gone again by the end of the run.
 */
async function volumeUnderSwaps(swapName: string, swap: (rootfs: string, host: string, times: number) => void, mode: 'ro' | 'rw'): Promise<void> {
  const ns = await mountNamespace()
  const disk = await ns.tmpfs() // the rootfs and the stand-in host's folder: nothing of the machine's
  // The host's folder holds a mount of its own, whose line is compared before and after.
  const host = join(disk, 'host')
  mkdirSync(ns.inside(join(host, 'data')), { recursive: true })
  await ns.mount('-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', join(host, 'data'))
  writeFileSync(ns.inside(join(host, 'data', 'keep')), 'host\n')
  // The source's mount has flags the rootfs's disk and the host's mount have not.
  const source = await ns.tmpfs() // exists (empty) in Node's view too, where the source is checked
  await ns.mount('-o', 'remount,nosuid,nodev,noexec', source)
  writeFileSync(ns.inside(join(source, 'in.txt')), 'volume\n')
  const sourceFlags = linesBelow(await ns.mountinfo(), source).at(-1)!.split(' ')[5]!.split(',').filter((o) => o !== 'rw')
  const entry = parseVolume(`${source}:/vol/data${mode === 'ro' ? ':ro' : ''}`)
  const [onHost, meanwhile, left, otherwise]: string[][] = [[], [], [], []]
  for (let at = 0, swapped = true; swapped && at < 60; at++) {
    const rootfs = join(disk, `rootfs${at}`)
    const target = join(rootfs, 'vol', 'data')
    mkdirSync(ns.inside(target), { recursive: true })
    // The mounts outside this run's rootfs (the host's, and earlier runs' volumes), before the run.
    const outside = (info: string) => linesBelow(info, disk).filter((line) => linesBelow(line, rootfs).length === 0)
    const known = outside(await ns.mountinfo())
    const look = async (request: string) => {
      const fresh = outside(await ns.mountinfo()).filter((line) => !known.includes(line)).map((line) => line.split(' ')[4])
      const when = state.before ? `with ${swapName} right before ${state.before}` : 'before any swap'
      if (fresh.length) meanwhile.push(`${when}, right after ${request} there was a mount outside the rootfs, at ${fresh.join(', ')}, whether or not it was taken back later: what did the kernel mount on, and what had you checked about it before that call? (the chapter's "Between the check and the mount")`)
    }
    const { swapping, state } = swappedBeforeRequest(ns.helper, at, async (times) => swap(ns.inside(rootfs), host, times), swap.length === 3, look)
    const [open, before] = [fdCount(ns.helper), linesBelow(await ns.mountinfo(), host)]
    const error = await caught(() => mountInRootfs(swapping, rootfs, entry))
    swapped = state.before !== ''
    const story = swapped ? `with ${swapName} right before ${state.before}` : 'with no swap'
    const info = await ns.mountinfo()
    // Every run first, then the findings: what reached the host is the one to see first.
    // A line not there before is a mount that landed, or (by its mount ID) one that changed.
    const ids = before.map((line) => line.split(' ')[0])
    const fresh = linesBelow(info, host).filter((line) => !before.includes(line)).map((line) => line.split(' '))
    const [landed, changed] = [fresh.filter((f) => !ids.includes(f[0])), fresh.filter((f) => ids.includes(f[0]))]
    if (landed.length) onHost.push(`${story}, a mount landed in the host's folder (${landed.map((f) => f[4]).join(', ')}): which lookup of the name came after the swap, and what did the kernel mount on? (the chapter's "Between the check and the mount")`)
    for (const f of changed) onHost.push(`${story}, the host's own mount at ${f[4]} changed (now ${f[5]}): which mount did a call of yours reach, and through what? (the chapter's "Between the check and the mount")`)
    if (readdirSync(ns.inside(join(host, 'data'))).join() !== 'keep') onHost.push(`${story}, the host's folder no longer shows its own files`)
    if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd closed, on success and on refusal?`)
    const inRootfs = linesBelow(info, rootfs).map((line) => line.split(' '))
    if (!swapped && error !== undefined) {
      otherwise.push(`with no swap at all, mountInRootfs failed: ${error.message}`)
    } else if (error !== undefined) {
      if (inRootfs.length) left.push(`${story}, mountInRootfs refused ("${error.message}") but left ${inRootfs.map((f) => `${f[4]} (${f[5]})`).join(', ')} mounted in the rootfs: what must a refusal take back, and through what can it reach that mount now?`)
      if (!(error instanceof ContainerError)) otherwise.push(`${story}, mountInRootfs failed with "${error.message}": a mount point that no longer leads where it was checked, or to the mount just made, is refused with a ContainerError (125). Which mount did that call address?`)
      else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
    } else if (inRootfs.length !== 1) {
      otherwise.push(`${story}, mountInRootfs succeeded with ${inRootfs.length} mounts below the rootfs (${inRootfs.map((f) => f[4]).join(', ')}), where the volume makes one`)
    } else {
      const [point, options] = [inRootfs[0]![4]!, inRootfs[0]![5]!.split(',')]
      const lost = [...(mode === 'ro' ? ['ro'] : []), ...sourceFlags].filter((o) => !options.includes(o))
      if (mode === 'ro' && !options.includes('ro')) otherwise.push(`${story}, the volume mounted at ${point} is writable (${options.join(',')}): which mount did the remount reach?`)
      else if (lost.length) otherwise.push(`${story}, the volume mounted at ${point} lost ${lost.join(',')} of its source's mount flags (source: ${sourceFlags.join(',')}, the volume: ${options.join(',')}): whose flags did the remount say again, and how did you find that mount? (the chapter's "Read-only, and nothing less")`)
    }
  }
  expect(onHost, onHost[0]).toEqual([])
  expect(meanwhile, meanwhile[0]).toEqual([])
  expect(left, left[0]).toEqual([])
  expect(otherwise, otherwise[0]).toEqual([])
}

describeKernel('a mount point swapped between the check and the mount, and between the mount and its remount', () => {
  for (const [swapName, swap] of Object.entries(SWAPS))
    it(`-v SRC:/vol/data:ro, with ${swapName} before each request`, () => volumeUnderSwaps(swapName, swap, 'ro'))

  const hostLink = '/vol swapped for a symlink to the host'
  it(`-v SRC:/vol/data (read-write), with ${hostLink} before each request`, () => volumeUnderSwaps(hostLink, SWAPS[hostLink]!, 'rw'))
})

/**
 * `-v SRC:/vol/data:ro` mounted by mountInRootfs again and again, and right after the helper's
 * request number 0, 1, 2, ... in turn returns, a mount of the stand-in host's is moved (mount
 * --move) onto the rootfs's /vol/data, on top of whatever is there. It has flags of its own,
 * unlike the volume's source. A mount made after a check of the name may land under it, or
 * beside it; what it may not do is land on it, or change it.
 */
async function volumeUnderMovedMount(): Promise<void> {
  const ns = await mountNamespace()
  const disk = await ns.tmpfs()
  const source = await ns.tmpfs()
  await ns.mount('-o', 'remount,nosuid,nodev,noexec', source)
  const sourceLine = linesBelow(await ns.mountinfo(), source).at(-1)!.split(' ')
  const [sourceDevice, sourceFlags] = [sourceLine[2]!, sourceLine[5]!.split(',').filter((o) => o !== 'rw')]
  const entry = parseVolume(`${source}:/vol/data:ro`)
  const [changed, landed, otherwise]: string[][] = [[], [], []]
  for (let at = 0, moved = true; moved && at < 60; at++) {
    const rootfs = join(disk, `rootfs${at}`)
    const target = join(rootfs, 'vol', 'data')
    mkdirSync(ns.inside(join(rootfs, 'vol')), { recursive: true })
    // The stand-in host's mount, made at that moment (so it is newer than any of the run's):
    // a tmpfs with nodev and noatime only.
    const host = join(disk, `host${at}`)
    mkdirSync(ns.inside(host))
    let hostLine: string[] = []
    let [after, next] = ['', '']
    let requests = 0
    const { swapping, state } = swappedBeforeRequest(ns.helper, -1, async () => {}, false, async (request) => {
      if (after && !next) next = request
      if (requests++ !== at || !existsSync(ns.inside(target))) return
      await ns.mount('-t', 'tmpfs', '-o', 'nodev,noatime,mode=755', 'tmpfs', host)
      hostLine = linesBelow(await ns.mountinfo(), host).at(-1)!.split(' ')
      await ns.mount('--move', host, target)
      after = request
    })
    const open = fdCount(ns.helper)
    const error = await caught(() => mountInRootfs(swapping, rootfs, entry))
    moved = requests > at
    void state
    const story = after ? `with a mount of the host's moved onto ${target} right after ${after}` : 'with nothing moved'
    const info = (await ns.mountinfo()).split('\n').filter(Boolean).map((line) => line.split(' '))
    const hostNow = info.find((f) => f[0] === hostLine[0])
    if (!after) {
      // nothing was moved in
    } else if (!hostNow) changed.push(`${story}, the host's mount (mount ID ${hostLine[0]}) is gone: which mount did your umount2(2) reach, and through what? (the chapter's "Between the check and the mount")`)
    else if (hostNow[5] !== hostLine[5]) changed.push(`${story}, the host's mount (mount ID ${hostLine[0]}) changed from ${hostLine[5]} to ${hostNow[5]}: which mount did your remount reach, and which mount's flags did it say again? (the chapter's "Read-only, and nothing less")`)
    const volumes = linesBelow(info.map((f) => f.join(' ')).join('\n'), rootfs).map((line) => line.split(' ')).filter((f) => f[2] === sourceDevice)
    // Between the last look at the mount point and the mount(2) itself, the kernel puts a new
    // mount on top of whatever is there by then: no check can close that window (the chapter's
    // debrief says what does), so a run whose move fell right there is not held to the rest.
    if (next.startsWith(`mount(${JSON.stringify(source)}`)) continue
    if (volumes.some((f) => f[1] === hostLine[0])) landed.push(`${story}, the volume was mounted on the host's mount that had been moved there: what did you check about the mount point before mount(2), and what does a lookup do at a name where something is mounted? (the chapter's "Between the check and the mount")`)
    if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd closed, on success and on refusal?`)
    if (!after && error !== undefined) {
      otherwise.push(`with nothing moved, mountInRootfs failed: ${error.message}`)
    } else if (error !== undefined) {
      // (One that another mount covers is out of reach: taking it away would take that one.)
      const open = volumes.filter((v) => !info.some((f) => f[1] === v[0] && f[4] === v[4]))
      if (open.length) otherwise.push(`${story}, mountInRootfs refused ("${error.message}") but left the volume mounted at ${open.map((f) => f[4]).join(', ')}`)
      if (!(error instanceof ContainerError)) otherwise.push(`${story}, mountInRootfs failed with "${error.message}": a mount point that is no longer what was checked is refused with a ContainerError (125)`)
      else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
    } else if (volumes.length !== 1) {
      otherwise.push(`${story}, mountInRootfs succeeded with ${volumes.length} mounts of the volume's source below the rootfs, where it makes one`)
    } else {
      const options = volumes[0]![5]!.split(',')
      const lost = ['ro', ...sourceFlags].filter((o) => !options.includes(o))
      const gained = options.filter((o) => o !== 'ro' && !sourceFlags.includes(o))
      if (lost.length || gained.length) changed.push(`${story}, the volume's mount has ${options.join(',')} where its source has ${sourceFlags.join(',')} (plus ro): whose line did you read the flags from, and is it the mount your remount reaches? (proc(5); the chapter's "Read-only, and nothing less")`)
    }
  }
  expect(changed, changed[0]).toEqual([])
  expect(landed, landed[0]).toEqual([])
  expect(otherwise, otherwise[0]).toEqual([])
}

describeKernel('a mount moved in at the mount point between two requests', () => {
  it('-v SRC:/vol/data:ro, with a mount of the host moved onto /vol/data after each request', () => volumeUnderMovedMount())
})

/** The paths below `dir` (never following a symlink) named `name` (or `name`.real, moved by a swap) and of `kind`. */
function made(dir: string, name: string, kind: MountPointKind): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    const stat = lstatSync(path)
    const here = (entry === name || entry === `${name}.real`) && (kind === 'file' ? stat.isFile() : stat.isDirectory()) ? [path] : []
    return stat.isDirectory() ? [...here, ...made(path, name, kind)] : here
  })
}

describeKernel('a mount point made while the directories on its way are swapped for symlinks', () => {
  for (const kind of ['directory', 'file'] as const) {
    it(`makeMountPoint of a ${kind} at /vol/a/b (a and b missing), each level swapped before each request`, async () => {
      const ns = await mountNamespace()
      const disk = await ns.tmpfs()
      const levels = ['vol', 'vol/a', 'vol/a/b']
      const [escaped, otherwise]: string[][] = [[], []]
      let runs = 0
      for (const level of levels) {
        for (let at = 0, reached = true; reached && at < 40; at++, runs++) {
          const [rootfs, host] = [join(disk, `rootfs${runs}`), join(disk, `host${runs}`)]
          for (const dir of [join(rootfs, 'vol'), host]) mkdirSync(ns.inside(dir), { recursive: true })
          const target = join(rootfs, 'vol', 'a', 'b')
          let swapped = false
          const swap = async () => {
            const path = ns.inside(join(rootfs, level))
            if (!existsSync(ns.inside(join(rootfs, dirname(level))))) return // its parent is not made yet
            if (existsSync(path)) renameSync(path, `${path}.real`)
            // The file's own name leads to a file the host does not have yet: made by name, it would be.
            symlinkSync(level === 'vol/a/b' && kind === 'file' ? join(host, 'b') : host, path)
            swapped = true
          }
          const { swapping, state } = swappedBeforeRequest(ns.helper, at, swap)
          const open = fdCount(ns.helper)
          const error = await caught(() => makeMountPoint(swapping, rootfs, target, kind))
          reached = state.before !== ''
          const story = swapped ? `with /${level} swapped for a symlink to ${host} right before ${state.before}` : 'with no swap'
          // Every run first, then the findings: an escape to the host is the one to see first.
          const inHost = readdirSync(ns.inside(host))
          if (inHost.length) escaped.push(`${story}, ${inHost.join(', ')} appeared in it`)
          if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd of the walk closed, on success and on refusal?`)
          if (error !== undefined) {
            if (!(error instanceof ContainerError)) otherwise.push(`${story}, makeMountPoint failed with "${error.message}": is a level that is no longer a directory refused with a ContainerError (125)?`)
            else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
            else if (!swapped) otherwise.push(`with no swap at all, makeMountPoint refused: ${error.message}`)
          } else if (!lstatSync(ns.inside(target), { throwIfNoEntry: false })?.isSymbolicLink() && made(ns.inside(rootfs), 'b', kind).length !== 1) {
            // (A link planted at the file's own name is "something there already": left for mountChecked.)
            otherwise.push(`${story}, makeMountPoint succeeded: is there a ${kind} b inside the rootfs (where the walk went)?`)
          }
        }
      }
      expect(escaped, `makeMountPoint made something in the host's folder ${escaped[0]}: which step looked the name up again after the swap, and did it follow the symlink? (the chapter's "Making the mount point")`).toEqual([])
      expect(otherwise, otherwise[0]).toEqual([])
    })
  }

  it('makeMountPoint of a directory at /vol/a/b/c (a, b and c missing), with a mount of the host moved onto each level it made, right after each request', async () => {
    const ns = await mountNamespace()
    const disk = await ns.tmpfs()
    const [escaped, otherwise]: string[][] = [[], []]
    let runs = 0
    for (const level of ['vol/a', 'vol/a/b']) {
      for (let at = 0, reached = true; reached && at < 40; at++, runs++) {
        const [rootfs, host] = [join(disk, `rootfs${runs}`), join(disk, `host${runs}`)]
        for (const dir of [join(rootfs, 'vol'), host]) mkdirSync(ns.inside(dir), { recursive: true })
        await ns.mount('-t', 'tmpfs', '-o', 'mode=755', 'host', host) // the stand-in host's, empty
        const target = join(rootfs, 'vol', 'a', 'b', 'c')
        let [after, requests] = ['', 0]
        const { swapping } = swappedBeforeRequest(ns.helper, -1, async () => {}, false, async (request) => {
          // Only a level the walk made: a mount point someone else already had is not the question.
          if (requests++ !== at || after || !existsSync(ns.inside(join(rootfs, level)))) return
          await ns.mount('--move', host, join(rootfs, level))
          after = request
        })
        const open = fdCount(ns.helper)
        const error = await caught(() => makeMountPoint(swapping, rootfs, target, 'directory'))
        reached = requests > at
        const story = after ? `with a mount of the host moved onto /${level} right after ${after}` : 'with nothing moved'
        // The host's mount, wherever it is now (moved into the rootfs, or still at its folder).
        const inHost = readdirSync(ns.inside(after ? join(rootfs, level) : host))
        if (inHost.length) escaped.push(`${story}, ${inHost.join(', ')} appeared in the host's mount`)
        if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd of the walk closed, on success and on refusal?`)
        if (error !== undefined) {
          if (!(error instanceof ContainerError)) otherwise.push(`${story}, makeMountPoint failed with "${error.message}"`)
          else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
          else if (!after) otherwise.push(`with nothing moved, makeMountPoint refused: ${error.message}`)
        }
      }
    }
    expect(escaped, `makeMountPoint made something in a mount of the host's: ${escaped[0]}. On which mount was each level you opened, and could a directory you had just made be the root of a mount? (proc(5); the chapter's "Making the mount point")`).toEqual([])
    expect(otherwise, otherwise[0]).toEqual([])
  })

  it('makeMountPoint of a file the image has already, and of a directory that exists', async () => {
    const ns = await mountNamespace()
    const rootfs = await ns.tmpfs()
    mkdirSync(ns.inside(join(rootfs, 'etc', 'app.d')), { recursive: true })
    writeFileSync(ns.inside(join(rootfs, 'etc', 'app.conf')), 'the image\'s\n')
    const open = fdCount(ns.helper)
    await makeMountPoint(ns.helper, rootfs, join(rootfs, 'etc', 'app.conf'), 'file')
    await makeMountPoint(ns.helper, rootfs, join(rootfs, 'etc', 'app.d'), 'directory')
    expect(readFileSync(ns.inside(join(rootfs, 'etc', 'app.conf')), 'utf8'), 'the image\'s /etc/app.conf after makeMountPoint: what does your creation of the file do to one that is there?').toBe('the image\'s\n')
    expect(fdCount(ns.helper), 'the helper holds more fds than before: is every fd of the walk closed?').toBe(open)
  })
})

/** What the image's processes may plant at a single-file volume's mount point (its own name), made by Node in the test's namespace. */
const PLANTS: Record<string, (path: string) => void> = {
  'a FIFO': (path) => execFileSync('mkfifo', ['-m', '666', path]),
  'a symlink to another file of the image': (path) => symlinkSync('other.conf', path),
}

/** Wake whatever waits in an open(2) of the FIFO at `path`, on either side: a reader and a writer that never block. */
function wakeFifo(path: string): void {
  for (const flags of [constants.O_RDONLY, constants.O_WRONLY]) {
    try {
      closeSync(openSync(path, flags | constants.O_NONBLOCK))
    } catch {} // gone, or no longer a FIFO: nothing waits on it
  }
}

describeKernel('the rootfs as a spec may spell it', () => {
  it('makeMountPoint below a rootfs named with "..", "." and a trailing slash', async () => {
    const ns = await mountNamespace()
    const disk = await ns.tmpfs()
    mkdirSync(ns.inside(join(disk, 'bundle', 'rootfs', 'vol')), { recursive: true })
    mkdirSync(ns.inside(join(disk, 'other')))
    const open = fdCount(ns.helper)
    for (const [spelled, kind] of [[`${disk}/other/../bundle/./rootfs/`, 'directory'], [`${disk}/bundle/rootfs/`, 'file']] as const) {
      // secureJoin's answer for "/vol/a/b": the same rootfs, normalized
      const target = join(spelled, 'vol', 'a', `b-${kind}`)
      const error = await caught(() => makeMountPoint(ns.helper, spelled, target, kind))
      const call = `makeMountPoint(helper, ${JSON.stringify(spelled)}, ${JSON.stringify(target)}, '${kind}')`
      expect(error?.message, `${call} failed: which part of the target is below the rootfs, however the rootfs is written?`).toBeUndefined()
      const made = lstatSync(ns.inside(target), { throwIfNoEntry: false })
      expect(made && (kind === 'file' ? made.isFile() : made.isDirectory()), `${call} did not make the ${kind} at ${target}: which part of the target is below the rootfs, however the rootfs is written?`).toBe(true)
    }
    expect(readdirSync(ns.inside(disk)).sort(), 'what the walks made beside the bundle').toEqual(['bundle', 'other'])
    expect(readdirSync(ns.inside(join(disk, 'other'))), 'what the walks made in the folder beside the bundle').toEqual([])
    expect(fdCount(ns.helper), 'the helper holds more fds than before: is every fd of the walk closed?').toBe(open)
  })
})

describeKernel('a single-file volume\'s mount point, with a file planted at its name', () => {
  for (const [plantName, plant] of Object.entries(PLANTS)) {
    it(`-v FILE:/etc/app.conf, with ${plantName} planted at /etc/app.conf before each request`, async () => {
      const ns = await mountNamespace()
      const disk = await ns.tmpfs()
      // The volume's file exists in both views: Node's (where the source is checked) and the stand-in's.
      const source = join(await ns.tmpfs(), 'app.conf')
      writeFileSync(source, '')
      writeFileSync(ns.inside(source), 'volume\n')
      const entry = parseVolume(`${source}:/etc/app.conf`)
      const [hung, under, otherwise]: string[][] = [[], [], []]
      for (let at = 0, swapped = true; swapped && at < 40 && !hung.length; at++) {
        const rootfs = join(disk, `rootfs${at}`)
        const target = join(rootfs, 'etc', 'app.conf')
        mkdirSync(ns.inside(join(rootfs, 'etc')), { recursive: true })
        writeFileSync(ns.inside(join(rootfs, 'etc', 'other.conf')), 'the image\'s\n')
        const name = ns.inside(target)
        const { swapping, state } = swappedBeforeRequest(ns.helper, at, async () => {
          if (lstatSync(name, { throwIfNoEntry: false })) renameSync(name, `${name}.real`)
          plant(name)
        })
        const open = fdCount(ns.helper)
        // A call that waits on the FIFO never returns by itself: after a while, wake it and say so.
        let stuck = ''
        const watchdog = setInterval(() => {
          stuck ||= state.current
          wakeFifo(name)
        }, 5_000)
        const error = await caught(() => mountInRootfs(swapping, rootfs, entry)).finally(() => clearInterval(watchdog))
        swapped = state.before !== ''
        const story = swapped ? `with ${plantName} planted at ${target} right before ${state.before}` : 'with nothing planted'
        if (stuck) hung.push(`${story}, the run stood still in ${stuck} for 5 s, until the test opened the FIFO's other end: which of your calls waits on a FIFO, and for what? (fifo(7), open(2))`)
        if (fdCount(ns.helper) !== open) otherwise.push(`${story}, the helper holds more fds than before: is every fd closed, on success and on refusal?`)
        const mounts = linesBelow(await ns.mountinfo(), rootfs).map((line) => line.split(' ')[4]!)
        if (!swapped && error !== undefined) {
          otherwise.push(`with nothing planted, mountInRootfs failed: ${error.message}`)
        } else if (error !== undefined) {
          if (mounts.length) otherwise.push(`${story}, mountInRootfs refused ("${error.message}") but left ${mounts.join(', ')} mounted in the rootfs`)
          if (!(error instanceof ContainerError)) otherwise.push(`${story}, mountInRootfs failed with "${error.message}": a mount point that is not what the volume may cover is refused with a ContainerError (125)`)
          else if (!error.message.includes(target)) otherwise.push(`${story}, the refusal "${error.message}" must name the mount point ${target}`)
        } else {
          // What each mount covers shows once it is gone: the file under it, in the rootfs.
          for (const point of mounts) {
            await ns.helper.umount2(point, ['detach'])
            const stat = lstatSync(ns.inside(point))
            if (!stat.isFile()) under.push(`${story}, the volume was mounted at ${point} over ${stat.isSymbolicLink() ? 'the symlink itself' : stat.isFIFO() ? 'the FIFO' : 'something that is not a file'}: what did the thing you mounted through hold, and what kinds of file may a single-file volume cover? (mount(2); the chapter's "Between the check and the mount")`)
          }
          if (mounts.length !== 1) otherwise.push(`${story}, mountInRootfs succeeded with ${mounts.length} mounts below the rootfs (${mounts.join(', ')}), where the volume makes one`)
        }
      }
      expect(hung, hung[0]).toEqual([])
      expect(under, under[0]).toEqual([])
      expect(otherwise, otherwise[0]).toEqual([])
    }, 60_000)
  }
})
