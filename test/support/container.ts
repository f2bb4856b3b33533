/**
 * Running containers in tests, from chapter 02 on: a spec to start from, a run with its
 * output captured, and waiting for processes.
 */
import { readFileSync } from 'node:fs'
import { runProcess } from '#ch/01-process/process.ts'
import { baseSpec, type NamespaceType, type Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'
import { captureFile } from './files.ts'
import { PROBE_PATH } from './probe.ts'

/** A spec that runs the probe with `steps` in the given namespaces. */
export function probeSpec(steps: string[], namespaces: NamespaceType[] = ['pid', 'ipc', 'uts'], probe = PROBE_PATH): Spec {
  const spec = baseSpec([probe, ...steps])
  spec.linux = { namespaces: namespaces.map((type) => ({ type })) }
  return spec
}

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Run `spec.process` through chapter 01, with `prepare` in between, capturing its output. */
export async function runCaptured(spec: Spec, prepare: (helper: Helper) => Promise<unknown>): Promise<Run> {
  const out = captureFile('stdout')
  const err = captureFile('stderr')
  const code = await runProcess(spec.process, { stdout: out.fd, stderr: err.fd }, async (h) => {
    await prepare(h)
  })
  return { code, stdout: out.read(), stderr: err.read() }
}

/** Wait until `check` is true or `ms` have passed; returns the last result. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}

/** The state letter of the process with this PID (R, S, D, Z...), undefined when there is none. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2]
  } catch {
    return undefined
  }
}

/** True while the process with this PID runs: a zombie (dead, its parent yet to reap it) is not alive. */
export const alive = (pid: number): boolean => ![undefined, 'Z'].includes(processState(pid))
