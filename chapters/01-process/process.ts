/**
 * Chapter 01: run a command, the last thing runc does for a container.
 *
 * Everything later chapters add (namespaces, a root filesystem, cgroups) happens between
 * starting the helper and exec: runProcess() takes that work as its `prepare` step.
 *
 * Check your work with `npx workbook check 1`; `npx workbook hint 1` when you are stuck.
 */
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { DEFAULT_PATH, type Process } from '../../lib/oci.ts'
import { Helper, SyscallError, type ExitStatus, type HelperOptions } from '../../native/helper.ts'

/** Where the container's stdin, stdout and stderr go. */
export type Stdio = Pick<HelperOptions, 'stdin' | 'stdout' | 'stderr'>

// #region exitCode
/** The number `docker run` exits with: the exit code, or 128 + the signal that killed it. */
export function exitCode(status: ExitStatus): number {
  // TODO(01): one number for every way a process can end.
  //   1. A process ends either with an exit code or killed by a signal, never both: which
  //      field of ExitStatus tells you which happened?
  //   2. The shell's convention, which Docker follows, for a signal (SIGKILL gives 137):
  //      "Exit codes" in the chapter text.
  throw new NotImplementedError('01-process', 'exitCode')
}
// #endregion exitCode

// #region buildEnv
/**
 * The container's environment from `-e` flags, as `docker run -e` builds it:
 * `KEY=value` sets KEY, a bare `KEY` copies it from the host (or drops it when the host has
 * none), a later flag wins over an earlier one, and PATH defaults to Docker's default
 * (DEFAULT_PATH). A flag with no name (`=x`) is a ContainerError with exit code 125.
 */
export function buildEnv(flags: string[], hostEnv: Record<string, string | undefined> = {}): string[] {
  // TODO(01): the "KEY=value" list a container starts with.
  //   1. Values may contain "=" themselves (URL=a=b) or be empty (A=): where does the name end?
  //   2. A later flag replaces an earlier one, yet a key keeps the position where it first
  //      appeared, PATH included: which data structure remembers both?
  //   3. Where does PATH come from when no flag sets it, and where must it stand?
  //   Look at docker's own parsing: opts.ValidateEnv and opts.ParseEnvFile in the docker CLI.
  throw new NotImplementedError('01-process', 'buildEnv')
}
// #endregion buildEnv

// #region searchPath
/**
 * The files to try, in order, for the command `file` in a container whose environment is `env`:
 * `file` itself when it contains a slash, otherwise `DIR/file` for each DIR of the PATH in
 * `env` (never the caller's own PATH). No PATH in `env` means nothing to try.
 */
export function searchPath(file: string, env: string[]): string[] {
  // TODO(01): whose PATH, and what is a command name?
  //   1. The process runs with `env`, not with this Node process's environment: the PATH to
  //      search is the container's, even when the host has one that would work.
  //   2. "./run.sh" and "/bin/sh" name files; "sh" is a name to look up. How does
  //      execvp(3) tell them apart?
  //   Look at Go's exec.LookPath (os/exec/lp_unix.go), which runc calls for this.
  throw new NotImplementedError('01-process', 'searchPath')
}
// #endregion searchPath

// #region execCommand
/**
 * Exec `args` in the helper as runc does: try each of searchPath()'s files and decide Docker's
 * exit code when none runs. Errors, with this exact wording:
 * - a name found nowhere on the PATH: `exec: "NAME": executable file not found in $PATH`, 127
 *   (a file that is there but not executable does not count: the search goes on);
 * - a path with a slash that does not exist: `exec: "PATH": stat PATH: no such file or directory`, 127;
 * - a path with a slash that exists but cannot be executed: `exec: "PATH": permission denied`, 126.
 */
export async function execCommand(helper: Helper, args: string[], env: string[]): Promise<void> {
  // TODO(01): the PATH search, in the helper, and the verdict when it finds nothing.
  //   1. The helper execs exactly the path it is given, and a failed exec leaves it alive and
  //      answering: which errno means "not here, try the next directory", and which means
  //      "stop, this is the answer"? (helper.exec's @throws; execve(2), ERRORS.)
  //   2. A success is the end: the helper is gone, there is nothing left to try.
  //   3. After the loop, which of the three errors above is it? Only a name with a slash can
  //      be 126; an error the table does not cover (ENOEXEC, ...) goes through as it is.
  //   4. No command at all (empty args): a ContainerError with exit code 125.
  //   Compare with runc's standard_init_linux.go (exec.LookPath, then the exec) and with
  //   "Starting the process" in the chapter text.
  throw new NotImplementedError('01-process', 'execCommand')
}
// #endregion execCommand

// #region startProcess
/**
 * The end of runc's init: enter the working directory, creating it when it is missing (as runc
 * does), then exec. The working directory must be an absolute path (a ContainerError, 125).
 */
export async function startProcess(helper: Helper, process: Process): Promise<void> {
  // TODO(01): the working directory, then the exec.
  //   1. process.cwd is a path in the container: after chapter 03 the helper's "/" is not
  //      Node's. Who can create a missing directory there, and how many levels may be missing?
  //   2. A directory that already exists is not an error; anything else (a file in the way)
  //      is, and its SyscallError already says which path and why: let it through.
  //   3. Only then enter the directory and exec the command.
  //   Look at runc's rootfs_linux.go (it calls MkdirAll on the cwd) and mkdir(2).
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
  //   1. The helper's stdio becomes the program's: the helper is started with `stdio`.
  //   2. prepare runs in the same helper, before anything of this chapter touches it.
  //   3. If anything throws before the exec succeeded, the helper is still alive and waiting
  //      for requests: end it, and wait until it has really exited, before rethrowing.
  //   4. The number to return is the one `docker run` would exit with.
  //   "The whole life of a process" in the chapter text; Helper.start, kill and exited.
  throw new NotImplementedError('01-process', 'runProcess')
}
// #endregion runProcess
