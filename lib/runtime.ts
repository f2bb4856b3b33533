/**
 * Plumbing the runtime chapter's starter and reference share: the record a container's state
 * directory keeps, /proc reading, and the runtime's log, whose JSON lines containerd's shim reads.
 */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cgroup } from './cgroup.ts'
import type { Hooks, Resources, Seccomp, State } from './oci.ts'

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
  /** config.json's process.oomScoreAdj, as create found it (absent when config.json has none) */
  oomScoreAdj?: number
  /** the container's seccomp filter as config.json gave it, which `exec` applies to its processes too (chapter 13) */
  seccomp?: Seccomp
  /** the freezer cgroup `pause` froze the processes in, and what delete removes of it (v1: a hierarchy of its own; v2: the container's cgroup, nothing to remove) */
  freezer?: { dir: string; version: 1 | 2; removeOrder: string[] }
  /** the v1 devices cgroup create made for linux.resources.devices, and what delete removes of it */
  devices?: { dir: string; removeOrder: string[] }
  /** the v1 cpuset cgroup create made for linux.resources.cpu.cpus and mems, and what delete removes of it */
  cpuset?: { dir: string; removeOrder: string[] }
}

/**
 * runc's list of always-allowed devices (libcontainer/specconv's AllowedDevices), as
 * linux.resources.devices rules: mknod of any node, the standard devices, /dev/pts/* and
 * /dev/ptmx, /dev/net/tun.
 */
export const ALLOWED_DEVICES: NonNullable<NonNullable<Resources['devices']>> = [
  { allow: true, type: 'c', access: 'm' }, { allow: true, type: 'b', access: 'm' },
  ...[[1, 3], [1, 8], [1, 7], [5, 0], [1, 5], [1, 9], [5, 2], [10, 200]].map(([major, minor]) => ({ allow: true, type: 'c' as const, major, minor, access: 'rwm' })),
  { allow: true, type: 'c', major: 136, access: 'rwm' },
]

/** The file name of the container's record in its state directory. */
export const STATE_FILE = 'state.json'
/** The fifo `create` parks the container's process on until `start` opens it. */
export const EXEC_FIFO = 'exec.fifo'

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
