/**
 * The runtime's callers for chapter 09's tests: minirunc itself, an OCI bundle around the probe,
 * and the real containerd and dockerd (daemons.ts), each started from a temp directory and stopped by PID.
 * It does not import vitest, so a learner can use it at a terminal too.
 */
import { chmodSync, closeSync, openSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { constants } from 'node:os'
import { execa } from 'execa'
import { NotImplementedError } from '../../lib/errors.ts'
import { DEFAULT_MOUNTS, type Spec } from '../../lib/oci.ts'
import { buildRootfsTarball, unpackTarball } from '../../minidocker/builtin.ts'
import { waitFor } from './container.ts'
import { buildImage, probeEntries, tarFolder, writeDockerSave } from './images.ts'
import { startContainerd as startRealContainerd, startDockerd as startRealDockerd, type Daemon } from './daemons.ts'

export type { Daemon } from './daemons.ts'

export const MINIRUNC = fileURLToPath(new URL('../../bin/minirunc.cjs', import.meta.url))

export interface Result {
  code: number
  stdout: string
  stderr: string
}

/** A chapter step not written yet, seen in a tool's output, fails the test as a direct call would. */
export function rethrowNotImplemented(output: string): void {
  const missing = /(\w+)\(\) is not written yet: follow the TODO in it, in chapters\/([\w-]+)\//.exec(output)
  if (missing) throw new NotImplementedError(missing[2]!, missing[1]!)
}

async function settle(run: Promise<{ exitCode?: number; stdout?: unknown; stderr?: unknown }>): Promise<Result> {
  const r = await run
  const result = { code: r.exitCode ?? 128 + 9, stdout: String(r.stdout), stderr: String(r.stderr) }
  rethrowNotImplemented(result.stderr)
  return result
}

/**
 * Run minirunc with `args` (global flags included), resolving chapters as this test run does.
 * With `output`, its stdout and stderr go to that file instead (and so do the container's, which
 * inherits them from create: a pipe would stay open as long as the container runs). With
 * `keeper`, it runs under that keeper of dead PIDs. With `inherited`, it also starts with that
 * fd open as fd INHERITED_FD, without close-on-exec (with `output` only).
 */
export async function minirunc(args: string[], options: { cwd?: string; timeout?: number; output?: string; keeper?: PidKeeper; inherited?: number } = {}): Promise<Result> {
  const timeout = options.timeout ?? 60_000
  if (!options.output) return settle(execa(process.execPath, [MINIRUNC, ...args], { reject: false, stdin: 'ignore', cwd: options.cwd, timeout }))
  // An fd of the file itself: execa would pipe into it, and wait for the pipe to close.
  const fd = openSync(options.output, 'a')
  try {
    const command = [process.execPath, MINIRUNC, ...args]
    const code = options.keeper
      ? await options.keeper.run(command, fd, options.cwd, timeout, options.inherited)
      : await exitOf(spawn(command[0]!, command.slice(1), { stdio: withInherited(['ignore', fd, fd], options.inherited), cwd: options.cwd, timeout }))
    const output = readFileSync(options.output, 'utf8')
    rethrowNotImplemented(output)
    return { code, stdout: output, stderr: output }
  } finally {
    closeSync(fd)
  }
}

/** The fd number at which a command run with `inherited` finds that fd open. */
export const INHERITED_FD = 21

/** `stdio` for spawn(), with `inherited` at INHERITED_FD when given: spawn dup2()s it there, without close-on-exec. */
function withInherited(stdio: Extract<StdioOptions, unknown[]>, inherited: number | undefined): StdioOptions {
  if (inherited === undefined) return stdio
  return [...stdio, ...Array<'ignore'>(INHERITED_FD - stdio.length).fill('ignore'), inherited]
}

const exitOf = (child: ChildProcess): Promise<number> => new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? 128 + constants.signals[signal!])))

export const HOLD = fileURLToPath(new URL('../../native/build/hold', import.meta.url))

/**
 * A keeper of dead PIDs: each run goes under its own native/build/hold (hold.c), which adopts the
 * processes the command leaves behind (a created container, an exec'd process) and keeps each
 * one that dies as its zombie until release(). A dead container's PID then cannot pass to
 * another process while the runtime under test may still signal it, rightly or not: release
 * only after the last runtime call (a test's forced delete included). The other processes it
 * adopts it reaps as they die, and remembers how each ended (reaped()).
 */
export interface PidKeeper {
  /**
   * the command's exit code (128+N for signal N), its stdout and stderr to `output`; killed after
   * `timeout` ms; with `inherited`, the command starts with that fd open as fd INHERITED_FD
   */
  run(command: string[], output: number, cwd: string | undefined, timeout: number, inherited?: number): Promise<number>
  /** each run's hold's PID, in the order of the runs: the processes a run left are below it */
  holders(): number[]
  /** the exit code (128+N for signal N) of each process a hold adopted and reaped so far, by PID */
  reaped(): Map<number, number>
  release(): Promise<void>
}

export function pidKeeper(): PidKeeper {
  const holds: ChildProcess[] = []
  const reaped = new Map<number, number>()
  const code = (how: string | undefined, n: string | undefined) => (how === 'exit' ? Number(n) : how === 'signal' ? 128 + Number(n) : 128 + constants.signals.SIGKILL)
  return {
    async run(command, output, cwd, timeout, inherited) {
      const hold = spawn(HOLD, [String(Math.ceil(timeout / 1000)), ...command], { stdio: withInherited(['pipe', output, output, 'pipe'], inherited), cwd })
      holds.push(hold)
      // fd 3: the command's end, a line, then one line per process hold reaps ("reaped PID exit N").
      return new Promise((resolve) => {
        let text = ''
        hold.stdio[3]!.on('data', (chunk: Buffer) => {
          text += chunk.toString()
          const lines = text.split('\n')
          text = lines.pop()!
          for (const line of lines) {
            const [first, second, how, n] = line.trim().split(' ')
            if (first === 'reaped') reaped.set(Number(second), code(how, n))
            else resolve(code(first, second)) // the command's end, "exit N" or "signal N": written once
          }
        })
        hold.stdio[3]!.once('close', () => resolve(code(undefined, undefined)))
      })
    },
    holders: () => holds.map((hold) => hold.pid!),
    reaped: () => reaped,
    async release() {
      await Promise.all(holds.splice(0).map((hold) => {
        if (hold.exitCode !== null || hold.signalCode !== null) return
        const gone = exitOf(hold)
        hold.stdin!.end()
        return gone
      }))
    },
  }
}

/**
 * An executable file that runs minirunc with this test run's choice of chapters: what
 * `ctr --runc-binary` and `dockerd --add-runtime` are given, since each wants one path.
 */
export function runtimeWrapper(dir: string): string {
  const path = join(dir, 'minirunc')
  const env = ['WORKBOOK_IMPL', 'WORKBOOK_REFERENCE_BELOW'].filter((k) => process.env[k] !== undefined).map((k) => `${k}='${process.env[k]}' `).join('')
  writeFileSync(path, `#!/bin/sh\nexec env ${env}'${process.execPath}' '${MINIRUNC}' "$@"\n`)
  chmodSync(path, 0o755)
  return path
}

/** The probe's root filesystem (the probe at /bin/probe), unpacked into DIR/rootfs. */
export function probeRootfs(dir: string): string {
  return unpackTarball(buildRootfsTarball('probe', join(dir, 'probe.tar')), join(dir, 'rootfs'))
}

/**
 * An OCI bundle in `dir`: config.json running the probe with `steps`, in new namespaces with
 * Docker's default mounts, and the probe's rootfs, as containerd hands one to runc.
 */
export function probeBundle(dir: string, steps: string[], edit: (spec: Spec) => void = () => {}): string {
  mkdirSync(dir, { recursive: true })
  probeRootfs(dir)
  const spec: Spec = {
    ociVersion: '1.0.2',
    process: { args: ['/bin/probe', ...steps], env: ['PATH=/bin:/usr/bin'], cwd: '/' },
    root: { path: 'rootfs' },
    hostname: 'bundle',
    mounts: DEFAULT_MOUNTS,
    linux: { namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type: type as 'pid' })) },
  }
  edit(spec)
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec))
  return dir
}

/** The CPU time (clock ticks, user + system) process `pid` has used so far: what a frozen process does not gain. */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** How much CPU time `pid` uses in `ms`. */
export async function cpuUsedIn(pid: number, ms: number): Promise<number> {
  const before = cpuTicks(pid)
  await new Promise((r) => setTimeout(r, ms))
  return cpuTicks(pid) - before
}

/**
 * Whether `pid` gains CPU time within `ms`: a thawed burner does at once on a quiet machine, but
 * on a busy one a single short window can fall between its turns, so this polls.
 */
export function runsAgainWithin(pid: number, ms: number): Promise<boolean> {
  const before = cpuTicks(pid)
  return waitFor(() => cpuTicks(pid) > before, ms)
}

/**
 * Run `command args` with stdin, stdout and stderr on a pseudo-terminal, as at a terminal
 * (`ctr run -t` and `docker run -it` insist on one): util-linux script(1), which exits with the
 * command's code; its output is what the terminal showed, with LF line ends.
 */
export function inTerminal(command: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const quoted = [command, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const result = settle(execa('script', ['-qec', quoted, '/dev/null'], { reject: false, input: '', timeout: 60_000, env }))
  // The terminal's echo of script's end of input (^@, ^D) and its CR LF are not the program's.
  return result.then((r) => {
    // On a terminal, errors come on stdout too.
    rethrowNotImplemented(r.stdout)
    return { ...r, stdout: r.stdout.replace(/\^[@D]|\r/g, '') }
  })
}

/** Debian's containerd on a socket in `dir`, with its root and state in `dir`; `ctr` talks to it. */
export async function startContainerd(dir: string): Promise<Daemon & { ctr(args: string[], tty?: boolean): Promise<Result> }> {
  // ctr puts a container in /NAMESPACE/ID: a namespace of this test process's own, see startDockerd
  const namespace = `minirunc-test-${process.pid}`
  const daemon = await startRealContainerd(dir, { cgroups: [namespace] })
  return {
    ...daemon,
    ctr: (args, tty = false) => {
      const all = ['--address', daemon.socket, '-n', namespace, ...args]
      return tty ? inTerminal('ctr', all) : settle(execa('ctr', all, { reject: false, stdin: 'ignore', timeout: 60_000 }))
    },
  }
}

/** Debian's dockerd with its data and exec roots in `dir`, no networking set up, and `runtime` added as "minidocker". */
export async function startDockerd(dir: string, runtime: string): Promise<Daemon & { docker(args: string[], input?: string): Promise<Result>; dockerTty(args: string[]): Promise<Result> }> {
  const daemon = await startRealDockerd(dir, ['--add-runtime', `minidocker=${runtime}`])
  const env = { DOCKER_HOST: `unix://${daemon.socket}`, DOCKER_CONFIG: join(dir, 'client') }
  return {
    ...daemon,
    docker: (args, input) => settle(execa('docker', args, { reject: false, input, stdin: input === undefined ? 'ignore' : undefined, timeout: 60_000, env })),
    dockerTty: (args) => inTerminal('docker', args, env),
  }
}

export type Dockerd = Awaited<ReturnType<typeof startDockerd>>

/** startDockerd() with minirunc as "minidocker" and the probe image loaded as probe:latest. */
export async function dockerdWithProbe(dir: string): Promise<Dockerd> {
  const dockerd = await startDockerd(dir, runtimeWrapper(dir))
  try {
    const image = await buildImage([probeEntries()], { docker: true })
    const save = join(dir, 'save')
    writeDockerSave(save, [{ image, tags: ['probe:latest'] }])
    writeFileSync(join(dir, 'probe.tar'), await tarFolder(save))
    const loaded = await dockerd.docker(['load', '-i', join(dir, 'probe.tar')])
    if (loaded.code !== 0) throw new Error(`docker load failed: ${loaded.stderr}`)
    return dockerd
  } catch (error) {
    await dockerd.stop()
    throw error
  }
}

/**
 * Remove every container `dockerd` holds, then stop it, also when the removal hangs (a runtime
 * under test that never deletes): the stop kills what is left and unmounts what dockerd left.
 */
export async function removeAllAndStop(dockerd: Dockerd): Promise<void> {
  const removeAll = async () => {
    const all = (await dockerd.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean)
    if (all.length) await dockerd.docker(['rm', '-f', ...all])
  }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([removeAll(), new Promise((resolve) => (timer = setTimeout(resolve, 30_000)))])
  } finally {
    clearTimeout(timer)
    await dockerd.stop()
  }
}
