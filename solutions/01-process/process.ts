/**
 * Chapter 01: run a command, the last thing runc does for a container.
 *
 * Everything later chapters add (namespaces, a root filesystem, cgroups) happens between
 * starting the helper and exec: runProcess() takes that work as its `prepare` step.
 */
import { readFileSync, statSync } from 'node:fs'
import { constants } from 'node:os'
import { posix } from 'node:path'
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

// #region dockerExitCode
/**
 * The number `docker run` exits with for a container that never ran, from the runtime's message
 * alone: the docker CLI receives runc's words (through containerd and dockerd), never a number.
 */
export function dockerExitCode(message: string): number {
  // runc's words when the execve itself failed, after the start (an os.PathError, "exec PATH:
  // reason", not LookPath's `exec: "NAME": ...`): runc's init printed them as the container's
  // own stderr and died, so docker run exits with the container's status, never read by the CLI.
  if (message.startsWith('exec ')) return 1
  // toStatusError in the docker CLI (cli/command/container/run.go) looks for these phrases.
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127
  if (/permission denied|is a directory/.test(message)) return 126
  return 125
}
// #endregion dockerExitCode

// #region buildEnv
/**
 * The container's environment from `-e` flags and `--env-file` files, as the process sees it
 * after `docker run`, dockerd and runc 1.1: `KEY=value` sets KEY, a bare `KEY` copies KEY from
 * the host, a later setting replaces an earlier one, and PATH defaults to DEFAULT_PATH. A flag or
 * file the docker CLI refuses is refused with a ContainerError in the docker CLI's own words and
 * with its exit code.
 *
 * No single Docker function builds this list: the docker CLI, dockerd and runc each do a part.
 */
export function buildEnv(flags: string[], hostEnv: Record<string, string | undefined> = {}, envFiles: string[] = []): string[] {
  // The docker CLI checks each -e as it parses it, before it opens any file. It sends each key
  // of the flags once, a later flag in the place of the first; a bare KEY takes the host's
  // value, or is sent on bare.
  const sent = new Map<string, string | undefined>()
  for (const flag of flags) {
    const [key, value] = splitVar(flag)
    if (key === '') throw new ContainerError(`invalid environment variable: ${flag}`, 125)
    sent.set(key, value ?? hostEnv[key])
  }
  // The files' lines go first, every one of them, then the flags (opts.ReadKVEnvStrings).
  const fromFiles = envFiles.flatMap((file) => readEnvFile(file, hostEnv))
  // dockerd merges them into its defaults (moby's ReplaceOrAppendEnvValues): a value replaces a
  // default in place or is appended (runc keeps the last of a key), and a bare KEY unsets a
  // default, never a variable that came with the request.
  const env = new Map<string, string>([['PATH', DEFAULT_PATH.slice('PATH='.length)]])
  const defaults = new Set(env.keys())
  for (const line of fromFiles) {
    const [key, value] = splitVar(line)
    env.set(key, value!)
  }
  for (const [key, value] of sent) {
    if (value !== undefined) env.set(key, value)
    else if (defaults.has(key)) env.delete(key)
  }
  return [...env].map(([key, value]) => `${key}=${value}`)
}

function splitVar(text: string): [string, string | undefined] {
  const eq = text.indexOf('=')
  return eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)]
}
// #endregion buildEnv

// #region readEnvFile
/**
 * The `KEY=value` lines the docker CLI sends dockerd for one `--env-file FILE`, in the file's
 * order, a bare KEY already resolved from `hostEnv`. A file the docker CLI cannot read or
 * refuses is refused with a ContainerError in the docker CLI's own words and with its exit code.
 */
export function readEnvFile(file: string, hostEnv: Record<string, string | undefined> = {}): string[] {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException
    // Go's os.Open succeeds on a directory; its first read fails, inside the parser's wrapping.
    if (code === 'EISDIR') throw new ContainerError(`invalid env file (${file}): read ${file}: is a directory`, 125)
    throw new ContainerError(`open ${file}: ${/^\w+: (.*?), open /.exec(message)?.[1] ?? message}`, 125)
  }
  const refused = (why: string) => new ContainerError(`invalid env file (${file}): ${why}`, 125)
  // Go's bufio.ScanLines: lines end at "\n", one "\r" before it goes too, and a last line
  // needs no "\n".
  const lines = splitLines(bytes)
  const out: string[] = []
  for (const [i, raw] of lines.entries()) {
    // bufio.Scanner's buffer holds at most MaxScanTokenSize (64 KiB) bytes: a line and its "\n"
    // (its "\r" too) must fit, and the last line, too, fills it before the end of the file is seen.
    if (raw.end - raw.start >= MAX_SCAN_TOKEN) throw refused('bufio.Scanner: token too long')
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw.line)
    } catch {
      throw refused(`invalid utf8 bytes at line ${i + 1}: [${[...raw.line].join(' ')}]`)
    }
    if (i === 0 && text.startsWith('\uFEFF')) text = text.slice(1)
    // Go's unicode.IsSpace, which JavaScript's \s is not: no U+FEFF, and U+0085 is one.
    const line = text.replace(/^[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+/, '')
    if (line === '' || line.startsWith('#')) continue
    const [key, value] = splitVar(line)
    if (key === '') throw refused(`no variable name on line '${line}'`)
    if (/[ \t]/.test(key)) throw refused(`variable '${key}' contains whitespaces`)
    if (value !== undefined) out.push(line)
    else if (hostEnv[key] !== undefined) out.push(`${key}=${hostEnv[key]}`)
  }
  return out
}

const MAX_SCAN_TOKEN = 64 * 1024

/** Each line without its end (`line`), and where it starts and ends in the file, its "\r" included. */
function splitLines(bytes: Buffer): { line: Buffer; start: number; end: number }[] {
  const lines: { line: Buffer; start: number; end: number }[] = []
  let start = 0
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start)
    const next = end < 0 ? bytes.length : end + 1
    if (end < 0) end = bytes.length
    lines.push({ line: bytes.subarray(start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end), start, end })
    start = next
  }
  return lines
}
// #endregion readEnvFile

// #region searchPath
/**
 * The files runc looks at, in order, for the command `file` in a container whose environment is
 * `env`: from the container's PATH (never the caller's), as runc's search reads it.
 */
export function searchPath(file: string, env: string[]): string[] {
  if (file.includes('/')) return [file]
  // runc 1.1 sets each of process.env in its own environment in turn (os.Setenv), and LookPath
  // reads PATH from there: of a key named twice, the last one counts.
  const path = env.findLast((v) => v.startsWith('PATH='))?.slice('PATH='.length) ?? ''
  if (path === '') return []
  // An empty entry means "." to execvp(3) and to Go's LookPath; a relative one is relative to
  // the working directory. They stay in their place: what is found there ends runc's search.
  return path.split(':').map((dir) => `${dir.replace(/\/$/, '') || '.'}/${file}`)
}
// #endregion searchPath

// #region execCommand
/**
 * Exec `args` in the helper as runc does: try searchPath()'s files, and when none runs, fail
 * with runc's message (word for word: the table in "Finding the command") and the exit code
 * `docker run` makes of that message (dockerExitCode). An empty `args` is refused with dockerd's
 * `no command specified`.
 */
export async function execCommand(helper: Helper, args: string[], env: string[]): Promise<void> {
  const [file] = args
  if (file === undefined) throw new ContainerError('no command specified', 125)
  const searching = !file.includes('/')
  for (const candidate of searchPath(file, env)) {
    if (searching && !candidate.startsWith('/')) {
      // Go's LookPath stops at the first executable file, wherever it is, and refuses one found
      // relative to the working directory (ErrDot) rather than look further. Only a look at the
      // file decides, never an exec, and the helper is the one to find it: a symlink to an
      // absolute path means the container's root, which a path Node follows would not.
      if (await executableFile(helper, candidate)) throw refusal(`exec: "${file}": cannot run executable found relative to current directory`)
      continue
    }
    try {
      return await helper.exec(candidate, args, env)
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error
      // ENOENT for a file that is there: what is missing is the program's interpreter (its ELF
      // loader, its #! line's). runc found the file, so the exec failed after the start.
      if (error.code === 'ENOENT' && (await isThere(helper, candidate))) throw execFailed(candidate, error)
      // EACCES for a file runc's look lets through (a file with an x bit, on a filesystem
      // mounted noexec): runc 1.1 asks eaccess(2) about the file it found before it waits for
      // `start` (standard_init_linux.go), so these words come back as a refusal the CLI reads.
      if (error.code === 'EACCES' && (await executableFile(helper, candidate))) throw new ContainerError(`exec ${candidate}: permission denied`, 126)
      // On the PATH, a missing or unusable file only means: look in the next directory.
      if (searching && SKIPPED.has(error.code)) continue
      // runc's words for a path; docker's exit code is what the docker CLI reads in them.
      const words = REFUSED[error.code]
      if (words) throw refusal(`exec: "${file}": ${words(file)}`)
      // Any other errno is the exec's own failure, of a file runc's look let through.
      throw execFailed(candidate, error)
    }
  }
  throw refusal(`exec: "${file}": executable file not found in $PATH`)
}

const refusal = (message: string) => new ContainerError(message, dockerExitCode(message))

/** runc's words for an execve that failed (os.PathError, Go's lowercase strerror). */
const execFailed = (path: string, error: SyscallError) => {
  const reason = /\(([^()]*)\)$/.exec(error.message)?.[1] ?? error.code
  return refusal(`exec ${path}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`)
}

/**
 * Go's findExecutable: a file that is not a directory and has an x bit, as the helper finds it
 * (its root, its working directory, its symlinks); Node looks at the inode the helper opened.
 */
async function executableFile(helper: Helper, path: string): Promise<boolean> {
  let fd: number
  try {
    fd = await helper.openAt('cwd', path, ['path'])
  } catch (error) {
    if (error instanceof SyscallError) return false
    throw error
  }
  try {
    const stat = statSync(`/proc/${helper.serving}/fd/${fd}`)
    return !stat.isDirectory() && (stat.mode & 0o111) !== 0
  } finally {
    await helper.closeFd(fd)
  }
}

/** Whether `path` names a file in the helper's view (opened, and closed again, by the helper). */
async function isThere(helper: Helper, path: string): Promise<boolean> {
  try {
    await helper.closeFd(await helper.open(path))
    return true
  } catch (error) {
    if (error instanceof SyscallError) return false
    throw error
  }
}

const REFUSED: Record<string, (file: string) => string> = {
  ENOENT: (file) => `stat ${file}: no such file or directory`,
  ENOTDIR: (file) => `stat ${file}: not a directory`,
  EACCES: () => 'permission denied',
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
  // dockerd cleans the path before runc sees it (filepath.Clean in moby's
  // SetupWorkingDirectory): ".." takes away the name before it, whatever the kernel would
  // find behind that name (a symlink, or nothing yet), and nothing is made on the way.
  const cwd = posix.resolve('/', process.cwd)
  await makeDirs(helper, cwd)
  await helper.chdir(cwd)
  await execCommand(helper, process.args, process.env)
}

/**
 * mkdir -p through the helper, as Go's os.MkdirAll does it for runc: the directory is made as the
 * container sees the filesystem. A name that exists is fine only when it is a directory, or a
 * symlink to one: mkdir(2) says EEXIST for any symlink, a dangling one too, and MkdirAll stops
 * there with that EEXIST (a mkdir through the dangling symlink would make its target instead).
 */
async function makeDirs(helper: Helper, dir: string): Promise<void> {
  let path = ''
  for (const part of dir.split('/').filter((p) => p !== '')) {
    path += `/${part}`
    try {
      await helper.mkdir(path, 0o755)
    } catch (error) {
      if (!(error instanceof SyscallError && error.code === 'EEXIST')) throw error
      await isDirectory(helper, path, error)
    }
  }
}

/** Resolves when `path` is a directory once symlinks are followed; else throws ENOTDIR, or `exists`. */
async function isDirectory(helper: Helper, path: string, exists: SyscallError): Promise<void> {
  let fd: number
  try {
    fd = await helper.openAt('cwd', path, ['path', 'directory'])
  } catch (error) {
    // a file is not a directory (MkdirAll's Stat says so); a symlink to nothing is a name that exists
    throw error instanceof SyscallError && error.code === 'ENOTDIR' ? error : exists
  }
  await helper.closeFd(fd)
}
// #endregion startProcess

// #region runProcess
/**
 * Where runProcess hears of the signals meant for the container, as `docker run` hears of its
 * own (--sig-proxy): an EventEmitter that emits 'signal' with the signal's name will do.
 */
export interface SignalSource {
  on(event: 'signal', listener: (signal: NodeJS.Signals) => void): unknown
  off(event: 'signal', listener: (signal: NodeJS.Signals) => void): unknown
}

/**
 * Run `process` to the end and return its exit code. `prepare` runs in between starting the
 * helper and exec: later chapters unshare namespaces, fork and pivot_root there.
 *
 * Each signal `signals` emits is meant for the container, and none is ever lost:
 * - one that comes before the exec has happened stops the run: the program never runs, no
 *   helper (nor anything prepare made in it) is left, and the result is Docker's exit code for
 *   a process killed by that signal (exitCode), the first one if several came;
 * - one that comes after the exec goes to the program, which may handle it (a program that
 *   catches SIGTERM and exits 3 gives 3);
 * - none ever reaches Node itself, and no listener is left on `signals` once runProcess has
 *   settled, whichever way.
 */
export async function runProcess(
  process: Process,
  stdio: Stdio = {},
  prepare?: (helper: Helper) => Promise<void>,
  signals?: SignalSource,
): Promise<number> {
  const helper = Helper.start(stdio)
  // Before the exec the helper is ours, half-way to a container, and may be PID 1 of a PID
  // namespace, which drops a signal it has no handler for: stop it ourselves. After the exec it
  // is the program (or the relay in front of it), whose signal it is to handle.
  let early: NodeJS.Signals | undefined
  let running = false
  const pass = (signal: NodeJS.Signals) => {
    if (running) helper.process.kill(signal)
    else if (early === undefined) {
      early = signal
      helper.kill()
    }
  }
  signals?.on('signal', pass)
  try {
    try {
      await prepare?.(helper)
      await startProcess(helper, process)
    } catch (error) {
      helper.kill()
      await helper.exited
      // A stopped run makes its pending request fail: the signal, not that failure, is the news.
      if (early === undefined) throw error
    }
    if (early !== undefined) {
      await helper.exited
      return exitCode({ code: null, signal: constants.signals[early] })
    }
    running = true
    return exitCode(await helper.exited)
  } finally {
    signals?.off('signal', pass)
  }
}
// #endregion runProcess
