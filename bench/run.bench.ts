/**
 * `npm run bench`: what each path costs, in one run on one machine. For every row, the
 * median wall time of ROUNDS runs (after WARMUP runs) and the peak RSS of the process tree's
 * largest process (GNU time's %M). Three tables:
 *
 *   start-up   `node -e 0`, then each command in package.json's "bin" started with --help
 *              from a warm cache, as a ratio to `node -e 0` (the target is 1.3x), and the
 *              compile-on-change cost: the same start after its bundle was removed, which is
 *              what the first start after an edit pays (bin/build.mjs)
 *   run        fork+exec of /bin/true, `minidocker --reference run -- /bin/true`, a whole
 *              container (`minidocker --reference run --memory 64m probe`), and the same
 *              container from an OCI bundle through `runc run`, `crun run` and `minirunc run`
 *   runtime    each of runc's and minirunc's commands on its own (create, state, start, kill,
 *              delete --force), one process each, as containerd's shim calls them
 *   network    chapter 08's setup: `run --network none` against the default bridge (a veth and
 *              an address) and `run -p` (a DNAT rule and a proxy too), in a network namespace
 *              made for the bench, so this machine's own network is never changed
 *   shim       `ctr run --rm` of /bin/true under the real containerd (one, started here from a
 *              temp directory) through the reference containerd-shim-minidocker-v2 and through
 *              containerd's containerd-shim-runc-v2, both with runc below; and the resident
 *              memory of one idle shim of each (ours: the Node process plus its reaper)
 *   pull       the reference pull of a one-layer image from a local registry (docker-registry
 *              on a loopback port, started here): pullImage() in one process, through the
 *              `minidocker` command, and `skopeo copy` into an OCI layout
 *   daemon     `docker run --rm IMAGE true` through minidockerd (the reference, on Debian's
 *              containerd) and through a real dockerd, by the same docker CLI, and 50 of them
 *              at once through each (bench/daemon.ts)
 *   client     chapter 12: `minidocker run --rm IMAGE true` (the reference client) against
 *              `docker run --rm IMAGE true`, both through the same minidockerd, taking turns
 *
 * The in-process pull runs in a child started with the reference's resolver conditions:
 * this file again, with --in-process IMAGE.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { conditionsFor } from '../workbook/conditions.cjs'
import { buildRootfsTarball, unpackTarball } from '../minidocker/builtin.ts'
import { buildImage, probeEntries } from '../test/support/images.ts'
import { pushImage, startRegistry } from '../test/support/registry.ts'
import { CTR, probeRootfs, startContainerd } from '../test/support/containerd.ts'
import { benchDaemon } from './daemon.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const WARMUP = 2
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TIME = '/usr/bin/time'
const { bundleBase } = createRequire(import.meta.url)('../bin/start.cjs') as { bundleBase(entry: string, conditions: string[]): string }

interface Sample {
  ms: number
  rssMiB: number
}

const safeRead = (path: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** Run a command that must succeed, under GNU time; its wall time and peak RSS. */
function once(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Sample {
  const start = performance.now()
  const r = spawnSync(TIME, ['-f', '%M', command, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' })
  const ms = performance.now() - start
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`)
  return { ms, rssMiB: Number(r.stderr.trim().split('\n').pop()) / 1024 }
}

/** The medians of `round` over ROUNDS runs (after WARMUP); `before` runs untimed before each. */
function time(round: () => Sample, before: () => void = () => {}, rounds = ROUNDS): Sample {
  const samples: Sample[] = []
  for (let i = 0; i < rounds + WARMUP; i++) {
    before()
    const s = round()
    if (i >= WARMUP) samples.push(s)
  }
  return { ms: median(samples.map((s) => s.ms)), rssMiB: median(samples.map((s) => s.rssMiB)) }
}

/** Print a table: name, median ms, ratio to `base`, peak RSS. */
function table(title: string, rows: [string, Sample][], base: Sample, against: string): void {
  console.log(`\n${title} (median of ${ROUNDS} runs each)`)
  console.log(`${''.padEnd(46)} ${'ms'.padStart(9)}  ${`x ${against}`.padStart(16)}  ${'peak RSS'.padStart(9)}`)
  for (const [name, s] of rows)
    console.log(`${name.padEnd(46)} ${s.ms.toFixed(1).padStart(9)}  ${(s.ms / base.ms).toFixed(2).padStart(16)}  ${`${s.rssMiB.toFixed(0)} MiB`.padStart(9)}`)
}

/** An OCI bundle of the probe image running `args` (`/bin/probe exit:0`) with 64 MiB, from `runc spec`. */
function ociBundle(dir: string, args = ['/bin/probe', 'exit:0']): string {
  const bundle = join(dir, 'bundle')
  unpackTarball(buildRootfsTarball('probe', join(dir, 'probe.tar')), join(bundle, 'rootfs'))
  spawnSync('runc', ['spec', '--bundle', bundle], { stdio: 'inherit' })
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
  config.process.terminal = false
  config.process.args = args
  config.linux.resources = { ...config.linux.resources, memory: { limit: 64 * 1024 * 1024 } }
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
  return bundle
}

if (process.argv[2] === '--in-process') {
  const { pullImage } = await import('#ch/07-registry/pull.ts')
  const image = process.argv[3]!
  const samples: number[] = []
  for (let i = 0; i < ROUNDS + WARMUP; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'minidocker-bench-'))
    const start = performance.now()
    await pullImage(image, { root: dir })
    if (i >= WARMUP) samples.push(performance.now() - start)
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(JSON.stringify({ ms: median(samples), rssMiB: process.resourceUsage().maxRSS / 1024 }))
  process.exit(0)
}

if (!existsSync(TIME)) throw new Error(`${TIME} is missing: install Debian's time package (bash vm/provision.sh does)`)
const node = process.execPath
const reference = { ...process.env, WORKBOOK_IMPL: 'solutions' }
// The rows that are not about chapter 08 keep the machine's network, as before that chapter.
const hostNetwork = { ...process.env, MINIDOCKER_NETWORK: 'host' }
const scratch = mkdtempSync(join(tmpdir(), 'minidocker-bench-'))
const registry = await startRegistry()
try {
  // Start-up: every command the workbook has, warm and after a change. The warm starts and
  // `node -e 0` take turns within each round, so a machine whose load changes during the run
  // weighs on both alike; the ratio is the median of each round's ratio.
  const bins = Object.entries(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin as Record<string, string>)
  const commands = bins.map(([name, bin]) => {
    const path = join(ROOT, bin)
    const entry = /start\('[^']+', '([^']+)'/.exec(readFileSync(path, 'utf8'))?.[1]
    if (!entry) throw new Error(`${bin} does not start an entry with start(NAME, ENTRY)`)
    return { name, base: bundleBase(entry, conditionsFor(reference)), run: () => once(node, [path, '--help'], reference) }
  })
  const rounds: Sample[][] = []
  for (let i = 0; i < ROUNDS + WARMUP; i++) {
    const round = [once(node, ['-e', '0']), ...commands.map((c) => c.run())]
    if (i >= WARMUP) rounds.push(round)
  }
  const column = (k: number): Sample => ({ ms: median(rounds.map((r) => r[k]!.ms)), rssMiB: median(rounds.map((r) => r[k]!.rssMiB)) })
  const bare = column(0)
  console.log(`\nstart-up (median of ${ROUNDS} runs each, taking turns with node -e 0)`)
  console.log(`${''.padEnd(46)} ${'ms'.padStart(9)}  ${'x node -e 0'.padStart(16)}  ${'peak RSS'.padStart(9)}`)
  const row = (name: string, s: Sample, ratio: number) =>
    console.log(`${name.padEnd(46)} ${s.ms.toFixed(1).padStart(9)}  ${ratio.toFixed(2).padStart(16)}  ${`${s.rssMiB.toFixed(0)} MiB`.padStart(9)}`)
  row('node -e 0', bare, 1)
  commands.forEach((c, k) => {
    row(`${c.name} --help (warm)`, column(k + 1), median(rounds.map((r) => r[k + 1]!.ms / r[0]!.ms)))
    const forget = () => readdirSync(dirname(c.base)).filter((f) => f.startsWith(`${basename(c.base)}.`)).forEach((f) => rmSync(join(dirname(c.base), f)))
    const cold = time(c.run, forget, 5)
    row(`${c.name} --help (after a change: compile)`, cold, cold.ms / bare.ms)
  })

  // run: from a plain fork+exec to a whole container, ours and the real runtimes'.
  const minidocker = join(ROOT, 'bin/minidocker.cjs')
  const minirunc = join(ROOT, 'bin/minirunc.cjs')
  const bundle = ociBundle(scratch)
  let id = 0
  const runtime = (tool: string) => () => once(tool, ['--root', join(scratch, `${tool}-state`), 'run', '--bundle', bundle, `bench-${process.pid}-${id++}`])
  // crun refuses a hybrid cgroup host (v1 hierarchies beside a v2 mount with controllers),
  // with or without a cgroup manager; it runs on a v2 host such as the VM's guest.
  const hybrid = !existsSync('/sys/fs/cgroup/cgroup.controllers')
  const forkExec = time(() => once('/bin/true', []))
  const runRows: [string, Sample][] = [
    ['fork+exec /bin/true', forkExec],
    ['node -e 0', bare],
    ['minidocker --reference run -- /bin/true', time(() => once(node, [minidocker, '--reference', 'run', '--', '/bin/true'], hostNetwork))],
    ['minidocker --reference run --memory 64m probe', time(() => once(node, [minidocker, '--reference', 'run', '--memory', '64m', 'probe', '/bin/probe', 'exit:0'], hostNetwork))],
    ['runc run (the same probe, 64 MiB)', time(runtime('runc'))],
    ['minirunc run (reference, the same bundle)', time(() => once(node, [minirunc, '--root', join(scratch, 'minirunc-state'), 'run', '--bundle', bundle, `bench-${process.pid}-${id++}`], reference))],
  ]
  if (!hybrid) runRows.push(['crun run (the same probe, 64 MiB)', time(runtime('crun'))])
  table('run', runRows, forkExec, 'fork+exec')
  if (hybrid) console.log('crun run: not timed: crun refuses this host\'s hybrid cgroup layout (cgroup v1 beside v2)')

  // Each runtime command on its own, as a shim calls them one process at a time.
  mkdirSync(join(scratch, 'waiting'))
  const waiting = ociBundle(join(scratch, 'waiting'), ['/bin/probe', 'sleep:60000'])
  const runtimeCommands = (argv: string[], env: NodeJS.ProcessEnv) => {
    const samples: Record<string, Sample[]> = { create: [], state: [], start: [], kill: [], 'delete --force': [] }
    // create leaves the container holding its stdio, so nothing may be a pipe: GNU time reports to a file.
    const report = join(scratch, 'time.txt')
    const once = (command: string, args: string[], env: NodeJS.ProcessEnv): Sample => {
      const start = performance.now()
      const r = spawnSync(TIME, ['-f', '%M', '-o', report, command, ...args], { stdio: 'ignore', env })
      const ms = performance.now() - start
      if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}`)
      return { ms, rssMiB: Number(readFileSync(report, 'utf8').trim().split('\n').pop()) / 1024 }
    }
    for (let i = 0; i < ROUNDS + WARMUP; i++) {
      const root = join(scratch, `${basename(argv.at(-1)!)}-commands`)
      const name = `bench-${process.pid}-${id++}`
      const round = {
        create: once(argv[0]!, [...argv.slice(1), '--root', root, 'create', '--bundle', waiting, name], env),
        state: once(argv[0]!, [...argv.slice(1), '--root', root, 'state', name], env),
        start: once(argv[0]!, [...argv.slice(1), '--root', root, 'start', name], env),
        kill: once(argv[0]!, [...argv.slice(1), '--root', root, 'kill', name, 'KILL'], env),
        'delete --force': once(argv[0]!, [...argv.slice(1), '--root', root, 'delete', '--force', name], env),
      }
      if (i >= WARMUP) for (const [k, v] of Object.entries(round)) samples[k]!.push(v)
    }
    return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { ms: median(v.map((x) => x.ms)), rssMiB: median(v.map((x) => x.rssMiB)) }])) as Record<string, Sample>
  }
  const runc = runtimeCommands(['runc'], process.env)
  const ours = runtimeCommands([node, minirunc], reference)
  console.log(`\nruntime commands, one process each (median of ${ROUNDS} runs each)`)
  console.log(`${''.padEnd(46)} ${'ms'.padStart(9)}  ${'x runc'.padStart(16)}  ${'peak RSS'.padStart(9)}`)
  for (const [k, s] of Object.entries(ours)) {
    console.log(`${`runc ${k}`.padEnd(46)} ${runc[k]!.ms.toFixed(1).padStart(9)}  ${'1.00'.padStart(16)}  ${`${runc[k]!.rssMiB.toFixed(0)} MiB`.padStart(9)}`)
    console.log(`${`minirunc ${k}`.padEnd(46)} ${s.ms.toFixed(1).padStart(9)}  ${(s.ms / runc[k]!.ms).toFixed(2).padStart(16)}  ${`${s.rssMiB.toFixed(0)} MiB`.padStart(9)}`)
  }

  // network: the same container with chapter 08's modes, all in a stand-in host namespace.
  const standIn = spawn('unshare', ['--net', '--mount', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' })
  try {
    const own = readlinkSync('/proc/self/ns/net')
    for (let i = 0; i < 500 && readlinkSync(`/proc/${standIn.pid}/ns/net`) === own; i++) await new Promise((r) => setTimeout(r, 10))
    const inStandIn = (args: string[]) => () => once('nsenter', [`--net=/proc/${standIn.pid}/ns/net`, `--mount=/proc/${standIn.pid}/ns/mnt`, node, minidocker, '--reference', 'run', ...args, 'probe', '/bin/probe', 'exit:0'], { ...reference, MINIDOCKER_ROOT: join(scratch, 'network-root') })
    const none = time(inStandIn(['--network', 'none']))
    table('network (the probe container; a fresh network namespace stands in for the host)', [
      ['minidocker --reference run --network none probe', none],
      ['minidocker --reference run probe (bridge)', time(inStandIn([]))],
      ['minidocker --reference run -p 8080:7000 probe', time(inStandIn(['-p', '8080:7000']))],
    ], none, '--network none')
  } finally {
    standIn.kill('SIGKILL')
  }

  // shim: the same containerd and runc below both shims; only the shim differs.
  const ctd = await startContainerd({ env: { WORKBOOK_IMPL: 'solutions' }, namespace: 'bench' })
  try {
    const rootfs = probeRootfs(ctd.dir)
    const ctrRun = (runtime: string[]) => () =>
      once(CTR, ['--address', ctd.address, '--namespace', 'bench', 'run', '--rm', ...runtime, '--rootfs', rootfs, `bench-${id++}`, '/probe', 'exit:0'])
    const real = time(ctrRun([]))
    table('shim (ctr run --rm of the probe, exit 0, under containerd 1.6 with runc)', [
      ['through containerd-shim-runc-v2', real],
      ['through containerd-shim-minidocker-v2 (reference)', time(ctrRun(['--runtime', 'io.containerd.minidocker.v2']))],
    ], real, 'runc-v2')
    const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
    const idle = async (runtime: string[], shim: RegExp): Promise<number> => {
      const name = `bench-idle-${id++}`
      await ctd.ctr(['run', '-d', ...runtime, '--rootfs', rootfs, name, '/probe', 'sleep:600000'])
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const pid = Number(readFileSync(join(ctd.dir, 'state', 'io.containerd.runtime.v2.task', 'bench', name, 'init.pid'), 'utf8'))
      const reaper = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])
      const shims = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && shim.test(safeRead(`/proc/${p}/cmdline`)) && safeRead(`/proc/${p}/cmdline`).includes(name))
      const rss = shims.reduce((sum, p) => sum + rssOf(Number(p)), 0) + (shim.source.includes('minidocker') ? rssOf(reaper) : 0)
      await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', name])
      await new Promise((resolve) => setTimeout(resolve, 500))
      await ctd.ctr(['task', 'rm', name])
      await ctd.ctr(['containers', 'rm', name])
      return rss
    }
    const runcRss = await idle([], /containerd-shim-runc-v2/)
    const oursRss = await idle(['--runtime', 'io.containerd.minidocker.v2'], /containerd-shim-minidocker-v2/)
    console.log(`\nidle shim, resident memory: containerd-shim-runc-v2 ${runcRss.toFixed(1)} MiB, containerd-shim-minidocker-v2 ${oursRss.toFixed(1)} MiB (x ${(oursRss / runcRss).toFixed(1)})`)
  } finally {
    await ctd.stop()
  }

  // pull: one local registry, the one-layer probe image, into a fresh store each time.
  const probe = await buildImage([probeEntries()])
  await pushImage(registry, 'probe', 'latest', probe)
  const image = `${registry.host}/probe:latest`
  const tsx = fileURLToPath(import.meta.resolve('tsx'))
  const flags = conditionsFor(reference).map((c) => `--conditions=${c}`)
  const r = spawnSync(node, [...flags, '--import', tsx, fileURLToPath(import.meta.url), '--in-process', image], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`the in-process pull exited ${r.status}`)
  const inProcess = JSON.parse(r.stdout) as Sample
  const store = join(scratch, 'store')
  const fresh = () => rmSync(store, { recursive: true, force: true })
  const layout = join(scratch, 'layout')
  const skopeo = time(() => once('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${image}`, `oci:${layout}:latest`]), () => rmSync(layout, { recursive: true, force: true }))
  table(`pull (the probe image: 1 layer, ${(probe.layers[0]!.size / 1000).toFixed(0)} kB compressed)`, [
    ['pullImage() (reference, in process)', inProcess],
    ['minidocker --reference pull', time(() => once(node, [minidocker, '--reference', 'pull', '-q', image], { ...process.env, MINIDOCKER_ROOT: store }), fresh)],
    ['skopeo copy to an OCI layout', skopeo],
  ], skopeo, 'skopeo')

  // daemon: our dockerd against the real one, each on its own containerd, from temp dirs
  const d = await benchDaemon(join(scratch, 'daemons'), ROUNDS)
  console.log(`\ndaemon: docker run --rm --network none busybox true (median of ${ROUNDS} runs each, taking turns)`)
  console.log(`${''.padEnd(46)} ${'ms'.padStart(9)}  ${'x dockerd'.padStart(16)}`)
  for (const [name, ms, base] of [
    ['through minidockerd (reference)', d.ours, d.real], ['through dockerd 20.10', d.real, d.real],
    ['50 at once, through minidockerd: total', d.oursConcurrent, d.realConcurrent], ['50 at once, through dockerd 20.10: total', d.realConcurrent, d.realConcurrent],
  ] as const) console.log(`${name.padEnd(46)} ${ms.toFixed(1).padStart(9)}  ${(ms / base).toFixed(2).padStart(16)}`)
  console.log(`\nclient: run --rm --network none busybox true through minidockerd (median of ${ROUNDS} runs each, taking turns)`)
  console.log(`${''.padEnd(46)} ${'ms'.padStart(9)}  ${'x docker'.padStart(16)}`)
  for (const [name, ms] of [['docker run (CLI 28.2.2)', d.ours], ['minidocker run (reference client)', d.client]] as const)
    console.log(`${name.padEnd(46)} ${ms.toFixed(1).padStart(9)}  ${(ms / d.ours).toFixed(2).padStart(16)}`)
} finally {
  await registry.stop()
  rmSync(scratch, { recursive: true, force: true })
}
