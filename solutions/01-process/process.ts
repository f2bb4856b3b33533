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

// #region searchPath
/**
 * The files to try, in order, for the command `file` in a container whose environment is `env`:
 * `file` itself when it contains a slash, otherwise `DIR/file` for each DIR of the PATH in
 * `env` (never the caller's own PATH). No PATH in `env` means nothing to try.
 */
export function searchPath(file: string, env: string[]): string[] {
  if (file.includes('/')) return [file]
  const path = env.find((v) => v.startsWith('PATH='))?.slice('PATH='.length) ?? ''
  // An empty entry would mean the working directory, which Go (and so runc) refuses to run from.
  return path.split(':').filter((dir) => dir !== '').map((dir) => `${dir.replace(/\/$/, '')}/${file}`)
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
  const [file] = args
  if (file === undefined) throw new ContainerError('no command given: process.args is empty', 125)
  const searching = !file.includes('/')
  for (const candidate of searchPath(file, env)) {
    try {
      return await helper.exec(candidate, args, env)
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error
      // On the PATH, a missing or unusable file only means: look in the next directory.
      if (searching && SKIPPED.has(error.code)) continue
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
        throw new ContainerError(`exec: "${file}": stat ${file}: ${REASON[error.code]}`, 127)
      if (error.code === 'EACCES') throw new ContainerError(`exec: "${file}": permission denied`, 126)
      throw error
    }
  }
  throw new ContainerError(`exec: "${file}": executable file not found in $PATH`, 127)
}

const SKIPPED = new Set(['ENOENT', 'ENOTDIR', 'EACCES'])
const REASON = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory' }
// #endregion execCommand

// #region startProcess
/**
 * The end of runc's init: enter the working directory, creating it when it is missing (as runc
 * does), then exec. The working directory must be an absolute path (a ContainerError, 125).
 */
export async function startProcess(helper: Helper, process: Process): Promise<void> {
  if (!process.cwd.startsWith('/'))
    throw new ContainerError(`the working directory "${process.cwd}" is not an absolute path`, 125)
  await makeDirs(helper, process.cwd)
  await helper.chdir(process.cwd)
  await execCommand(helper, process.args, process.env)
}

/** mkdir -p through the helper: the directory is made as the container sees the filesystem. */
async function makeDirs(helper: Helper, dir: string): Promise<void> {
  let path = ''
  for (const part of dir.split('/').filter((p) => p !== '')) {
    path += `/${part}`
    try {
      await helper.mkdir(path, 0o755)
    } catch (error) {
      if (!(error instanceof SyscallError && error.code === 'EEXIST')) throw error
    }
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
