/**
 * How much does minidocker's path cost? Times, in one run and on one machine:
 *   fork+exec of /bin/true (the floor), `node -e 0` (Node's own start-up),
 *   the reference `minidocker run /bin/true` (Node + tsx + the helper + exec), and a whole
 *   container: `minidocker run --memory 64m probe` (namespaces, rootfs, cgroup),
 * and prints each as a ratio to fork+exec. Run with `npm run bench`.
 */
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const minidocker = fileURLToPath(new URL('../bin/minidocker.cjs', import.meta.url))

function time(command: string, args: string[]): number {
  const samples: number[] = []
  for (let i = 0; i < ROUNDS + 2; i++) {
    const start = performance.now()
    const r = spawnSync(command, args, { stdio: 'ignore' })
    const ms = performance.now() - start
    if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}`)
    if (i >= 2) samples.push(ms) // the first runs warm the page cache
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

const rows: [string, number][] = [
  ['fork+exec /bin/true', time('/bin/true', [])],
  ['node -e 0', time(process.execPath, ['-e', '0'])],
  ['minidocker --reference run /bin/true', time(process.execPath, [minidocker, '--reference', 'run', '--', '/bin/true'])],
  // the same with namespaces, a rootfs unpacked from the probe image's tarball, and a cgroup
  ['minidocker run --memory 64m probe', time(process.execPath, [minidocker, '--reference', 'run', '--memory', '64m', 'probe', '/bin/probe', 'exit:0'])],
]
const floor = rows[0]![1]
console.log(`median of ${ROUNDS} runs each`)
for (const [name, ms] of rows)
  console.log(`${name.padEnd(40)} ${ms.toFixed(2).padStart(9)} ms  ${(ms / floor).toFixed(0).padStart(6)}x fork+exec`)
const node = rows[1]![1]
console.log(`minidocker run / node -e 0: ${(rows[2]![1] / node).toFixed(2)}x`)
