/**
 * How fast is the reference pull? In one run, against one local registry (docker-registry
 * on a loopback port, started here, with the one-layer probe image pushed to it), times:
 *   pullImage() in one process          the reference pull itself, into a fresh store, unpacked
 *   `minidocker --reference pull -q`    the same from the command line (Node and tsx start-up included)
 *   `skopeo copy docker://... oci:DIR`  the same image into a fresh OCI layout (not unpacked)
 * and prints each pull's ratio to skopeo's. Run with `npm run bench:pull`.
 *
 * The in-process rounds run in a child started with the reference's resolver conditions
 * (as bin/launch.mjs starts minidocker): this file again, with --in-process IMAGE.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { conditionsFor } from '../workbook/conditions.cjs'
import { buildImage, probeEntries } from '../test/support/images.ts'
import { pushImage, startRegistry } from '../test/support/registry.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const WARMUP = 2
const minidocker = fileURLToPath(new URL('../bin/minidocker.cjs', import.meta.url))

const median = (samples: number[]) => samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!

/** Run `round` in a fresh temp dir WARMUP + ROUNDS times; the median ms of the last ROUNDS. */
async function time(round: (dir: string) => unknown): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < ROUNDS + WARMUP; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'minidocker-bench-'))
    try {
      const start = performance.now()
      await round(dir)
      if (i >= WARMUP) samples.push(performance.now() - start)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return median(samples)
}

/** A command that must succeed. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

if (process.argv[2] === '--in-process') {
  const { pullImage } = await import('#ch/07-registry/pull.ts')
  const image = process.argv[3]!
  console.log(await time((dir) => pullImage(image, { root: dir })))
  process.exit(0)
}

const registry = await startRegistry()
try {
  const probe = await buildImage([probeEntries()])
  await pushImage(registry, 'probe', 'latest', probe)
  const image = `${registry.host}/probe:latest`
  const tsx = fileURLToPath(import.meta.resolve('tsx'))
  const reference = conditionsFor({ WORKBOOK_IMPL: 'solutions' }).map((c) => `--conditions=${c}`)
  const inProcess = Number(run(process.execPath, [...reference, '--import', tsx, fileURLToPath(import.meta.url), '--in-process', image]))
  const cli = await time((dir) => run(process.execPath, [minidocker, '--reference', 'pull', '-q', image], { ...process.env, MINIDOCKER_ROOT: dir }))
  const skopeo = await time((dir) => run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${image}`, `oci:${join(dir, 'layout')}:latest`]))
  const kB = (probe.layers[0]!.size / 1000).toFixed(0)
  console.log(`median of ${ROUNDS} runs each; the probe image: 1 layer, ${kB} kB compressed`)
  const rows: [string, number][] = [
    ['pullImage() (reference, in process)', inProcess],
    ['minidocker --reference pull', cli],
    ['skopeo copy to an OCI layout', skopeo],
  ]
  for (const [name, ms] of rows) console.log(`${name.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms  ${(ms / skopeo).toFixed(2).padStart(6)}x skopeo`)
} finally {
  await registry.stop()
}
