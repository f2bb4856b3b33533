/**
 * Chapter 09's given code: the state directory. Each container is ROOT/ID with state.json (its record) and,
 * between create and start, exec.fifo. Every command reads the record and works out the status
 * from the kernel, because the container's process may have exited, or been replaced, since.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { State } from './oci.ts'
import { EXEC_FIFO, processStartTime, RuntimeError, STATE_FILE, type ContainerRecord } from './runtime.ts'
import { checkContainerId } from './bundle.ts'

/**
 * The state directory of container `id` under `root` and its record. An unknown ID (no
 * directory, or no state.json in it) is refused with runc's words, `container does not exist`,
 * which containerd recognises; an ID that is not a valid ID with checkContainerId's error.
 */
export function loadContainer(root: string, id: string): { dir: string; record: ContainerRecord } {
  checkContainerId(id)
  const dir = join(root, id)
  let text: string
  try {
    text = readFileSync(join(dir, STATE_FILE), 'utf8')
  } catch {
    throw new RuntimeError('container does not exist')
  }
  return { dir, record: JSON.parse(text) as ContainerRecord }
}

/** The status now, worked out on every call from the kernel and the state directory, never from the record alone (runc's refreshState). */
export function containerStatus(dir: string, record: ContainerRecord): State['status'] {
  if (record.pid === 0 || processStartTime(record.pid) !== record.startTime) return 'stopped'
  if (existsSync(join(dir, EXEC_FIFO))) return 'created'
  return record.freezer && frozen(record.freezer) ? 'paused' : 'running'
}

/** Whether the freezer cgroup holds its processes frozen (v1's FREEZING counts: it is on its way). */
function frozen(freezer: NonNullable<ContainerRecord['freezer']>): boolean {
  try {
    return freezer.version === 2
      ? readFileSync(join(freezer.dir, 'cgroup.freeze'), 'utf8').trim() === '1'
      : readFileSync(join(freezer.dir, 'freezer.state'), 'utf8').trim() !== 'THAWED'
  } catch {
    return false
  }
}

/** The state as `state` prints it and hooks read it: the public fields and the status, with pid 0 once stopped. */
export function publicState(dir: string, record: ContainerRecord): State {
  const status = containerStatus(dir, record)
  const { startTime: _t, cgroup: _c, hooks: _h, freezer: _f, devices: _d, cpuset: _s, seccomp: _p, oomScoreAdj: _o, ...state } = record
  return { ...state, status, pid: status === 'stopped' ? 0 : record.pid }
}

/** The host PIDs the cgroup.procs of the container's cgroup lists (what `ps` prints), or its process alone without a cgroup. */
export function cgroupPids(record: ContainerRecord): number[] {
  const dir = record.cgroup && Object.values(record.cgroup.dirs)[0]
  // No cgroup, or one already removed (another container with the same cgroupsPath was deleted).
  if (!dir || !existsSync(dir)) return processStartTime(record.pid) === record.startTime ? [record.pid] : []
  const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
  // A record that names a hierarchy's root or the runtime's own cgroup would have kill --all and
  // delete --force signal the machine's processes: that is never the container's cgroup.
  if (!existsSync(join(dirname(dir), 'cgroup.procs')) || pids.includes(process.pid) || pids.includes(process.ppid))
    throw new RuntimeError(`container ${record.id}: ${dir} is not a cgroup of the container's own`)
  return pids
}

/** SIGKILL what cgroupPids lists (or the container's process) until its process has gone (or is a zombie for its parent to collect) and cgroupPids lists nothing, for 10 seconds at most. */
export async function killAndWait(record: ContainerRecord, dir: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const pids = cgroupPids(record)
    if (containerStatus(dir, record) === 'stopped' && pids.length === 0) return
    for (const pid of pids.length ? pids : [record.pid]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    await sleep(10)
  }
  throw new RuntimeError(`container ${record.id} did not die within 10 seconds of SIGKILL`)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
