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
/** The number `docker run` exits with for a process that ran, whichever way it ended. */
export function exitCode(status: ExitStatus): number {
  if (status.signal !== null) return 128 + status.signal
  return status.code ?? 0
}
// #endregion exitCode

// #region buildEnv
/**
 * The container's environment from `-e` flags, as the process sees it after `docker run -e`,
 * dockerd and runc 1.1: `KEY=value` sets KEY, a bare `KEY` copies KEY from the host, a later
 * flag replaces an earlier one, and PATH defaults to DEFAULT_PATH. A flag the docker CLI refuses
 * is refused with a ContainerError in the docker CLI's own words and with its exit code.
 *
 * No single Docker function builds this list: the docker CLI, dockerd and runc each do a part.
 */
export function buildEnv(flags: string[], hostEnv: Record<string, string | undefined> = {}): string[] {
  // The docker CLI: one entry per key, a later flag in the place of the first; a bare KEY takes
  // the host's value, or is sent on bare.
  const sent = new Map<string, string | undefined>()
  for (const flag of flags) {
    const [key, value] = splitVar(flag)
    if (key === '') throw new ContainerError(`invalid environment variable: ${flag}`, 125)
    sent.set(key, value ?? hostEnv[key])
  }
  // dockerd merges them into its defaults (moby's ReplaceOrAppendEnvValues): a value replaces a
  // default in place or is appended, and a bare KEY unsets a default (keys are unique by now).
  const env = new Map<string, string>([['PATH', DEFAULT_PATH.slice('PATH='.length)]])
  for (const [key, value] of sent) {
    if (value !== undefined) env.set(key, value)
    else env.delete(key)
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
 * The files to try, in order, for the command `file` in a container whose environment is `env`,
 * as execvp(3) would choose them, but from the container's PATH (never the caller's), and never
 * one that runc would refuse to run.
 */
export function searchPath(file: string, env: string[]): string[] {
  if (file.includes('/')) return [file]
  const path = env.find((v) => v.startsWith('PATH='))?.slice('PATH='.length) ?? ''
  // An empty entry means "." to execvp(3), and a relative one is relative too: Go's LookPath
  // (and so runc) refuses to run a program found relative to the working directory.
  return path.split(':').filter((dir) => dir.startsWith('/')).map((dir) => `${dir.replace(/\/$/, '')}/${file}`)
}
// #endregion searchPath

// #region execCommand
/**
 * Exec `args` in the helper as runc does: try searchPath()'s files, and when none runs, fail
 * with runc's message (word for word: the table in "Finding the command") and the exit code
 * `docker run` makes of that message. An empty `args` is refused with dockerd's
 * `no command specified`.
 */
export async function execCommand(helper: Helper, args: string[], env: string[]): Promise<void> {
  const [file] = args
  if (file === undefined) throw new ContainerError('no command specified', 125)
  const searching = !file.includes('/')
  for (const candidate of searchPath(file, env)) {
    try {
      return await helper.exec(candidate, args, env)
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error
      // On the PATH, a missing or unusable file only means: look in the next directory.
      if (searching && SKIPPED.has(error.code)) continue
      if (error.code === 'ENOENT') throw new ContainerError(`exec: "${file}": stat ${file}: no such file or directory`, 127)
      // Docker's exit code comes from runc's message: "not a directory" is neither "not found"
      // nor "permission denied", so it is Docker's own 125.
      if (error.code === 'ENOTDIR') throw new ContainerError(`exec: "${file}": stat ${file}: not a directory`, 125)
      if (error.code === 'EACCES') throw new ContainerError(`exec: "${file}": permission denied`, 126)
      throw error
    }
  }
  throw new ContainerError(`exec: "${file}": executable file not found in $PATH`, 127)
}

const SKIPPED = new Set(['ENOENT', 'ENOTDIR', 'EACCES'])
// #endregion execCommand

// #region startProcess
/**
 * The end of runc's init: enter the working directory, creating it when it is missing (as runc
 * does), then exec. A working directory that is not absolute is refused with a ContainerError
 * (the wording is yours; runc says `Cwd must be an absolute path`).
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
