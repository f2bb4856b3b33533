/**
 * Layers a running container still stands on: two images share a base, one goes with rmi -f
 * under a running container, the other with rmi; and a holder that dies without letting go.
 * The container, each rmi and the dying holder are processes of their own, as they are for a user.
 */
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { allLayers, importImage, readLayer, storePaths } from '#ch/06-images/store.ts'
import { removeImage } from '../../lib/image-removal.ts'
import { conditionsFor } from '../../workbook/conditions.cjs'
import { onCleanup, tempDir } from '../support/files.ts'
import { waitFor } from '../support/container.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, minidocker, probeEntries, writeOciLayout, type Entry } from '../support/images.ts'

const SECTION = 'the text\'s "Layers a running container still stands on"'
const A: Entry[] = [{ name: 'a/' }, { name: 'a/file', content: 'a\n' }]
const B: Entry[] = [{ name: 'b/' }, { name: 'b/file', content: 'b\n' }]

/** The files of the store's layers that are still there, by chain ID. */
const stored = (root: string) => allLayers(root).map((l) => l.chainId)

describeKernel('a base two images share, under a running container', () => {
  it('rmi -f of the container\'s image, then rmi of the other image, then the container ends', async () => {
    const root = tempDir()
    const [a, b] = [await buildImage([probeEntries(), A]), await buildImage([probeEntries(), B])]
    const folder = tempDir()
    writeOciLayout(folder, [{ image: a, name: 'a:1' }, { image: b, name: 'b:1' }])
    const load = await minidocker(root, ['load', '-i', folder])
    expect(load.code, `minidocker load failed: ${load.stderr}`).toBe(0)
    const base = readLayer(root, a.layers[0]!.diffId).chainId
    const bin = fileURLToPath(new URL('../../bin/minidocker.cjs', import.meta.url))
    // the container starts, then gives the test time to remove both images before it reads its files
    const run = execa(process.execPath, [bin, 'run', 'a:1', '/probe', 'sleep:1', 'sleep:20000', 'cat:/etc/passwd', 'cat:/a/file'], { env: { MINIDOCKER_ROOT: root }, reject: false, stdin: 'ignore' })
    // the container ends on its own: killing its minidocker would leave its overlay mounted
    onCleanup(async () => {
      await run
    })
    let out = ''
    run.stdout!.on('data', (chunk: Buffer) => { out += chunk })
    expect(await waitFor(() => out.includes('"slept"') || run.exitCode !== null, 60_000), 'the container never started').toBe(true)
    expect(run.exitCode, `the container ended before the test could remove its image: ${out}`).toBeNull()
    const forced = await minidocker(root, ['rmi', '-f', 'a:1'])
    expect(forced.code, `rmi -f a:1: ${forced.stderr}`).toBe(0)
    const removed = await minidocker(root, ['rmi', 'b:1'])
    expect(removed.code, `rmi b:1: ${removed.stderr}`).toBe(0)
    expect(stored(root), `rmi -f a:1 while a container runs on it, then rmi b:1, in other processes than the container's: is the base the container stands on still in the store? Who holds it now that no image does? (${SECTION})`).toContain(base)
    expect(removed.stdout, 'rmi b:1 deleted the base under the running container').not.toContain(`Deleted: ${base}`)
    expect(run.exitCode, 'the container ended before both rmi were done: the machine is too busy for this test, run it again').toBeNull()
    const { exitCode, stdout, stderr } = await run
    expect(exitCode, `the container must run to its end on its own files: ${stderr}`).toBe(0)
    expect(stdout, 'the container read its base layer\'s files after both rmi').toContain('probe:x:1000')
    expect(stdout, 'the container read its own image\'s top layer after rmi -f').toContain('"a\\n"')
    expect(allLayers(root), `the container ended, and no image is left: which of the layers it held does its release let go of? (${SECTION})`).toEqual([])
    expect(readdirSync(storePaths(root).graph).filter((n) => n !== 'l'), 'nor any unpacked folder').toEqual([])
  }, 180_000)
})

describe('a holder that dies without letting go', () => {
  it('a process holds an image\'s layers, is killed with SIGKILL, and the next rmi runs', async () => {
    const root = tempDir()
    const [a, b] = [await buildImage([A, B]), await buildImage([A])]
    const idA = await importImage(root, a.config.data, (i) => a.layers[i]!.data, ['a:1'])
    await importImage(root, b.config.data, (i) => b.layers[i]!.data, ['b:1'])
    const base = readLayer(root, a.layers[0]!.diffId).chainId
    const topOfA = allLayers(root).find((l) => l.parent === base)!.chainId
    // another process holds a:1's top layer, as `minidocker run` does, and then dies without releasing it
    const script = `import('#ch/06-images/store.ts').then((m) => { m.holdLayers(${JSON.stringify(root)}, 'c0ffee', ${JSON.stringify(topOfA)}); console.log('held'); setInterval(() => {}, 1000) }, (e) => { console.error(e.name + ': ' + e.message); process.exit(3) })`
    const holder = execa(process.execPath, ['--import', 'tsx', ...conditionsFor().map((c) => `--conditions=${c}`), '-e', script], { reject: false, stdin: 'ignore', cwd: fileURLToPath(new URL('../..', import.meta.url)) })
    onCleanup(async () => {
      holder.kill('SIGKILL')
      await holder
    })
    let out = ''
    holder.stdout!.on('data', (chunk: Buffer) => { out += chunk })
    await waitFor(() => out.includes('held') || holder.exitCode !== null, 30_000)
    expect(out, `the holding process never held: ${holder.exitCode === null ? 'no answer' : (await holder).stderr}`).toContain('held')
    removeImage(root, idA)
    expect(stored(root), `another process holds a:1's top layer; rmi a:1 ran in this one: is the hold where this process can see it? (${SECTION})`).toContain(topOfA)
    holder.kill('SIGKILL')
    await holder
    removeImage(root, 'b:1')
    expect(allLayers(root), `the holder was killed without releasing, then rmi b:1 pruned: how does the next prune know a hold is stale, and what becomes of what it held? (${SECTION})`).toEqual([])
  }, 60_000)
})
