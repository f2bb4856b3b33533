/**
 * A name that changes between writeEntry()'s look and its open: a stand-in for another process
 * in the layer's folder plants a symlink to a host file at an entry's name right before the
 * unpacker opens that name to write it. Every way of opening a file for writing that node:fs
 * offers is watched; the plant happens before the first open of the entry's name.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { applyLayer } from '#ch/06-images/unpack.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { tarOf } from '../support/images.ts'

const plant = vi.hoisted(() => {
  const state = { name: '', target: '', planted: '' }
  /** Before an open of a path whose last component is `state.name`, a symlink to `state.target` at it. */
  const before = (real: { lstatSync: (p: string, o: object) => unknown; symlinkSync: (t: string, p: string) => void }, path: unknown) => {
    if (state.name === '' || state.planted !== '' || typeof path !== 'string' || !path.endsWith(`/${state.name}`)) return
    if (!real.lstatSync(path, { throwIfNoEntry: false })) real.symlinkSync(state.target, path)
    state.planted = path
  }
  const wrap = <T extends object>(real: T, names: string[], fs: Parameters<typeof before>[0]): T => {
    const wrapped = { ...real } as Record<string, unknown>
    for (const name of names) {
      const fn = (real as Record<string, unknown>)[name] as ((...args: unknown[]) => unknown) | undefined
      if (fn) wrapped[name] = (...args: unknown[]) => (before(fs, args[0]), fn(...args))
    }
    return { ...wrapped, default: wrapped } as T
  }
  return { state, wrap }
})
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  return plant.wrap(real, ['createWriteStream', 'openSync', 'open', 'writeFileSync', 'writeFile', 'appendFileSync', 'copyFileSync'], real)
})
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return plant.wrap(real, ['open', 'writeFile', 'appendFile', 'copyFile'], (await vi.importActual<typeof import('node:fs')>('node:fs')))
})

describe('a name that changes under writeEntry()', () => {
  it('a symlink to a host file planted at a file entry\'s name right before it is opened', async () => {
    const root = tempDir()
    const outside = join(root, 'outside')
    mkdirSync(outside)
    writeFileSync(join(outside, 'passwd'), 'precious\n')
    mkdirSync(join(root, 'layers'))
    Object.assign(plant.state, { name: 'victim', target: join(outside, 'passwd'), planted: '' })
    onCleanup(() => Object.assign(plant.state, { name: '', target: '', planted: '' }))
    const layer = join(root, 'layers', 'new')
    const tar = await tarOf([{ name: 'etc/' }, { name: 'etc/victim', content: 'pwned\n' }])
    const error = await caught(() => applyLayer(tar, layer))
    if (error instanceof NotImplementedError) throw error
    expect(plant.state.planted, 'the stand-in never saw the unpacker open "etc/victim" for writing through node:fs').not.toBe('')
    const what = 'a symlink to a host file appeared at "etc/victim" between what writeEntry() did to the name and its open'
    expect(readFileSync(join(outside, 'passwd'), 'utf8'), `${what}, and the host file was written through it. What stood at the name at the moment your write began, and did anything look? (writeEntry's TODO 2)`).toBe('precious\n')
    if (error === undefined) {
      expect(lstatSync(join(layer, 'etc', 'victim')).isFile(), `${what}: the layer was applied, so its "etc/victim" must be the entry's own regular file`).toBe(true)
    } else {
      expect(readdirSync(join(root, 'layers')), `${what}: the layer was refused (${error.message}), so it must leave nothing behind`).toEqual([])
    }
  })
})
