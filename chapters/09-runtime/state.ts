/**
 * Chapter 09: the state directory. Each container is ROOT/ID with state.json (its record) and,
 * between create and start, exec.fifo. Every command reads the record and works out the status
 * from the kernel, because the container's process may have exited, or been replaced, since.
 */
import { join } from 'node:path'
import { NotImplementedError } from '../../lib/errors.ts'
import type { State } from '../../lib/oci.ts'
import { EXEC_FIFO, processStartTime, RuntimeError, STATE_FILE, type ContainerRecord } from '../../lib/runtime.ts'
import { checkContainerId } from './bundle.ts'

// #region loadContainer
/**
 * The state directory of container `id` under `root` and its record. An unknown ID (no
 * directory, or no state.json in it) is refused with runc's words, `container does not exist`,
 * which containerd recognises; an ID that is not a valid ID with checkContainerId's error.
 */
export function loadContainer(root: string, id: string): { dir: string; record: ContainerRecord } {
  // TODO(09): find container `id`'s state directory and read its record.
  //   1. The ID comes from the command line: check it before it becomes part of a path.
  //   2. An unknown ID must fail in runc's words, `container does not exist`: containerd
  //      matches them to tell "already gone" from a real failure (the text's "The state directory and the status").
  throw new NotImplementedError('09-runtime', 'loadContainer')
}
// #endregion loadContainer

// #region containerStatus
/**
 * The status now, one of the runtime spec's four (runtime.md, "State"), worked out afresh on
 * every call from the kernel and the state directory, as runc's refreshState does.
 */
export function containerStatus(dir: string, record: ContainerRecord): State['status'] {
  // TODO(09): work out the status from the kernel, never from what was written at create.
  //   1. The process may have exited since, or be a zombie its parent has not collected yet:
  //      is a zombie running, and how do you tell one from a live process (proc(5))?
  //   2. PIDs are reused: how does the record tell this container's process from a stranger
  //      that got the same PID later? (runc's refreshState.)
  //   3. What tells "created" from "running", when the process is alive either way? (the
  //      text's "The state directory and the status"; runc's runType).
  //   4. Paused is the kernel's word too: the freezer cgroup pause used (record.freezer) says
  //      whether its processes are frozen (cgroup-v1/freezer-subsystem.rst; cgroup-v2.rst,
  //      "cgroup.freeze"). A freezer that cannot be read means nothing is frozen.
  throw new NotImplementedError('09-runtime', 'containerStatus')
}
// #endregion containerStatus

/** The state as `state` prints it and hooks read it: the public fields and the status, with pid 0 once stopped. */
export function publicState(dir: string, record: ContainerRecord): State {
  const status = containerStatus(dir, record)
  const { startTime: _t, cgroup: _c, hooks: _h, freezer: _f, devices: _d, cpuset: _s, seccomp: _p, ...state } = record
  return { ...state, status, pid: status === 'stopped' ? 0 : record.pid }
}
