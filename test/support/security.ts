/**
 * Chapter 13's comparisons: one OCI bundle around the probe, run to the end by minirunc and by
 * runc, each with a state root of its own, so a test can put their outputs side by side; and the
 * seccomp filters runc loads for a profile, read back from the kernel.
 * It does not import vitest, so a learner can use it at a terminal too.
 */
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'
import { execa } from 'execa'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Seccomp, Spec } from '../../lib/oci.ts'
import { decodeProgram, type BpfInstruction } from '../../lib/seccomp.ts'
import { onCleanup, tempDir } from './files.ts'
import { probeLines } from './probe.ts'
import { MINIRUNC, minirunc, probeBundle, rethrowNotImplemented } from './runtime.ts'
import { testName } from './names.ts'

export interface Run {
  code: number
  output: string
  lines: Record<string, unknown>[]
}

const containerId = () => testName('sec')

/**
 * `runtime run` of a fresh bundle running the probe with `steps`; the container is force-deleted
 * after the test. `starter`: setpriv(1)'s options for the credentials the runtime itself is started
 * with (its supplementary groups, its capability sets), as a caller of the runtime may hold them;
 * `umask`, the file mode creation mask it is started with.
 */
export async function runBundle(runtime: 'minirunc' | 'runc', steps: string[], edit: (spec: Spec) => void = () => {}, starter?: string[], umask?: number): Promise<Run> {
  const dir = tempDir()
  const bundle = probeBundle(join(dir, 'bundle'), steps, edit)
  const root = join(dir, 'state')
  // runc puts a container without cgroupsPath in a cgroup named for its ID: a name the cleanup checks know.
  const id = containerId()
  const args = ['--root', root, 'run', '--bundle', bundle, id]
  onCleanup(async () => {
    if (!existsSync(join(root, id))) return
    if (runtime === 'runc') await execa('runc', ['--root', root, 'delete', '--force', id], { reject: false })
    else await minirunc(['--root', root, 'delete', '--force', id])
  })
  const command = runtime === 'runc' ? ['runc', ...args] : [process.execPath, MINIRUNC, ...args]
  if (starter) command.unshift('setpriv', ...starter, '--')
  if (umask !== undefined) command.unshift('sh', '-c', `umask ${umask.toString(8).padStart(3, '0')} && exec "$@"`, 'sh')
  const r = await execa(command[0]!, command.slice(1), { reject: false, stdin: 'ignore', all: true, timeout: 60_000 })
  const output = String(r.all ?? '')
  rethrowUnwritten(output)
  return { code: r.exitCode ?? 128 + 9, output, lines: probeLines(output) }
}

/**
 * A runtime's output that shows the learner's code is not written yet, as NotImplementedError:
 * thrown from it, or noted by the runtime, which goes on without a chapter not written yet
 * (minidocker/layers.ts's optional()).
 */
export function rethrowUnwritten(output: string): void {
  rethrowNotImplemented(output)
  const skipped = /chapter (\d\d-[\w-]+) is not done yet/.exec(output)
  if (skipped) throw new NotImplementedError(skipped[1]!, 'setCredentials')
}

/** The same bundle under both runtimes, at once; both runs end before either's failure ends the test (and its clean-up removes their directories). */
export async function underBoth(steps: string[], edit?: (spec: Spec) => void, starter?: string[], umask?: number): Promise<{ ours: Run; runc: Run }> {
  const [ours, runc] = await Promise.allSettled([runBundle('minirunc', steps, edit, starter, umask), runBundle('runc', steps, edit, starter, umask)])
  if (ours.status === 'rejected') throw ours.reason
  if (runc.status === 'rejected') throw runc.reason
  return { ours: ours.value, runc: runc.value }
}

export const FILTERS = fileURLToPath(new URL('../../native/build/filters', import.meta.url))

/**
 * The seccomp filters runc loads for `profile` under no_new_privs, newest first: `runc create`
 * of the probe's bundle leaves its init waiting to exec with the filters loaded, and
 * native/build/filters (filters.c) reads them out of that process; the container is then
 * force-deleted, before the PID it read can be anyone else's.
 */
export async function runcFilters(profile: Seccomp): Promise<BpfInstruction[][]> {
  const dir = tempDir()
  const bundle = probeBundle(join(dir, 'bundle'), ['pid'], (spec) => {
    spec.process.noNewPrivileges = true
    spec.linux!.seccomp = profile
  })
  const root = join(dir, 'state')
  const id = containerId()
  // The container's init keeps create's stdout and stderr: a file, since a pipe would stay open.
  const output = openSync(join(dir, 'output'), 'w+')
  try {
    const created = spawnSync('runc', ['--root', root, 'create', '--bundle', bundle, '--pid-file', join(dir, 'pid'), id], { stdio: ['ignore', output, output], timeout: 60_000 })
    if (created.status !== 0) throw new Error(`runc create failed: ${readFileSync(join(dir, 'output'), 'utf8')}`)
    const dumped = await execa(FILTERS, [readFileSync(join(dir, 'pid'), 'utf8').trim()], { reject: false, stdin: 'ignore', timeout: 60_000 })
    if (dumped.exitCode !== 0) throw new Error(`reading runc's filters failed: ${dumped.stderr}`)
    return dumped.stdout.split('\n').filter(Boolean).map((hex) => decodeProgram(Buffer.from(hex, 'hex')))
  } finally {
    closeSync(output)
    if (existsSync(join(root, id))) await execa('runc', ['--root', root, 'delete', '--force', id], { reject: false, timeout: 60_000 })
  }
}
