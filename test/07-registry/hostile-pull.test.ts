/**
 * Hostile images pulled from a real registry (Debian's docker-registry): what chapter 06
 * refuses in a layer must be refused on the way in from the network too, and a refused pull
 * leaves no layer, image or tag, and no file outside the store.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { allImageIds, allLayers, allTags } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { buildImage, probeEntries, tarOf } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { pushImage, startRegistry, type Registry } from '../support/registry.ts'

describeKernel('pulling hostile images', () => {
  let registry: Registry
  let canary: string

  beforeAll(async () => {
    registry = await startRegistry()
    canary = mkdtempSync(join(tmpdir(), 'minidocker-canary-')) // for the whole file: tempDir() goes after each test
    mkdirSync(join(canary, 'etc'))
    const push = async (repo: string, tar: Buffer) => pushImage(registry, repo, 'latest', await buildImage([], { tars: [await tarOf(probeEntries()), tar] }))
    await push('root-symlink', await tarOf([{ name: './', type: 'symlink', linkname: join(canary, 'etc') }, { name: 'cron', content: 'pwned\n' }]))
    await push('root-relative', await tarOf([{ name: '.', type: 'symlink', linkname: '../../../../../../../../..' + join(canary, 'etc') }, { name: 'cron', content: 'pwned\n' }]))
    const cut = await tarOf([{ name: 'big', content: 'x'.repeat(4000) }], { trailer: false })
    await push('cut-short', cut.subarray(0, 1024))
    writeFileSync(join(canary, 'etc', 'passwd'), 'precious\n')
  })
  afterAll(async () => {
    await registry?.stop()
    rmSync(canary, { recursive: true, force: true })
  })

  const cases = [
    ['root-symlink', 'a layer whose root is a symlink to a directory outside', /root must be a directory/],
    ['root-relative', 'a layer whose root is a relative symlink climbing out', /root must be a directory/],
    ['cut-short', 'a layer whose tar stops inside a file', /"big".*cut short/],
  ] as const
  for (const [repo, what, why] of cases) {
    it(`${what} (${repo})`, async () => {
      const root = tempDir('minidocker-store-')
      const error = await caught(() => pullImage(`${registry.host}/${repo}`, { root }))
      expect(error, `the pull of ${repo}, ${what}, succeeded (see chapter 06)`).toBeInstanceOf(Error)
      expect(error.message, 'expected one line naming the entry and the reason, in chapter 06\'s words').toMatch(why)
      expect(readdirSync(join(canary, 'etc')), 'a file was written through the layer\'s root, outside the store').toEqual(['passwd'])
      expect(allTags(root), 'a tag was left from a refused pull').toEqual([])
      expect(allImageIds(root), 'an image was left from a refused pull').toEqual([])
      expect(allLayers(root).length, 'layers left in the store besides the good base layer (which dockerd keeps too)').toBeLessThanOrEqual(1)
    })
  }
})
