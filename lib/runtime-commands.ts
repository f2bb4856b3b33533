/**
 * Chapter 09's given commands: kill and its signal names, pause and resume around the
 * chapter's setFrozen, and run around the chapter's create, start and delete.
 */
import { constants } from 'node:os'
import { exitCode } from '#ch/01-process/process.ts'
import { create, deleteContainer, setFrozen, start, type CreateOptions } from '#ch/09-runtime/runtime.ts'
import { RuntimeError, type RuntimeLog } from './runtime.ts'
import { cgroupPids, containerStatus, loadContainer } from './runtime-state.ts'

/** A signal by number (`9`) or name (`KILL`, `SIGKILL`, any case), refused otherwise: `invalid signal: TEXT`. */
export function parseSignal(text: string): number {
  const number = /^\d+$/.test(text) ? Number(text) : constants.signals[`SIG${text.toUpperCase().replace(/^SIG/, '')}` as NodeJS.Signals]
  if (number === undefined || !Object.values(constants.signals).includes(number)) throw new RuntimeError(`invalid signal: ${text}`)
  return number
}

/**
 * runc kill: send `signal` to the container's process, or with `all` to every process in its
 * cgroup. A stopped container is refused with `container not running`, words containerd takes to
 * mean "already gone".
 */
export async function kill(root: string, id: string, signal: number, all: boolean): Promise<void> {
  const { dir, record } = loadContainer(root, id)
  if (containerStatus(dir, record) === 'stopped') throw new RuntimeError('container not running')
  const pids = all ? cgroupPids(record) : [record.pid]
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
}

/** runc pause and resume: only a running container pauses (`container not running`), only a paused one resumes (`container not paused`). */
export async function pause(root: string, id: string, paused: boolean): Promise<void> {
  const { dir, record } = loadContainer(root, id)
  const status = containerStatus(dir, record)
  if (paused && status !== 'running') throw new RuntimeError('container not running')
  if (!paused && status !== 'paused') throw new RuntimeError('container not paused')
  await setFrozen(dir, record, paused)
}

/** runc run: create, start, wait for the exit, delete; resolves to the exit code `docker run` would give. */
export async function run(root: string, id: string, options: CreateOptions, log: RuntimeLog): Promise<number> {
  const helper = await create(root, id, options, log, false)
  const forward = (signal: NodeJS.Signals) => helper.process.kill(signal)
  for (const signal of FORWARDED) process.on(signal, forward)
  try {
    await start(root, id, log)
    return exitCode(await helper.exited)
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward)
    await deleteContainer(root, id, true, log)
  }
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']
