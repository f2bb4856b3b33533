/**
 * secureJoin against the kernel. Each test builds a small tree full of the symlinks an image
 * may hold, asks the kernel where a process whose root directory is that tree (chroot(2))
 * lands for a path (the probe's resolve step: stat(2) and lstat(2) there), and compares the
 * file it reached with the one secureJoin names. The expected answers are the kernel's,
 * found at test time.
 *
 * The tree, the image's "/", is built by tree() below: symlinks absolute and relative, at the
 * top and in subdirectories, chained, dangling and looping, as an image's author may plant them.
 */
import { execFileSync } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { expect, it, vi } from 'vitest'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'

/** readlinkSync calls since the last secureJoin began: a walk that never ends is stopped here. */
const readlinks = vi.hoisted(() => ({ count: 0 }))
const READLINK_LIMIT = 10_000

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const readlinkSync = ((...args: Parameters<typeof fs.readlinkSync>) => {
    if (++readlinks.count > READLINK_LIMIT)
      throw new Error(`secureJoin read ${READLINK_LIMIT} symlinks for one path and was still going: what stops a walk through symlinks that lead back to themselves? (path_resolution(7), ELOOP)`)
    return fs.readlinkSync(...args)
  }) as typeof fs.readlinkSync
  return { ...fs, readlinkSync, default: { ...fs, readlinkSync } }
})

const WHERE = 'path_resolution(7); the chapter\'s "Mount points the image chose"'

function tree(): string {
  const root = tempDir('minidocker-securejoin-')
  for (const dir of ['etc/app', 'home/user', 'sub/dir']) mkdirSync(join(root, dir), { recursive: true })
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n')
  const links: [string, string][] = [
    ['abs', '/etc'], ['up', `${'../'.repeat(8)}etc`], ['sub/toetc', '/etc'], ['sub/rel', 'dir'],
    ['deep', 'home/user'], ['self', '.'], ['lastlink', 'etc/passwd'], ['dangling', '/nowhere/new'],
    ['loop1', 'loop2'], ['loop2', 'loop1'],
  ]
  for (let i = 0; i < 30; i++) links.push([`c${i}`, i === 29 ? 'etc' : `c${i + 1}`])
  for (const [link, target] of links) symlinkSync(target, join(root, link))
  return root
}

/** What the kernel answers in a process chrooted to `root`: per path, "DEV:INO" or an errno name. */
function kernel(root: string, paths: string[]): Map<string, { follow: string; nofollow: string }> {
  const out = execFileSync(PROBE_PATH, [`chroot:${root}`, ...paths.map((p) => `resolve:${p}`)], { encoding: 'utf8' })
  const lines = probeLines(out).filter((l) => 'resolve' in l) as unknown as { resolve: string; follow: string; nofollow: string }[]
  return new Map(lines.map((l) => [l.resolve, l]))
}

const identity = (path: string) => {
  const st = lstatSync(path, { bigint: true, throwIfNoEntry: false })
  return st && `${st.dev}:${st.ino}`
}

/** Every file of the tree by identity, as the image names it ("/etc/passwd"), symlinks not followed. */
function names(root: string): Map<string, string> {
  const found = new Map<string, string>([[identity(root)!, '/']])
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      found.set(identity(path)!, `/${relative(root, path)}`)
      if (entry.isDirectory()) walk(path)
    }
  }
  walk(root)
  return found
}

/** The kernel's answer, as the message shows it. */
const reachedAt = (files: Map<string, string>, answer: string) => (files.has(answer) ? `the tree's ${files.get(answer)}` : answer)

const isInside = (root: string, path: string) => {
  const rel = relative(root, path)
  return rel !== '..' && !rel.startsWith('../') && !rel.startsWith('/')
}

/** secureJoin's answer, as the message shows it. */
function shown(root: string, answer: string): string {
  if (!isInside(root, answer)) return `${answer}, outside the tree${identity(answer) ? ' (a host file)' : ''}`
  const there = identity(answer)
  return `the tree's /${relative(root, answer)}${there ? '' : ' (nothing there)'}`
}

function learner(root: string, path: string, followLast: boolean): string {
  readlinks.count = 0
  return secureJoin(root, path, followLast)
}

/** Compare secureJoin's answer for each path with the file the kernel reaches. */
function againstKernel(paths: string[], followLast: boolean, question = 'Which symlinks did the path pass, and where did each lead from there?'): void {
  const root = tree()
  const reached = kernel(root, paths)
  const files = names(root)
  for (const path of paths) {
    const want = reached.get(path)![followLast ? 'follow' : 'nofollow']
    const call = `secureJoin(TREE, ${JSON.stringify(path)}, ${followLast})`
    let answer: string
    try {
      answer = learner(root, path, followLast)
    } catch (error) {
      if (error instanceof NotImplementedError) throw error
      throw new Error(`${call} threw ${String(error)}; a process chrooted to the tree reaches ${reachedAt(files, want)} (the kernel's ${followLast ? 'stat' : 'lstat'}(2)). ${question} (${WHERE})`)
    }
    expect(identity(answer), `${call} named ${shown(root, answer)}; a process chrooted to the tree reaches ${reachedAt(files, want)} (the kernel's ${followLast ? 'stat' : 'lstat'}(2)). ${question} (${WHERE})`).toBe(want)
  }
}

describeKernel('secureJoin, the kernel asked in a chroot to the same tree', () => {
  it('a plain path, and one with more ".." than it has directories', () => {
    againstKernel(['/etc/passwd', '/../../etc/passwd', 'etc/app/../passwd', '/'], true)
  })

  it('through a symlink whose target is absolute: abs -> /etc, sub/toetc -> /etc', () => {
    againstKernel(['/abs/passwd', '/sub/toetc/passwd', '/sub/toetc/app'], true)
  })

  it('through a symlink whose target climbs above the root: up -> ../../../../../../../../etc', () => {
    againstKernel(['/up/passwd', '/up/app/../passwd'], true)
  })

  it('a symlink in a subdirectory with a relative target: sub/rel -> dir', () => {
    againstKernel(['/sub/rel', '/sub/rel/..'], true)
  })

  it('".." right after a symlink: deep -> home/user', () => {
    againstKernel(['/deep/..', '/deep/../user', '/deep/../..'], true)
  })

  it('one path through the same symlink three times: self -> .', () => {
    againstKernel(['/self/self/self/etc/passwd'], true)
  })

  it('a chain of thirty symlinks: c0 -> c1 -> ... -> c29 -> etc', () => {
    againstKernel(['/c0/passwd'], true)
  })

  it('a symlink as the last component, followLast true: lastlink -> etc/passwd', () => {
    againstKernel(['/lastlink', '/sub/rel'], true)
  })

  it('a symlink as the last component, followLast false: lastlink -> etc/passwd, loop1 -> loop2', () => {
    againstKernel(['/lastlink', '/abs/../lastlink', '/deep/../../lastlink', '/loop1', '/etc/passwd'], false)
  })

  it('the same symlinks, followLast false, with the path ending in "/" or "/.": sub/rel -> dir, abs -> /etc, deep -> home/user', () => {
    againstKernel(['/sub/rel/', '/abs/.', '/deep//', '/sub/rel/./', '/lastlink'], false, 'Which component did lstat(2) take as the last one of this path, and what did the path\'s end ask of it?')
  })

  it('a loop of symlinks: loop1 -> loop2 -> loop1', async () => {
    const root = tree()
    for (const path of ['/loop1', '/loop2/x', '/sub/../loop1/etc']) {
      const said = kernel(root, [path]).get(path)!.follow
      let answer: string | undefined
      const error = await caught(() => (answer = learner(root, path, true)))
      expect(error, `secureJoin(TREE, ${JSON.stringify(path)}, true) ${answer === undefined ? `threw ${String(error)}` : `named ${shown(root, answer)}`}, where the kernel answers ${said}: what does the doc comment ask for then?`).toBeInstanceOf(ContainerError)
      expect(error.message, 'the error must quote the path it could not resolve').toContain(JSON.stringify(path))
    }
  })

  it('a mount point that does not exist yet, below symlinks: abs/new/deeper, up/new, dangling -> /nowhere/new', () => {
    for (const path of ['/abs/new/deeper', '/up/new', '/dangling/more', '/deep/../made/here']) {
      const root = tree()
      const answer = learner(root, path, true)
      expect(isInside(root, answer), `secureJoin(TREE, ${JSON.stringify(path)}, true) named ${shown(root, answer)}: a mount point made there is made on the host. Where does each symlink lead when the tree is "/"? (${WHERE})`).toBe(true)
      const parts = relative(root, answer).split('/').filter(Boolean)
      for (let i = 1; i <= parts.length; i++) {
        const prefix = join(root, ...parts.slice(0, i))
        expect(lstatSync(prefix, { throwIfNoEntry: false })?.isSymbolicLink() ?? false, `secureJoin(TREE, ${JSON.stringify(path)}, true) named ${shown(root, answer)}, which passes through symlink /${parts.slice(0, i).join('/')}: mkdir -p there would follow it, out of the tree's control`).toBe(false)
      }
      mkdirSync(answer, { recursive: true })
      const reached = kernel(root, [path]).get(path)!.follow
      expect(identity(answer), `made ${shown(root, answer)} as secureJoin(TREE, ${JSON.stringify(path)}, true) said; but a process chrooted to the tree then finds ${path} at ${reachedAt(names(root), reached)}: where should the missing part go? (${WHERE})`).toBe(reached)
    }
  })

  it('a path through a directory that does not exist yet, then out of it with "..", then through a symlink: abs -> /etc, up -> ../../../../../../../../etc', () => {
    // [path, the directory on the way that `mkdir -p` of the path in the chroot would make besides the answer]
    const cases: [string, string][] = [['/sub/missing/../toetc/new', 'sub/missing'], ['/etc/nothere/../../abs/new', 'etc/nothere'], ['/home/ghost/../../up/app/new', 'home/ghost']]
    for (const [path, onTheWay] of cases) {
      const root = tree()
      const call = `secureJoin(TREE, ${JSON.stringify(path)}, true)`
      let answer: string
      try {
        answer = learner(root, path, true)
      } catch (error) {
        if (error instanceof NotImplementedError) throw error
        throw new Error(`${call} threw ${String(error)}: mkdir -p of this path in a process chrooted to the tree makes it, so the doc comment asks where. What does the walk know after a name that is not there, and what does ".." do to it? (${WHERE})`)
      }
      expect(isInside(root, answer), `${call} named ${shown(root, answer)}: a mount point made there is made on the host. Where does each symlink lead when the tree is "/"? (${WHERE})`).toBe(true)
      const parts = relative(root, answer).split('/').filter(Boolean)
      for (let i = 1; i <= parts.length; i++) {
        const prefix = join(root, ...parts.slice(0, i))
        expect(lstatSync(prefix, { throwIfNoEntry: false })?.isSymbolicLink() ?? false, `${call} named ${shown(root, answer)}, which passes through the tree's symlink /${parts.slice(0, i).join('/')}: a mkdir there follows it wherever it leads, on the host. Which names of the path did your walk still look at once it met one that does not exist? (${WHERE})`).toBe(false)
      }
      // What mkdir -p of the path makes in the chroot: the answer, and the missing directory it passes.
      mkdirSync(answer, { recursive: true })
      mkdirSync(join(root, onTheWay), { recursive: true })
      const reached = kernel(root, [path]).get(path)!.follow
      expect(identity(answer), `made ${shown(root, answer)} as ${call} said, and /${onTheWay} on the way; a process chrooted to the tree then finds ${path} at ${reachedAt(names(root), reached)}. Where does the lookup stand after ".." out of a directory that was not there, and what is still to be resolved from there? (${WHERE})`).toBe(reached)
    }
  })
  it('a symlink whose target is not UTF-8: latin -> "caf\\xe9", beside a directory "caf\\uFFFD"', async () => {
    // An image's tar holds names as bytes. Beside the directory the link names, the image made a
    // second one, under the name that the link's target becomes once it is read into a string.
    const root = tempDir('minidocker-securejoin-')
    const latin = Buffer.concat([Buffer.from(root), Buffer.from('/caf'), Buffer.from([0xe9])])
    mkdirSync(latin)
    writeFileSync(Buffer.concat([latin, Buffer.from('/conf')]), 'the directory the link names\n')
    mkdirSync(join(root, 'caf\uFFFD'))
    writeFileSync(join(root, 'caf\uFFFD', 'conf'), 'the image\'s decoy\n')
    symlinkSync(Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9])]), join(root, 'latin'))
    const path = '/latin/conf'
    const reached = kernel(root, [path]).get(path)!.follow
    const call = `secureJoin(TREE, ${JSON.stringify(path)}, true)`
    let answer: string | undefined
    const error = await caught(() => (answer = learner(root, path, true)))
    if (answer === undefined) {
      expect(error, `${call} threw ${String(error)}`).toBeInstanceOf(ContainerError)
      expect(error.message, 'the error must quote the path it could not resolve').toContain(JSON.stringify(path))
      return
    }
    const decoy = identity(join(root, 'caf\uFFFD', 'conf'))
    expect(identity(answer), `${call} named ${identity(answer) === decoy ? 'the file the image planted as a decoy, /caf\\uFFFD/conf' : shown(root, answer)}; a process chrooted to the tree reaches /caf\\xe9/conf (the kernel's stat(2), ${reached}). What did readlink(2) hand you, what did the string you made of it keep, and can the answer you return name what the kernel reached? (${WHERE})`).toBe(reached)
  })
})
