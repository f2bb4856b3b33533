/**
 * `minidocker run`: one container from start to exit, composed from the chapters.
 *
 * The order is runc's: start the helper (01); in it, unshare namespaces and fork so the
 * container's process is PID 1 (02); put that process in its cgroup before it runs anything
 * (04); build its root filesystem and pivot_root into it (03); exec the command (01).
 */
import { runProcess, type Stdio } from '#ch/01-process/process.ts'
import type { Spec } from '../lib/oci.ts'

/** Run the container described by `spec` and return the exit code `docker run` would. */
export async function runContainer(spec: Spec, stdio: Stdio = {}): Promise<number> {
  return runProcess(spec.process, stdio)
}
