/**
 * Chapter 01: run a command, the last thing runc does for a container.
 *
 * Everything later chapters add (namespaces, a root filesystem, cgroups) happens between
 * starting the helper and exec: runProcess() takes that work as its `prepare` step.
 */
import { ContainerError } from '../../lib/errors.ts'
import { DEFAULT_PATH, type Process } from '../../lib/oci.ts'
import { Helper, SyscallError, type ExitStatus, type HelperOptions } from '../../native/helper.ts'

/** Where the container's stdin, stdout and stderr go. */
export type Stdio = Pick<HelperOptions, 'stdin' | 'stdout' | 'stderr'>

// #region exitCode
/** The number `docker run` exits with: the exit code, or 128 + the signal that killed it. */
export function exitCode(status: ExitStatus): number {
  if (status.signal !== null) return 128 + status.signal
  return status.code ?? 0
}
// #endregion exitCode

// #region buildEnv
/**
 * The container's environment from `-e` flags, as `docker run -e` builds it:
 * `KEY=value` sets KEY, a bare `KEY` copies it from the host (or drops it when the host has
 * none), a later flag wins over an earlier one, and PATH defaults to Docker's default.
 */
export function buildEnv(flags: string[], hostEnv: Record<string, string | undefined> = {}): string[] {
  const env = new Map<string, string>()
  env.set('PATH', DEFAULT_PATH.slice('PATH='.length))
  for (const flag of flags) {
    const [key, value] = splitVar(flag)
    if (key === '') throw new ContainerError(`invalid environment variable: "${flag}"`, 125)
    const fromHost = hostEnv[key]
    if (value !== undefined) env.set(key, value)
    else if (fromHost !== undefined) env.set(key, fromHost)
  }
  return [...env].map(([key, value]) => `${key}=${value}`)
}

function splitVar(text: string): [string, string | undefined] {
  const eq = text.indexOf('=')
  return eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)]
}
// #endregion buildEnv

// #region startProcess
/**
 * Enter the working directory and exec the process in the helper. Resolves once the new
 * program is running; a program that cannot be found or run becomes a ContainerError with
 * Docker's exit code (127 not found, 126 not executable).
 */
export async function startProcess(helper: Helper, process: Process): Promise<void> {
  const [file] = process.args
  if (file === undefined) throw new ContainerError('no command given: process.args is empty', 125)
  await helper.chdir(process.cwd)
  try {
    await helper.exec(file, process.args, process.env)
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error
    if (error.code === 'ENOENT')
      throw new ContainerError(`exec: "${file}": executable file not found in $PATH`, 127)
    if (error.code === 'EACCES')
      throw new ContainerError(`exec: "${file}": permission denied`, 126)
    throw error
  }
}
// #endregion startProcess

// #region runProcess
/**
 * Run `process` to the end and return its exit code. `prepare` runs in between starting the
 * helper and exec: later chapters unshare namespaces, fork and pivot_root there.
 */
export async function runProcess(
  process: Process,
  stdio: Stdio = {},
  prepare?: (helper: Helper) => Promise<void>,
): Promise<number> {
  const helper = Helper.start(stdio)
  try {
    await prepare?.(helper)
    await startProcess(helper, process)
  } catch (error) {
    helper.kill()
    await helper.exited
    throw error
  }
  return exitCode(await helper.exited)
}
// #endregion runProcess
