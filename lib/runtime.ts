/**
 * Plumbing the runtime chapter's starter and reference share: the record a container's state
 * directory keeps, /proc reading, and the runtime's log, whose JSON lines containerd's shim reads.
 */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cgroup } from '#ch/04-cgroups/cgroups.ts'
import type { Hooks, State } from './oci.ts'

/** A runtime command that failed: the CLI logs the message and exits 1, as runc does. */
export class RuntimeError extends Error {
  override name = 'RuntimeError'
}

/** What ROOT/ID/state.json holds: the public state without its status (computed on every read), and what delete needs. */
export interface ContainerRecord extends Omit<State, 'status'> {
  /** the process's start time in clock ticks since boot (/proc/PID/stat field 22): a PID can be reused, a (PID, start time) pair cannot */
  startTime: number
  /** the cgroup to remove on delete (chapter 04's Cgroup), if one was made */
  cgroup?: Cgroup
  hooks?: Hooks
}

/** The file name of the container's record in its state directory. */
export const STATE_FILE = 'state.json'
/** The fifo `create` parks the container's process on until `start` opens it. */
export const EXEC_FIFO = 'exec.fifo'
/** open(2)'s O_PATH on Linux (node:fs does not export it): an fd that names a file without opening it. */
export const O_PATH = 0o10000000

/** Write `record` to DIR/state.json atomically: a reader never sees half a file. */
export function saveRecord(dir: string, record: ContainerRecord): void {
  const tmp = join(dir, `.${STATE_FILE}.tmp`)
  writeFileSync(tmp, JSON.stringify(record))
  renameSync(tmp, join(dir, STATE_FILE))
}

/**
 * The start time of process `pid` (clock ticks since boot), or undefined when there is no such
 * process or it is a zombie: it has exited and only waits for its parent to collect it.
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined
  return Number(fields[19])
}

/** The runtime's log: JSON lines as runc writes them with `--log FILE --log-format json`, or text. */
export class RuntimeLog {
  constructor(
    readonly file?: string,
    readonly format: 'json' | 'text' = 'text',
  ) {}

  write(level: 'error' | 'warning' | 'info', msg: string): void {
    if (!this.file) {
      if (level !== 'info') process.stderr.write(`minirunc: ${msg}\n`)
      return
    }
    const time = new Date().toISOString()
    const line = this.format === 'json'
      ? JSON.stringify({ level, msg, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`
    appendFileSync(this.file, `${line}\n`)
  }
}
