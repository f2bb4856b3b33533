/**
 * Images made by an attacker: layers whose root is a symlink, tars that lie about their
 * sizes or hide entries after the end, archives that point outside themselves, names that are
 * not names, IDs that wrap to root. Each is refused with one line naming the entry and the
 * reason, and leaves nothing behind.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadImages } from '#ch/06-images/load.ts'
import { allLayers, allTags, holdLayers, imageLayers, importImage, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { removeImage } from '../../lib/image-removal.ts'
import { applyLayer, UnsafeLayerError } from '#ch/06-images/unpack.ts'
import { forgetContainer, recordContainer } from '../../lib/image.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, tarFolder, tarOf, withTypeflag, writeDockerSave, writeOciLayout, type Entry } from '../support/images.ts'

const APP: Entry[] = [{ name: 'srv/' }, { name: 'srv/motd', content: 'from the app layer\n' }]

/** A layer dir to apply into, and a canary folder beside it that must stay as it is. */
function sandbox() {
  const root = tempDir()
  const outside = join(root, 'outside')
  mkdirSync(outside)
  writeFileSync(join(outside, 'passwd'), 'precious\n')
  mkdirSync(join(root, 'layers'))
  return { root, layer: join(root, 'layers', 'new'), outside }
}

/** The error a refused layer gives, after checking that it left nothing anywhere. */
async function refusedLayer(tar: Buffer, s = sandbox()): Promise<Error> {
  const error = await caught(() => applyLayer(tar, s.layer))
  expect(error, 'this layer must be refused').toBeInstanceOf(Error)
  expect(error.message.split('\n').length, `one line: ${error.message}`).toBe(1)
  expect(readdirSync(join(s.root, 'layers')), 'a refused layer must leave nothing where it was to go, nor beside it').toEqual([])
  expect(readdirSync(s.outside), 'nothing may be written outside the layer').toEqual(['passwd'])
  return error
}

/** No image, layer or tag in the store at `root`, and no unpacked archive left in it. */
function expectEmptyStore(root: string) {
  expect(allLayers(root), 'a refused load must leave no layer').toEqual([])
  expect(allTags(root), 'and no tag').toEqual([])
  const left = existsSync(root) ? readdirSync(root).filter((n) => n.startsWith('load-')) : []
  expect(left, 'and no unpacked copy of the archive').toEqual([])
}

describe('a layer whose root entry is a symlink', () => {
  for (const name of ['.', './', '']) {
    for (const target of ['ABSOLUTE', '../outside']) {
      it(`"${name}" -> ${target === 'ABSOLUTE' ? 'an absolute path' : target}`, async () => {
        const s = sandbox()
        const tar = await tarOf([
          { name, type: 'symlink', linkname: target === 'ABSOLUTE' ? s.outside : target },
          { name: 'passwd', content: 'pwned\n' },
        ])
        const error = await refusedLayer(tar, s)
        expect(error, 'the layer\'s own directory as a symlink must be refused with an UnsafeLayerError: where would every later entry be written?').toBeInstanceOf(UnsafeLayerError)
        expect(error.message, 'the refusal quotes the entry\'s name').toContain(JSON.stringify(name))
        expect(readFileSync(join(s.outside, 'passwd'), 'utf8')).toBe('precious\n')
      })
    }
  }

  it('a symlink as the root entry of a `docker load` tar', async () => {
    const s = sandbox()
    const store = join(s.root, 'store')
    const archive = join(s.root, 'evil.tar')
    writeFileSync(archive, await tarOf([{ name: './', type: 'symlink', linkname: s.outside }, { name: 'manifest.json', content: '[]' }]))
    const error = await caught(() => loadImages(store, archive))
    expect(error?.message, 'the archive\'s root entry is a symlink: it must be refused, quoting its name').toContain('"./"')
    expect(readdirSync(s.outside)).toEqual(['passwd'])
    expectEmptyStore(store)
  })

  it('a "./" directory as the first entry', async () => {
    const s = sandbox()
    await applyLayer(await tarOf([{ name: './' }, { name: './etc/' }, { name: './etc/motd', content: 'hi' }]), s.layer)
    expect(readFileSync(join(s.layer, 'etc/motd'), 'utf8')).toBe('hi')
  })
})

describe('tars that lie', () => {
  it('a file cut short inside its data', async () => {
    const whole = await tarOf([{ name: 'etc/' }, { name: 'etc/big', content: 'x'.repeat(5000) }], { trailer: false })
    for (const cut of [512 * 2 + 100, 512 * 2 + 4096, 512 * 2]) {
      const error = await refusedLayer(whole.subarray(0, cut))
      expect(error.message, `cut at ${cut} bytes: say which entry is short instead of padding it with zeros`).toMatch(/"etc\/big".*cut short/)
    }
  })

  it('a tar that ends inside a header', async () => {
    const whole = await tarOf([{ name: 'a' }, { name: 'b' }], { trailer: false })
    const error = await refusedLayer(whole.subarray(0, 512 + 200))
    expect(error.message).toMatch(/ends inside a header/)
  })

  it('an entry hidden after the end-of-archive marker', async () => {
    const s = sandbox()
    const first = await tarOf([{ name: 'shown', content: 'yes' }])
    const hidden = await tarOf([{ name: 'hidden', content: 'no' }])
    for (const [i, tar] of [Buffer.concat([first, hidden]), Buffer.concat([first.subarray(0, first.length - 512), hidden])].entries()) {
      const dir = `${s.layer}-${i}`
      await applyLayer(tar, dir)
      expect(readdirSync(dir), 'an entry after the end-of-archive marker was applied: where does Go\'s archive/tar (Reader.Next) stop reading?').toEqual(['shown'])
    }
  })

  it('entries of typeflag Z, S and V', async () => {
    for (const flag of ['Z', 'S', 'V']) {
      const tar = withTypeflag(await tarOf([{ name: 'ok', content: 'fine' }, { name: 'weird', content: 'x' }]), 1024, flag)
      const error = await refusedLayer(tar)
      expect(error, `typeflag ${flag}: an entry of a type the unpacker does not know must be refused, never dropped without a word`).toBeInstanceOf(UnsafeLayerError)
      expect(error.message, 'an unknown entry type is refused, never dropped without a word').toMatch(/"weird".*unknown entry type/)
    }
  })
})

describeKernel('fifos in a layer', () => {
  it('fifo entries, one with mode 0620', async () => {
    const s = sandbox()
    const failure = await caught(async () => applyLayer(await tarOf([{ name: 'run/' }, { name: 'run/pipe', type: 'fifo', mode: 0o620 }, { name: 'pipe2', type: 'fifo' }]), s.layer))
    expect(failure?.message, 'a layer with the fifo entries run/pipe and pipe2 failed to apply: each must be a fifo in the layer').toBeUndefined()
    expect(lstatSync(join(s.layer, 'run/pipe'), { throwIfNoEntry: false })?.isFIFO(), 'run/pipe must be a fifo').toBe(true)
    expect(statSync(join(s.layer, 'run/pipe')).mode & 0o777, 'with the mode of its header').toBe(0o620)
    expect(lstatSync(join(s.layer, 'pipe2'), { throwIfNoEntry: false })?.isFIFO(), 'pipe2 must be a fifo').toBe(true)
  })
})

describe('names from an archive', () => {
  const HOSTILE = ['hostile/../../evil:1', 'nul\0byte:1', '\x1b[2J\x1b[31mred:1', '__proto__', '__proto__:1', 'Upper:1', '']

  for (const name of HOSTILE) {
    it(`RepoTags ${JSON.stringify(name)}`, async () => {
      const root = tempDir()
      const folder = tempDir()
      writeDockerSave(folder, [{ image: await buildImage([APP]), tags: [name] }])
      const error = await caught(() => loadImages(root, folder))
      expect(error, 'a name that breaks the reference grammar must be refused').toBeInstanceOf(Error)
      expect(error.message, 'the message quotes the name as JSON: no raw control character may reach a terminal').toContain(JSON.stringify(name))
      expect(error.message).not.toMatch(/[\0\x1b\n]/)
      expectEmptyStore(root)
      expect(({} as Record<string, unknown>)['__proto__:latest'], 'Object.prototype must be untouched').toBeUndefined()
    })
  }

  it('RepoTags as a string, not a list', async () => {
    const root = tempDir()
    const folder = tempDir()
    writeDockerSave(folder, [{ image: await buildImage([APP]), tags: [] }])
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'))
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify([{ ...manifest[0], RepoTags: 'abc:1' }]))
    const error = await caught(() => loadImages(root, folder))
    expect(error?.message, 'a string would become one image per character').toMatch(/RepoTags "abc:1".*not a list/)
    expectEmptyStore(root)
  })

  for (const name of ['x/../../y:1', 'a\0b/c:1', 'evil/\x1b]0;title\x07:1']) {
    it(`an OCI layout annotation ${JSON.stringify(name)}`, async () => {
      const root = tempDir()
      const layout = tempDir()
      writeOciLayout(layout, [{ image: await buildImage([APP]), name }])
      const error = await caught(() => loadImages(root, layout))
      expect(error?.message, 'an annotation name passes the same grammar').toContain(JSON.stringify(name))
      expectEmptyStore(root)
    })
  }

  it('RepoTags constructor:1, tostring and hasownproperty/valueof:2', async () => {
    const root = tempDir()
    const folder = tempDir()
    const image = await buildImage([APP])
    writeDockerSave(folder, [{ image, tags: ['constructor:1', 'tostring', 'hasownproperty/valueof:2'] }])
    await loadImages(root, folder)
    expect(allTags(root).map(([tag]) => tag).sort(), 'tags that are also keys of Object.prototype: what does a record keyed by name hold before anything is stored in it?').toEqual(['constructor:1', 'hasownproperty/valueof:2', 'tostring:latest'])
    expect(resolveImage(root, 'constructor:1')).toBe(image.id)
  })

  it('RepoTags with a registry and its port, and a bare name', async () => {
    const root = tempDir()
    const folder = tempDir()
    const image = await buildImage([APP])
    writeDockerSave(folder, [{ image, tags: ['127.0.0.1:5000/team/app:v1.0', 'plain'] }])
    await loadImages(root, folder)
    expect(resolveImage(root, '127.0.0.1:5000/team/app:v1.0')).toBe(image.id)
    expect(resolveImage(root, 'plain:latest')).toBe(image.id)
  })
})

describe('archives that point outside themselves', () => {
  /** A secret on the "host" that no load may read, quote or import. */
  function secret() {
    const file = join(tempDir(), 'secret')
    writeFileSync(file, 'TOP-SECRET-CONTENT\n')
    return file
  }

  async function expectRefusedLoad(root: string, dir: string, name: RegExp) {
    const error = await caught(() => loadImages(root, dir))
    expect(error, 'this archive must be refused').toBeInstanceOf(Error)
    expect(error.message, 'name the file and say it is a symlink or leads outside').toMatch(name)
    expect(error.message, 'never quote a host file').not.toContain('TOP-SECRET')
    expectEmptyStore(root)
  }

  it('manifest.json and index.json as symlinks to a host file', async () => {
    const root = tempDir()
    const save = tempDir()
    symlinkSync(secret(), join(save, 'manifest.json'))
    await expectRefusedLoad(root, save, /"manifest\.json".*(symlink|outside)/)
    const layout = tempDir()
    writeOciLayout(layout, [{ image: await buildImage([APP]), name: 'x:1' }])
    const index = join(tempDir(), 'index.json')
    writeFileSync(index, readFileSync(join(layout, 'index.json')))
    rmSync(join(layout, 'index.json'))
    symlinkSync(index, join(layout, 'index.json'))
    await expectRefusedLoad(root, layout, /"index\.json".*(symlink|outside)/)
  })

  it('a blobs/ folder, or one blob, as a symlink', async () => {
    const image = await buildImage([APP])
    const real = tempDir()
    writeOciLayout(real, [{ image, name: 'x:1' }])
    const viaDir = tempDir()
    writeOciLayout(viaDir, [{ image, name: 'x:1' }])
    rmSync(join(viaDir, 'blobs'), { recursive: true })
    symlinkSync(join(real, 'blobs'), join(viaDir, 'blobs'))
    await expectRefusedLoad(tempDir(), viaDir, /"blobs\/sha256\/[0-9a-f]{64}".*(symlink|outside)/)
    const viaBlob = tempDir()
    writeOciLayout(viaBlob, [{ image, name: 'x:1' }])
    const layerBlob = join(viaBlob, 'blobs', 'sha256', image.layers[0]!.digest.slice(7))
    rmSync(layerBlob)
    symlinkSync(join(real, 'blobs', 'sha256', image.layers[0]!.digest.slice(7)), layerBlob)
    await expectRefusedLoad(tempDir(), viaBlob, /"blobs\/sha256\/[0-9a-f]{64}".*symlink/)
  })

  it('a docker save tar whose second layer escapes', async () => {
    const root = tempDir()
    const folder = tempDir()
    const good = await buildImage([APP])
    const evil = await buildImage([], { tars: [good.layers[0]!.tar, await tarOf([{ name: '../../escape', content: 'x' }])] })
    writeDockerSave(folder, [{ image: evil, tags: ['evil:1'] }])
    const archive = join(tempDir(), 'evil.tar')
    writeFileSync(archive, await tarFolder(folder))
    const error = await caught(() => loadImages(root, archive))
    expect(error?.message).toMatch(/"\.\.\/\.\.\/escape"/)
    expectEmptyStore(root)
  })
})

describe('rmi of an image a running container uses', () => {
  it('rmi by tag, ID and short ID, then rmi -f', async () => {
    const root = tempDir()
    const image = await buildImage([APP, [{ name: 'more' }]])
    const id = await importImage(root, image.config.data, (i) => image.layers[i]!.data, ['app:1'])
    recordContainer(root, 'c0ffee'.repeat(10) + 'abcd', id)
    const release = holdLayers(root, 'c0ffee'.repeat(10) + 'abcd', imageLayers(root, id).at(-1)!.chainId)
    for (const ref of ['app:1', id, id.slice(7, 19)]) {
      const error = await caught(() => removeImage(root, ref))
      expect(error, `rmi ${ref} while a container runs on it must be refused`).toBeInstanceOf(Error)
      expect(error.message, `rmi ${ref} while a container runs on it`).toMatch(/^conflict: unable to remove repository reference ".*" \(must force\) - container c0ffeec0ffee is using its referenced image [0-9a-f]{12}$/)
      expect(resolveImage(root, 'app:1'), 'a refused rmi untags nothing').toBe(id)
    }
    const report = removeImage(root, 'app:1', true)
    expect(report, 'forced: untagged and deleted').toEqual([{ Untagged: 'app:1' }, { Deleted: id }])
    expect(allLayers(root).length, 'rmi -f while the container runs: what is its overlay stacked on?').toBe(2)
    forgetContainer(root, 'c0ffee'.repeat(10) + 'abcd')
    expect(release().length, 'the container let go, and no image uses its layers any more: its release must take them. Which holds did the prune inside it still see?').toBe(2)
    expect(allLayers(root), 'the container let go, and no image uses its layers: they are still in the store').toEqual([])
  })

  it('a container record whose process is gone', async () => {
    const root = tempDir()
    const image = await buildImage([APP])
    const id = await importImage(root, image.config.data, (i) => image.layers[i]!.data, ['app:1'])
    recordContainer(root, 'dead', id)
    const record = join(storePaths(root).containers, 'dead', 'image.json')
    writeFileSync(record, JSON.stringify({ Image: id, Pid: 2 ** 22 + 1 }))
    expect(removeImage(root, 'app:1').at(-1), 'rmi with a record left by a killed minidocker: its Pid no longer runs').toEqual({ Deleted: image.layers[0]!.diffId })
  })
})
