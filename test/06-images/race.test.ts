/**
 * A run taking hold of layers while an `rmi` in another process prunes them. In this process,
 * one side is stopped before each of its file-system steps in turn while the other runs whole,
 * in both directions; then two processes of their own race for many rounds, and a holder is
 * killed at each step of its hold. The guarantee is the one holdLayers() and pruneLayers() state.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { allLayers, hasLayer, holdLayers, pruneLayers, registerLayer, storePaths, type LayerRecord } from '#ch/06-images/store.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { tarOf, type Entry } from '../support/images.ts'

const race = await vi.hoisted(async () => {
  const { interposer } = await import('../support/interpose.ts')
  const calls = ['existsSync', 'statSync', 'lstatSync', 'readdirSync', 'readFileSync', 'writeFileSync', 'mkdirSync', 'renameSync', 'rmSync', 'rmdirSync', 'unlinkSync', 'openSync', 'linkSync', 'symlinkSync', 'readlinkSync', 'accessSync']
  return { ...interposer(), calls }
})
vi.mock('node:fs', async (importOriginal) => race.watch(await importOriginal<typeof import('node:fs')>(), race.calls))

const SECTION = 'the text\'s "A hold and a prune at the same time"'
const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))
const A: Entry[] = [{ name: 'a/' }, { name: 'a/file', content: 'a\n' }]
const B: Entry[] = [{ name: 'b/' }, { name: 'b/file', content: 'b\n' }]

/** Run `step` once, before the `k`th file-system step below `root` of what runs next; `ran()` says whether it came. */
function before(root: string, k: number, step: () => void): { ran: () => boolean } {
  let steps = 0
  Object.assign(race.state, { below: root, step: () => ++steps === k && step() })
  onCleanup(() => void Object.assign(race.state, { below: '', step: undefined }))
  return { ran: () => steps >= k }
}
const stop = () => void Object.assign(race.state, { below: '', step: undefined })

/** A base layer and one on top of it, which no image uses. */
async function twoLayers(root: string): Promise<LayerRecord[]> {
  const base = await registerLayer(root, null, await tarOf(A))
  return [base, await registerLayer(root, base.chainId, await tarOf(B))]
}

const folderOf = (root: string, layer: LayerRecord) => join(storePaths(root).graph, layer.cacheId)

/** Every file (not directory) below `dir`. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name))
}

/** The error `action` throws (undefined if none); NotImplementedError goes through, so a starter fails with it. */
function thrown(action: () => unknown): Error | undefined {
  try {
    action()
    return undefined
  } catch (error) {
    if (error instanceof NotImplementedError) throw error
    return error as Error
  }
}

/** The release the last hold that succeeded here returned. */
let release: () => string[] = () => []
const holdTop = (root: string, top: string) => void (release = holdLayers(root, 'c0ffee', top))

/** What the guarantee demands once a hold (which failed with `held`, or not) and a prune are both done. */
function expectGuarantee(root: string, chain: LayerRecord[], held: Error | undefined, what: string): void {
  for (const layer of chain) {
    expect(hasLayer(root, layer.chainId), `${what}: layer ${layer.chainId.slice(7, 19)}'s layerdb entry and its unpacked folder must go together (or stay together): one is there, the other not`).toBe(existsSync(folderOf(root, layer)))
  }
  if (held === undefined) {
    const gone = chain.filter((l) => !hasLayer(root, l.chainId))
    expect(gone.map((l) => l.chainId), `${what}: holdLayers() returned, and the prune deleted layers it holds. Which of the two should have seen the other, and at which of its steps? (${SECTION})`).toEqual([])
    release()
  } else {
    expect(held.message, `${what}: holdLayers() failed; its error must say which layer went (its chain ID), so that run can say why it cannot start`).toMatch(new RegExp(chain.map((l) => l.chainId.slice(7, 19)).join('|')))
    pruneLayers(root, chain)
  }
  expect(allLayers(root).map((l) => l.chainId), `${what}: after the ${held ? 'failed hold and a prune' : 'release'} no layer should be left: ${held ? 'did the failed hold leave its hold on disk?' : 'did the prune put back a layer it took out?'} (${SECTION})`).toEqual([])
  expect(filesBelow(root), `${what}: once nothing holds and nothing is stored, no file should be left in the store (a hold, a half-made hold, a layer taken out of layerdb)`).toEqual([])
}

describe('a hold and a prune, one stopped at each of its steps', () => {
  it('holdLayers stopped before each file-system step while a whole pruneLayers runs', async () => {
    for (let k = 1; k <= 100; k++) {
      const root = tempDir()
      const chain = await twoLayers(root)
      let pruneError: Error | undefined
      const gap = before(root, k, () => void (pruneError = thrown(() => pruneLayers(root, chain))))
      const held = thrown(() => holdTop(root, chain[1]!.chainId))
      stop()
      const what = `holdLayers() stopped before its file-system step ${k}, a whole pruneLayers() of both layers in between`
      expect(pruneError?.message, `${what}: the prune failed`).toBeUndefined()
      expectGuarantee(root, chain, held, what)
      if (!gap.ran()) return
    }
  }, 60_000)

  it('pruneLayers stopped before each file-system step while a whole holdLayers runs', async () => {
    for (let k = 1; k <= 100; k++) {
      const root = tempDir()
      const chain = await twoLayers(root)
      let held: Error | undefined
      const gap = before(root, k, () => void (held = thrown(() => holdTop(root, chain[1]!.chainId))))
      pruneLayers(root, chain)
      stop()
      const what = `pruneLayers() of both layers stopped before its file-system step ${k}, a whole holdLayers() of the top in between`
      if (!gap.ran()) return
      expectGuarantee(root, chain, held, what)
    }
  }, 60_000)
})

/** A holder.ts process; `line` is its first line of output, a reported NotImplementedError thrown as one. */
function holder(args: string[]): { line: Promise<string>; exited: Promise<unknown> } {
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(START)}).start('holder', 'test/06-images/holder.ts')`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  onCleanup(async () => {
    // only while it has not been reaped: its PID cannot have been reused before then
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const line = exited.then(() => {
    const first = out.split('\n')[0]!
    const error = first.startsWith('{"error"') ? (JSON.parse(first) as { error: { name: string; message: string; fn?: string } }).error : undefined
    if (error?.name === 'NotImplementedError') throw new NotImplementedError('06-images', error.fn ?? 'holdLayers')
    if (error) throw new Error(`the process failed: ${error.name}: ${error.message}`)
    return first
  })
  return { line, exited }
}

describe('a hold and a prune in processes of their own', () => {
  it('many rounds of run and rmi, racing at random', async () => {
    const root = tempDir()
    const tar = join(tempDir(), 'layer.tar')
    writeFileSync(tar, await tarOf(A))
    const stopFile = join(tempDir(), 'stop')
    const pruner = holder([root, 'prune', stopFile, '0'])
    pruner.line.catch(() => {}) // awaited below, once the runs are done
    const runs = await holder([root, 'runs', tar, '80']).line.finally(() => writeFileSync(stopFile, ''))
    await pruner.line
    const counts = JSON.parse(runs) as { held: number; refused: number; unregistered: number; wrong: string[] }
    expect(counts.wrong, `a run and a prune, each in a process of its own, raced ${JSON.stringify(counts)}: (${SECTION})`).toEqual([])
    expect(counts.held, `no run of 80 ever held its layer while a prune ran beside it: a hold that always fails keeps nothing safe (${SECTION})`).toBeGreaterThan(0)
    pruneLayers(root, allLayers(root))
    expect(filesBelow(root), `after the race and a last prune, the store should be empty: what did the two processes leave behind? (${SECTION})`).toEqual([])
  }, 120_000)

  it('a holder killed after each step of its hold, then one prune', async () => {
    for (let n = 1; n <= 30; n++) {
      const root = tempDir()
      const chain = await twoLayers(root)
      const run = holder([root, 'die', chain[1]!.chainId, String(n)])
      const said = await run.line
      const what = said === 'done' ? 'a holder that made its hold and ended without releasing it' : `a holder killed with SIGKILL right after its file-system change ${n}`
      const pruned = pruneLayers(root, chain)
      expect(pruned.length, `${what}, then one prune of its layers deleted ${pruned.length} of 2: what did the dead holder leave that the prune took for a live hold? (${SECTION})`).toBe(2)
      expect(filesBelow(root), `${what}, then one prune: who removes what a killed holder left half made? (${SECTION})`).toEqual([])
      if (said === 'done') return
    }
  }, 120_000)

  it('a prune killed after each step of its own, then another prune, beside a live hold and without one', async () => {
    /** A store with two layers, a prune killed after its change `n` (with a live hold on both or not), then a prune here. */
    const round = async (n: number, hold: boolean): Promise<boolean> => {
      const root = tempDir()
      const chain = await twoLayers(root)
      const letGo = hold ? holdLayers(root, `c0ffee${n}`, chain[1]!.chainId) : undefined
      const said = await holder([root, 'prunedie', '-', String(n)]).line
      const what = `${said === 'done' ? 'a prune that ended' : `a prune killed with SIGKILL right after its file-system change ${n}`}${hold ? ', beside a live hold on both layers,' : ''} then another prune`
      pruneLayers(root, chain)
      if (hold) {
        const missing = chain.filter((l) => !hasLayer(root, l.chainId) || !existsSync(folderOf(root, l))).map((l) => l.chainId)
        expect(missing, `${what}: a live hold reaches these layers, yet they are not in the layer store. What did the killed prune leave half done, and who finishes it? (${SECTION})`).toEqual([])
        letGo!()
      }
      expect(filesBelow(root), `${what}${hold ? ' and the release' : ''}: what did the killed prune leave in the store, and who finishes it? (${SECTION})`).toEqual([])
      return said === 'done'
    }
    // three steps at a time, each with and without a hold, in processes side by side
    for (let n = 1; n <= 30; n += 3) {
      const done = await Promise.all([n, n + 1, n + 2].flatMap((k) => [round(k, false), round(k, true)]))
      if (done.some(Boolean)) return
    }
  }, 120_000)
})
