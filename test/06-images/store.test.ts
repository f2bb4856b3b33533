import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { mountOverlay } from '#ch/05-layers/overlay.ts'
import { DigestMismatchError } from '#ch/06-images/cas.ts'
import { allLayers, imageLayers, importImage, NoSuchImageError, pruneLayers, readLayer, registerLayer, resolveImage, storePaths, tagImage, tagsOf } from '#ch/06-images/store.ts'
import { removeImage } from '../../lib/image-removal.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace } from '../support/mountns.ts'
import { buildImage, sha256, type Entry, type TestImage } from '../support/images.ts'

const BASE: Entry[] = [{ name: 'etc/' }, { name: 'etc/os-release', content: 'base\n' }]
const APP: Entry[] = [{ name: 'app/' }, { name: 'app/run', content: 'run\n', mode: 0o755 }]
const OTHER: Entry[] = [{ name: 'other/' }, { name: 'other/file', content: 'other\n' }]

/** Import `image`, counting which of its layers the store asked for. */
async function load(root: string, image: TestImage, tags: string[] = []) {
  const opened: number[] = []
  try {
    const id = await importImage(root, image.config.data, (i) => {
      opened.push(i)
      return image.layers[i]!.data
    }, tags)
    return { id, opened }
  } catch (error) {
    if (error instanceof NotImplementedError || !/not in the layer store/.test((error as Error).message)) throw error
    throw new Error(`importImage() failed: ${(error as Error).message}. The images stored before it use that layer: which prune took it, and did it ask whether an image still used it?`)
  }
}

describe('the layer store', () => {
  it('importImage of a two-layer image', async () => {
    const root = tempDir()
    const image = await buildImage([BASE, APP])
    await load(root, image)
    const [d1, d2] = image.layers.map((l) => l.diffId) as [string, string]
    const top = allLayers(root).find((l) => l.diffId === d2)
    if (top === undefined) throw new Error(`no layerdb/sha256/<chain id>/diff holds the top layer's diff ID ${d2}`)
    expect(top.diffId, 'layerdb/sha256/<chain id>/diff holds the diff ID').toBe(d2)
    expect(top.parent, 'the parent file holds the chain ID below').toBe(d1)
    expect(readFileSync(join(storePaths(root).graph, top.cacheId, 'diff/app/run'), 'utf8'), 'the layer\'s files are in overlay2/<cache-id>/diff').toBe('run\n')
    const bottom = readLayer(root, d1)
    expect(bottom.parent, 'the bottom layer has no parent').toBeUndefined()
    expect(readFileSync(join(storePaths(root).layerdb, 'sha256', d1.slice(7), 'cache-id'), 'utf8')).toBe(bottom.cacheId)
    expect(readFileSync(join(storePaths(root).graph, top.cacheId, 'lower'), 'utf8'), 'the layer is stacked on its parent with chapter 05\'s lower file')
      .toBe(`l/${readFileSync(join(storePaths(root).graph, bottom.cacheId, 'link'), 'utf8')}`)
  })

  it('registerLayer with an expected diff ID the tar does not have', async () => {
    const root = tempDir()
    const image = await buildImage([BASE])
    const error = await caught(() => registerLayer(root, null, image.layers[0]!.data, sha256('something else')))
    expect(error, 'a layer that is not the one the config lists is a DigestMismatchError').toBeInstanceOf(DigestMismatchError)
    expect(allLayers(root), 'no layerdb entry may be written').toEqual([])
    const graph = existsSync(storePaths(root).graph) ? readdirSync(storePaths(root).graph).filter((n) => n !== 'l') : []
    expect(graph, 'the unpacked folder must be removed again').toEqual([])
  })

  it('two images on the same base layer', async () => {
    const root = tempDir()
    const first = await buildImage([BASE, APP])
    const second = await buildImage([BASE, OTHER])
    await load(root, first)
    const { opened } = await load(root, second)
    expect(opened, 'the second image\'s base layer is in the store already: which layers did importImage() open? (the chain IDs in the chapter text, "Diff IDs, chain IDs and the image ID")').toEqual([1])
    expect(allLayers(root).length, 'three distinct layers: base, app, other').toBe(3)
    expect(readdirSync(storePaths(root).graph).filter((n) => n !== 'l').length, 'and three folders in overlay2/').toBe(3)
  })

  it('APP on BASE, then APP on OTHER', async () => {
    const root = tempDir()
    await load(root, await buildImage([BASE, APP]))
    const { opened } = await load(root, await buildImage([OTHER, APP]))
    expect(opened, 'APP on OTHER after APP on BASE: which layers did importImage() open, and by which ID did it look them up?').toEqual([0, 1])
  })

  it('importImage of APP on a stored BASE that no image uses, with a prune of BASE between two of its layers', async () => {
    // BASE is stored and unused (an rmi, or a load that failed, left it); while the import unpacks
    // APP, an rmi in another process prunes what no image uses, as it may at any moment
    const root = tempDir()
    const image = await buildImage([BASE, APP])
    const base = await registerLayer(root, null, image.layers[0]!.data)
    let pruned: string[] = []
    const error = await caught(() => importImage(root, image.config.data, (i) => {
      if (i === 1) pruned = pruneLayers(root, [base])
      return image.layers[i]!.data
    }, ['app:1']))
    if (error instanceof NotImplementedError) throw error
    const what = 'importImage() found BASE stored and did not unpack it; while it opened APP, a prune of BASE ran, as an rmi in another process may'
    expect({ error: error?.message, pruned }, `${what}. Until the image is recorded, what keeps the layers the import found, or made, from a prune? (the text's "A hold and a prune at the same time"; moby's tarexport/load.go)`).toEqual({ error: undefined, pruned: [] })
    const id = resolveImage(root, 'app:1')
    expect(imageLayers(root, id).map((l) => existsSync(join(storePaths(root).graph, l.cacheId, 'diff'))), `${what}: every layer of the image recorded must be stored`).toEqual([true, true])
    expect(removeImage(root, 'app:1').filter((r) => 'Deleted' in r).length, `${what}, then the image was removed: its two layers must go with it. Did the import leave something that still keeps them?`).toBe(3)
  })
})

describe('images and tags', () => {
  it('lookups by tag, bare name, ID, short ID and an unknown name', async () => {
    const root = tempDir()
    const image = await buildImage([BASE])
    const { id } = await load(root, image, ['probe:1.0', 'probe'])
    expect(id, 'the image ID is the sha256 of the config bytes').toBe(image.id)
    expect(readFileSync(join(storePaths(root).imagedb, 'sha256', id.slice(7))), 'the config is stored as it came').toEqual(image.config.data)
    expect(resolveImage(root, 'probe:1.0')).toBe(id)
    expect(resolveImage(root, 'probe'), '"probe" means "probe:latest"').toBe(id)
    expect(resolveImage(root, id)).toBe(id)
    expect(resolveImage(root, id.slice(7, 19)), 'a short ID as `docker images` prints it').toBe(id)
    const error = await caught(() => resolveImage(root, 'nope'))
    expect(error, 'an unknown name is a NoSuchImageError').toBeInstanceOf(NoSuchImageError)
    expect(error.message).toContain('nope')
  })
})

describe('rmi', () => {
  it('an image tagged a:1 and b:1, removed by tag twice', async () => {
    const root = tempDir()
    const { id } = await load(root, await buildImage([BASE]), ['a:1', 'b:1'])
    expect(removeImage(root, 'a:1')).toEqual([{ Untagged: 'a:1' }])
    expect(resolveImage(root, 'b:1'), 'the image is still there under its other tag').toBe(id)
    const report = removeImage(root, 'b:1')
    expect(report.slice(0, 2)).toEqual([{ Untagged: 'b:1' }, { Deleted: id }])
    expect(tagsOf(root, id)).toEqual([])
    expect(await caught(() => resolveImage(root, id)), 'the image is gone').toBeInstanceOf(NoSuchImageError)
  })

  it('two images on one base layer, removed one by one', async () => {
    const root = tempDir()
    const first = await buildImage([BASE, APP])
    const second = await buildImage([BASE, OTHER])
    await load(root, first, ['first'])
    await load(root, second, ['second'])
    const base = readLayer(root, first.layers[0]!.diffId)
    const top = allLayers(root).find((l) => l.parent === base.chainId && l.diffId === first.layers[1]!.diffId)!.chainId
    const deleted = removeImage(root, 'first').flatMap((r) => ('Deleted' in r ? [r.Deleted] : []))
    expect(deleted, 'rmi first, while "second" stacks on the same base layer: which layers did it delete? (docker rmi\'s output)').toEqual([first.id, top])
    expect(existsSync(join(storePaths(root).graph, base.cacheId, 'diff/etc/os-release')), '"second" stacks on the same base layer: its files are gone').toBe(true)
    removeImage(root, 'second')
    expect(allLayers(root), 'with the last image gone, no layer is left').toEqual([])
    expect(readdirSync(storePaths(root).graph).filter((n) => n !== 'l'), 'nor any unpacked folder').toEqual([])
    expect(readdirSync(join(storePaths(root).graph, 'l')), 'nor any short link').toEqual([])
  })

  it('rmi by short ID of an image with three tags', async () => {
    const root = tempDir()
    const { id } = await load(root, await buildImage([BASE]), ['x', 'y:2'])
    tagImage(root, 'z', id)
    const untagged = removeImage(root, id.slice(7, 19)).flatMap((r) => ('Untagged' in r ? [r.Untagged] : []))
    expect(untagged.sort()).toEqual(['x:latest', 'y:2', 'z:latest'])
    expect(allLayers(root)).toEqual([])
  })
})

describeKernel('a stored image under overlayfs', () => {
  it('etc/.wh.motd and data/.wh..wh..opq over a layer with etc/motd and data/old.txt', async () => {
    const root = tempDir()
    const image = await buildImage([
      [{ name: 'etc/' }, { name: 'etc/motd', content: 'old\n' }, { name: 'etc/hosts', content: 'h\n' }, { name: 'data/' }, { name: 'data/old.txt', content: 'old\n' }],
      [{ name: 'etc/' }, { name: 'etc/.wh.motd', content: '' }, { name: 'data/' }, { name: 'data/.wh..wh..opq', content: '' }, { name: 'data/new.txt', content: 'new\n' }],
    ])
    const { id } = await load(root, image)
    const graph = storePaths(root).graph
    const lower = imageLayers(root, id).reverse().map((l) => join(graph, l.cacheId, 'diff'))
    const [upper, work, merged] = ['upper', 'work', 'merged'].map((d) => join(tempDir(), d)) as [string, string, string]
    for (const d of [upper, work, merged]) mkdirSync(d)
    const ns = await mountNamespace()
    await mountOverlay(ns.helper, { lower, upper, work }, merged)
    expect(readdirSync(ns.inside(join(merged, 'etc'))), 'etc/.wh.motd must hide the lower layer\'s motd').toEqual(['hosts'])
    expect(readdirSync(ns.inside(join(merged, 'data'))), 'data/.wh..wh..opq must hide all of the lower data/').toEqual(['new.txt'])
  })
})
