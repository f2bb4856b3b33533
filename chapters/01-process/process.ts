/**
 * Chapter 01: run a command, the last thing runc does for a container.
 *
 * Everything later chapters add (namespaces, a root filesystem, cgroups) happens between
 * starting the helper and exec: runProcess() takes that work as its `prepare` step.
 *
 * Check your work with `npx workbook check 1`.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { DEFAULT_PATH, type Process } from '../../lib/oci.ts'
import { Helper, SyscallError, type ExitStatus, type HelperOptions } from '../../native/helper.ts'

/** Where the container's stdin, stdout and stderr go. */
export type Stdio = Pick<HelperOptions, 'stdin' | 'stdout' | 'stderr'>

// #region exitCode
/** The number `docker run` exits with: the exit code, or 128 + the signal that killed it. */
export function exitCode(status: ExitStatus): number {
  // TODO(01): turn an ExitStatus into one number.
  //   1. If status.signal is not null, the process was killed: return 128 + the signal number
  //      (SIGKILL is 9, so a killed container exits 137, as `docker run` reports it).
  //   2. Otherwise return status.code.
  throw new NotImplementedError('01-process', 'exitCode')
}
// #endregion exitCode

// #region buildEnv
/**
 * The container's environment from `-e` flags, as `docker run -e` builds it:
 * `KEY=value` sets KEY, a bare `KEY` copies it from the host (or drops it when the host has
 * none), a later flag wins over an earlier one, and PATH defaults to Docker's default.
 */
export function buildEnv(flags: string[], hostEnv: Record<string, string | undefined> = {}): string[] {
  // TODO(01): build the "KEY=value" list.
  //   1. Start from DEFAULT_PATH ("PATH=/usr/local/sbin:..."), so a flag can replace it.
  //   2. Split each flag at its FIRST "=" only: "A=b=c" sets A to "b=c"; "A=" sets A to "".
  //   3. A flag with no "=" names a host variable: copy hostEnv[KEY] if it is defined,
  //      otherwise leave KEY out.
  //   4. A flag that starts with "=" has no name: throw new ContainerError(message, 125).
  //   5. Keep the order in which keys first appeared (a Map does that for you).
  throw new NotImplementedError('01-process', 'buildEnv')
}
// #endregion buildEnv

// #region startProcess
/**
 * Enter the working directory and exec the process in the helper. Resolves once the new
 * program is running; a program that cannot be found or run becomes a ContainerError with
 * Docker's exit code (127 not found, 126 not executable).
 */
export async function startProcess(helper: Helper, process: Process): Promise<void> {
  // TODO(01): chdir, then exec.
  //   1. An empty process.args cannot run: throw new ContainerError(message, 125).
  //   2. await helper.chdir(process.cwd). Let its SyscallError go through untouched: it
  //      already says which directory is missing.
  //   3. await helper.exec(args[0], args, env). The helper searches PATH in `env` itself.
  //   4. If exec throws a SyscallError with code "ENOENT", throw
  //      new ContainerError(`exec: "${file}": executable file not found in $PATH`, 127);
  //      with code "EACCES", a ContainerError with "permission denied" and 126.
  //      Rethrow anything else as it is.
  throw new NotImplementedError('01-process', 'startProcess')
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
  // TODO(01): the whole life of one process.
  //   1. const helper = Helper.start(stdio): the helper inherits the stdio you give it,
  //      and so will the program it execs.
  //   2. await prepare?.(helper), then await startProcess(helper, process).
  //   3. If either throws, the helper is still waiting for requests: helper.kill(),
  //      await helper.exited, then rethrow.
  //   4. Otherwise return exitCode(await helper.exited).
  throw new NotImplementedError('01-process', 'runProcess')
}
// #endregion runProcess
