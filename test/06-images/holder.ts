/**
 * A `minidocker run` or `rmi` of race.test.ts in a process of its own, on the store `root`:
 *   die TOP N       hold layer TOP and die with SIGKILL right after the Nth call that changes a
 *                   file, or say "done" when the hold was made first (and end without releasing)
 *   runs TAR R      R rounds of: register the layer TAR unpacks to, hold it, look at it a few
 *                   times, release it; then one JSON line of counts and of what went wrong
 *   prune STOP      prune every stored layer, over and over, until the file STOP exists
 *   prunedie - N    prune every stored layer and die with SIGKILL right after the Nth call
 *                   that changes a file, or say "done" when the prune ended first
 * An error is one JSON line.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { allLayers, holdLayers, pruneLayers, registerLayer, storePaths, type LayerRecord } from '#ch/06-images/store.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { dieAfter } from '../support/dying.ts'

const [root, mode, arg, count] = process.argv.slice(-4) as [string, string, string, string]

/** The layer's unpacked file, which a container's overlay reads, is there. */
const unpacked = (layer: LayerRecord) => existsSync(join(storePaths(root).graph, layer.cacheId, 'diff', 'a', 'file'))

/** Every stored layer; allLayers() fails when a layer goes while it reads, so it is asked again. */
function storedLayers(): LayerRecord[] {
  for (;;) {
    try {
      return allLayers(root)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !/not in the layer store/.test((error as Error).message)) throw error
    }
  }
}

async function runs(tar: Buffer, rounds: number) {
  const counts = { held: 0, refused: 0, unregistered: 0, wrong: [] as string[] }
  for (let round = 0; round < rounds; round++) {
    let layer: LayerRecord
    try {
      layer = await registerLayer(root, null, tar)
    } catch (error) {
      if (error instanceof NotImplementedError) throw error
      counts.unregistered++ // a prune took it between its unpacking and its record
      continue
    }
    let release: () => string[]
    try {
      release = holdLayers(root, `c${round}`, layer.chainId)
    } catch (error) {
      if (error instanceof NotImplementedError) throw error
      counts.refused++
      const { message } = error as Error
      if (!message.includes(layer.chainId.slice(7, 19))) counts.wrong.push(`a hold failed without naming the layer: ${message}`)
      continue
    }
    counts.held++
    for (let look = 0; look < 3; look++) {
      await sleep(Math.random() * 3)
      if (!unpacked(layer)) {
        counts.wrong.push(`round ${round}: holdLayers() had returned, and the layer was deleted before its release`)
        break
      }
    }
    release()
  }
  return counts
}

async function main(): Promise<void> {
  try {
    if (mode === 'die') {
      dieAfter(Number(count))
      holdLayers(root, 'c0ffee', arg)
      process.stdout.write('done\n')
    } else if (mode === 'prunedie') {
      dieAfter(Number(count))
      pruneLayers(root, allLayers(root))
      process.stdout.write('done\n')
    } else if (mode === 'runs') {
      process.stdout.write(JSON.stringify(await runs(readFileSync(arg), Number(count))) + '\n')
    } else {
      let rounds = 0
      for (; !existsSync(arg); rounds++) {
        pruneLayers(root, storedLayers())
        await sleep(Math.random() * 2)
      }
      process.stdout.write(JSON.stringify({ rounds }) + '\n')
    }
  } catch (error) {
    const { name, message, fn } = error as Error & { fn?: string }
    process.stdout.write(JSON.stringify({ error: { name, message, fn } }) + '\n')
  }
}

void main()
