import { createHash } from 'node:crypto'
import { chmodSync, chownSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { execa } from 'execa'
import tar, { type Header } from 'tar-stream'
import { expect, it } from 'vitest'
import { diffTar } from '#ch/05-layers/commit.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { tempDir } from '../support/files.ts'
import { startHelper } from '../support/helper.ts'
import { buildImage } from '../support/images.ts'
import { mountNamespace } from '../support/mountns.ts'
import { docker, loadImage } from '../support/realdocker.ts'

interface TarEntry {
  header: Header
  sha: string
}

/** The entries of a tar, in order, each with the sha256 of its data. */
async function entriesOf(bytes: Buffer): Promise<TarEntry[]> {
  const found: TarEntry[] = []
  const extract = tar.extract()
  Readable.from([bytes]).pipe(extract)
  for await (const entry of extract) {
    const hash = createHash('sha256')
    for await (const chunk of entry) hash.update(chunk as Buffer)
    found.push({ header: entry.header, sha: hash.digest('hex') })
  }
  return found
}

/** Run `docker ARGS` against the witness dockerd; its stdout, or a set-up failure. */
async function mustDocker(...args: string[]): Promise<string> {
  const run = await docker(args)
  if (run.code !== 0) throw new Error(`test set-up: docker ${args.join(' ')} failed: ${run.stderr}`)
  return run.stdout.trim()
}

/** The layer tar `docker commit` made: the last layer of the committed image, from `docker save`. */
async function committedLayer(container: string): Promise<Buffer> {
  const tag = `layers-commit:${container.slice(0, 12)}`
  await mustDocker('commit', container, tag)
  const saved = join(tempDir(), 'saved.tar')
  await mustDocker('save', '-o', saved, tag)
  const files = new Map<string, Buffer>()
  const extract = tar.extract()
  Readable.from([readFileSync(saved)]).pipe(extract)
  for await (const entry of extract) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk as Buffer)
    files.set(entry.header.name, Buffer.concat(chunks))
  }
  const manifest = JSON.parse(String(files.get('manifest.json'))) as { Layers: string[] }[]
  const layer = files.get(manifest[0]!.Layers.at(-1)!)
  if (!layer) throw new Error('test set-up: docker save holds no layer.tar for the commit')
  return layer
}

/**
 * An entry in words, as the layer format defines it: what it is, its mode and owner (but not
 * for the whiteout marks, whose mode nobody reads), its data or target. The two names of one
 * inode are told as one file "linked with" the other, whichever of them the tar wrote first.
 */
function describe(entries: TarEntry[]): Map<string, string> {
  const groups = new Map<string, string[]>()
  for (const { header } of entries) if (header.type === 'link') groups.set(header.linkname!, [...(groups.get(header.linkname!) ?? [header.linkname!]), header.name])
  const groupOf = (name: string) => [...groups.values()].find((g) => g.includes(name))
  const byName = new Map(entries.map((e) => [e.header.name, e]))
  const words = new Map<string, string>()
  for (const { header, sha } of entries) {
    const group = groupOf(header.name)
    const data = group ? byName.get(group[0]!) : { header, sha }
    const base = header.name.split('/').filter(Boolean).at(-1)!
    const mark = base.startsWith('.wh.')
    const who = mark ? '' : ` mode ${((data?.header.mode ?? 0) & 0o7777).toString(8)} owner ${header.uid}:${header.gid}`
    let what: string
    switch (group ? 'file' : header.type) {
      case 'file': what = `a regular file of ${data?.header.size ?? '?'} bytes (sha256 ${data?.sha.slice(0, 12)})${group ? `, linked with ${group.filter((n) => n !== header.name).join(', ')}` : ''}`; break
      case 'symlink': what = `a symlink to ${header.linkname}`; break
      case 'character-device': case 'block-device': what = `a ${header.type} ${header.devmajor}:${header.devminor}`; break
      default: what = `a ${header.type}`
    }
    words.set(header.name, what + who)
  }
  return words
}

/** What the learner should ask, for an entry the tars disagree on. */
function question(name: string): string {
  if (/(^|\/)opt\/app\/(\.wh\.[^/]*)?$/.test(name)) return 'opt/app was removed and made anew through the union. What did overlayfs leave in upper to say so (chapter text, "Whiteouts"), what does the image spec call the same thing in a layer (layer.md, "Opaque Whiteout"), and what must an unpacker that is not overlayfs read to hide the old opt/app\'s files?'
  if (/(^|\/)\.wh\./.test(name) || /etc\/gone2?$/.test(name)) return 'etc/gone and etc/gone2 were deleted through the union. What did overlayfs leave in upper for each (ls -li), what does the image spec call a deletion in a layer (layer.md, "Whiteouts"), and what would an unpacker make of what your tar holds there?'
  if (/hard|base\.(conf|link)/.test(name)) return 'the container linked two names to one inode: what must an unpacker read to make one inode of them again, with the data stored once? Compare ls -li of upper with the entries you wrote.'
  if (/new\/(secret|locked)/.test(name)) return 'what does upper hold there (ls -ld), and what did your tar say of it?'
  if (name === 'new/sock') return 'new/sock is a unix socket a service in the container listened on: what did docker commit make of it, and what would an unpacker make of yours?'
  if (name === 'new/null') return 'new/null is a device node the container made itself (mknod 1:3): what tells it apart from overlayfs\'s marks?'
  return 'which kind of entry, mode and owner does the upper directory hold there?'
}

/** For the order check below: each entry of a tar whose name starts with ".wh.", with the deeper directory entries of its folder that come before it. */
function deeperBefore(entries: TarEntry[]): string[] {
  const names = entries.map((e) => e.header.name)
  const dirOf = (name: string) => name.replace(/[^/]+\/?$/, '')
  return names.flatMap((mark, i) => {
    if (!/(^|\/)\.wh\.[^/]+$/.test(mark)) return []
    const early = names.slice(0, i).find((n) => n.endsWith('/') && n !== dirOf(mark) && n.startsWith(dirOf(mark)))
    return early ? [`${mark} comes after ${early}`] : []
  })
}

describeKernel('diffTar', () => {
  it('a container\'s changes, archived as docker commit archives them', async () => {
    // The image: one layer with files to edit, delete, link and replace.
    const image = await buildImage([[
      { name: 'etc/' }, { name: 'etc/motd', content: 'base\n' }, { name: 'etc/gone', content: 'x\n' }, { name: 'etc/gone2', content: 'y\n' },
      { name: 'etc/base.conf', content: 'conf\n' }, { name: 'opt/' }, { name: 'opt/app/' }, { name: 'opt/app/old.txt', content: 'old\n' },
      { name: 'opt/app/lib/' }, { name: 'opt/app/lib/x.so', content: 'so\n' },
    ]], { docker: true })
    await loadImage(image, 'layers-base:latest')
    const driver = await mustDocker('info', '-f', '{{json .DriverStatus}}')
    expect(driver, 'test set-up: dockerd does not use the native overlay diff (overlayfs\'s redirect_dir is on?), so docker commit would compare trees instead of reading upper').toContain('["Native Overlay Diff","true"]')
    const id = await mustDocker('create', 'layers-base:latest')
    const data = JSON.parse(await mustDocker('inspect', '-f', '{{json .GraphDriver.Data}}', id)) as Record<string, string>
    const { LowerDir: lower, UpperDir: upper, WorkDir: work } = data
    expect(upper && lower && work, `test set-up: dockerd's container has no overlay2 layer: ${JSON.stringify(data)}`).toBeTruthy()

    // The container's changes, made by the kernel through a union of dockerd's own layers.
    const ns = await mountNamespace()
    const merged = tempDir()
    await ns.helper.mount('overlay', merged, 'overlay', [], `lowerdir=${lower},upperdir=${upper},workdir=${work}`)
    try {
      const m = ns.inside(merged)
      writeFileSync(join(m, 'etc/motd'), 'edited\n')
      rmSync(join(m, 'etc/gone'))
      rmSync(join(m, 'etc/gone2'))
      rmSync(join(m, 'opt/app'), { recursive: true })
      mkdirSync(join(m, 'opt/app'))
      writeFileSync(join(m, 'opt/app/fresh'), 'fresh\n')
      mkdirSync(join(m, 'opt/app/lib'))
      writeFileSync(join(m, 'opt/app/lib/y.so'), 'y\n')
      mkdirSync(join(m, 'new'))
      chmodSync(join(m, 'new'), 0o750)
      writeFileSync(join(m, 'new/file.txt'), 'new\n')
      chmodSync(join(m, 'new/file.txt'), 0o640)
      chownSync(join(m, 'new/file.txt'), 1000, 1000)
      writeFileSync(join(m, 'new/secret'), 'secret\n')
      chmodSync(join(m, 'new/secret'), 0)
      mkdirSync(join(m, 'new/locked'))
      writeFileSync(join(m, 'new/locked/key'), 'key\n')
      chmodSync(join(m, 'new/locked'), 0)
      linkSync(join(m, 'new/file.txt'), join(m, 'new/hard'))
      linkSync(join(m, 'etc/base.conf'), join(m, 'etc/base.link'))
      symlinkSync('/etc/motd', join(m, 'new/link'))
      await ns.helper.mknod(join(merged, 'new/null'), 'c', 0o666, 1, 3)
      await ns.helper.mknod(join(merged, 'new/pipe'), 'p', 0o644, 0, 0)
      // A service in the container that listened on a unix socket, bound by a relative name (a
      // socket's path is limited to 108 bytes) from inside the union.
      const bound = await execa(process.execPath, ['-e', "require('net').createServer().listen('sock', () => process.exit(0))"], { cwd: join(m, 'new'), reject: false, stdin: 'ignore' })
      if (bound.exitCode !== 0) throw new Error(`test set-up: binding new/sock failed: ${bound.stderr}`)
    } finally {
      await ns.helper.umount2(merged)
    }

    const out = new PassThrough()
    const chunks: Buffer[] = []
    out.on('data', (chunk: Buffer) => chunks.push(chunk))
    const deadline = 20_000 // well under the test's own, so that a diffTar() that never finishes says so
    let timer: NodeJS.Timeout | undefined
    const done = await Promise.race([diffTar(ns.helper, upper!, out).then(() => 'done'), new Promise<'waiting'>((r) => { timer = setTimeout(() => r('waiting'), deadline) })]).finally(() => clearTimeout(timer))
    const written = chunks.reduce((n, c) => n + c.length, 0)
    expect(done, `diffTar() of dockerd's upper directory of this container (${upper}) had not finished ${deadline / 1000} s later, having written ${written} bytes to out, which this test reads as they come: what is it waiting for?`).toBe('done')
    const mine = await entriesOf(Buffer.concat(chunks))
    const theirs = await entriesOf(await committedLayer(id))

    const [wrote, want] = [describe(mine), describe(theirs)]
    const names = [...new Set([...wrote.keys(), ...want.keys()])].sort()
    const differ = names.filter((n) => wrote.get(n) !== want.get(n))
      .map((n) => `${n}: docker commit wrote ${want.get(n) ?? 'no such entry'}; diffTar() wrote ${wrote.get(n) ?? 'no such entry'}. ${question(n)}`)
    expect(differ, `diffTar() of dockerd's own upper directory differs from the layer \`docker commit\` made of it (chapter text, "Committing a container"):\n${differ.join('\n')}`).toEqual([])
    expect(mine.length, 'each entry once: diffTar() wrote a name twice').toBe(wrote.size)

    // An unpacker creates entries in the order it reads them.
    const order = mine.map((e) => e.header.name)
    const late = mine.flatMap(({ header }, i) => {
      const parent = header.name.replace(/[^/]+\/?$/, '')
      const needs = [parent, header.type === 'link' ? header.linkname! : ''].filter((n) => n && order.includes(n))
      return needs.filter((n) => order.indexOf(n) > i).map((n) => `${header.name} comes before ${n}`)
    })
    expect(late, `in diffTar()'s tar, ${late.join('; ')}: what does an unpacker that makes each entry as it reads it do with those?`).toEqual([])
    expect(deeperBefore(theirs), 'test set-up: docker commit\'s own layer puts a mark after a directory of its own directory').toEqual([])
    const marksLate = deeperBefore(mine)
    expect(marksLate, `in diffTar()'s tar, ${marksLate.join('; ')}; docker commit's tar has no such pair. Unpack both onto the image's layer with an unpacker that applies each entry as it reads it: what does each leave of that directory?`).toEqual([])
  }, 60_000)

  it('docker commit when the helper has died, and docker commit onto a full disk', async () => {
    const ns = await mountNamespace()
    const upper = tempDir()
    for (let i = 0; i < 40; i++) writeFileSync(join(upper, `file${i}`), Buffer.alloc(16_384, i))
    mkdirSync(join(upper, 'later'))
    const within = <T,>(promise: Promise<T>) => Promise.race([promise, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))])

    // The helper gone before the walk reaches the directory (whose opaque mark only the helper can read): the walk fails part-way.
    const gone = startHelper()
    gone.kill()
    await gone.exited
    const out = new PassThrough()
    out.resume()
    const failed = await within(caught(() => diffTar(gone, upper, out)))
    expect(failed, 'diffTar() given a helper that has exited, so that its first question to the helper (at upper\'s directory `later`) fails, had neither resolved nor rejected 10 s later: where did that failure go, and what is your caller still waiting for?').not.toBe('hung')
    expect(failed, 'diffTar() resolved although it could not ask the helper whether a directory is opaque: a caller would store a wrong layer').toBeInstanceOf(Error)
    expect(out.destroyed || out.writableEnded, 'after the failed walk, `out` is still open: whoever reads it waits for the rest of a tar that will never come').toBe(true)

    // A destination that fails every write (a full disk): the first failure is the answer.
    const full = new Writable({ write: (_chunk, _encoding, done) => done(new Error('no space left on the destination')) })
    const refused = await within(caught(() => diffTar(ns.helper, upper, full)))
    expect(refused, 'diffTar() to a destination whose every write fails (a full disk) had neither resolved nor rejected 10 s later, though its first write failed at once: what is it still waiting for?').not.toBe('hung')
    expect(String(refused), 'diffTar() to a destination that fails every write: the rejection should carry that failure').toMatch(/no space left on the destination/)
  }, 60_000)
})
