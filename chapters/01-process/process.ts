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
/** The number `docker run` exits with for a process that ran, whichever way it ended. */
export function exitCode(status: ExitStatus): number {
  // TODO(01): one number for every way a process can end.
  //   1. A process ends with an exit code or is killed by a signal, never both, yet `docker run`
  //      exits with one number, from which its caller is meant to tell a death by signal. A
  //      program may itself exit with any number from 0 to 255: which numbers does the shell's
  //      convention set aside, and does anything but the convention keep a program off them?
  //   2. Where to look: wait(2) (WIFEXITED, WIFSIGNALED), "EXIT STATUS" in bash(1), and "Exit
  //      codes" in the chapter text.
  throw new NotImplementedError('01-process', 'exitCode')
}
// #endregion exitCode

// #region dockerExitCode
/**
 * The number `docker run` exits with for a container that never ran, from the runtime's message
 * alone: the docker CLI receives runc's words (through containerd and dockerd), never a number.
 */
export function dockerExitCode(message: string): number {
  // TODO(01): the docker CLI's reading of a runtime's refusal.
  //   1. "Exit status" in Docker's `docker run` reference documents three numbers for a
  //      container that never ran. The CLI has only runc's message to choose from: what in the
  //      words decides, and what does a message it does not recognise get?
  //   2. It is a reading of words, so it is blind. And did the CLI read every word a failed
  //      docker run prints? Ask the real docker run (the tests do), and ask which program
  //      chose each number.
  //   3. Where to look: toStatusError in the docker CLI (cli/command/container/run.go), and
  //      "Exit codes" in the chapter text.
  throw new NotImplementedError('01-process', 'dockerExitCode')
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
  // TODO(01): the "KEY=value" list a container starts with, from the -e flags and the files.
  //   1. Values may contain "=" (URL=a=b) or be empty (A=). A later flag replaces an earlier
  //      one: which program does that, and does the order of the list survive it?
  //   2. A bare KEY is resolved on the client, and one the client lacks travels on as it is:
  //      what reaches dockerd for -e A=1 -e A, and for -e PATH, and what does dockerd make of
  //      it? Never read process.env here: the host's environment is `hostEnv`.
  //   3. --env-file (readEnvFile reads one): the files and the flags meet in one list. Which
  //      comes first, whatever the order on the command line, and which program settles a key
  //      that both name? A bare -e KEY the client lacks, after a file that sets KEY: what is
  //      left? Try it with the real docker before you decide ("The environment file").
  //   4. Where to look: opts.ValidateEnv (docker CLI, opts/env.go), opts.ReadKVEnvStrings
  //      (opts/parse.go), moby's ReplaceOrAppendEnvValues (container/env.go), the body of the
  //      docker CLI's POST /containers/create, and "The environment" in the chapter text.
  throw new NotImplementedError('01-process', 'buildEnv')
}
// #endregion buildEnv

// #region readEnvFile
/**
 * The `KEY=value` lines the docker CLI sends dockerd for one `--env-file FILE`, in the file's
 * order, a bare KEY already resolved from `hostEnv`. A file the docker CLI cannot read or
 * refuses is refused with a ContainerError in the docker CLI's own words and with its exit code.
 */
export function readEnvFile(file: string, hostEnv: Record<string, string | undefined> = {}): string[] {
  // TODO(01): one --env-file, read as the docker CLI reads it.
  //   1. The format has no quoting and no escapes, and it is stricter and looser than a shell's
  //      in places you would not guess: white space before a name, after a name, inside a
  //      value, at the end of a line; a "#" at the start and in the middle; a name with no
  //      "=", set and not set on the client; a file saved on Windows, with a byte order mark;
  //      a line far longer than any you would write by hand.
  //      Find out what each does with the real docker CLI (the chapter text says how to start
  //      one) before you write a line: the tests ask it the same questions.
  //   2. Some lines and files are refused, before anything starts: the message is the docker
  //      CLI's, to the letter, naming the file, and so is the exit code. The file is bytes:
  //      what if they are not UTF-8?
  //   3. Where to look: kvfile.Parse in the docker CLI (pkg/kvfile/kvfile.go; opts/file.go in
  //      older ones), Go's bufio.Scanner and bufio.ScanLines, and "The environment file" in the
  //      chapter text.
  throw new NotImplementedError('01-process', 'readEnvFile')
}
// #endregion readEnvFile

// #region searchPath
/**
 * The files runc looks at, in order, for the command `file` in a container whose environment is
 * `env`: from the container's PATH (never the caller's), as runc's search reads it.
 */
export function searchPath(file: string, env: string[]): string[] {
  // TODO(01): whose PATH, and what is a command name?
  //   1. The process runs with `env`, not with this Node process's environment: the PATH to
  //      search is the container's, even when the host has one that would work. `env` comes
  //      from a config.json, which may say anything twice: search the PATH runc would.
  //   2. Some commands name a file, others are names to look up: execvp(3) tells them apart
  //      from the text alone (think of "sh", "/bin/sh" and "./run.sh"). A PATH may hold
  //      entries that are empty or relative: what do they name, where does runc's search stop,
  //      and what does it do with a program it finds there?
  //   3. Where to look: execvp(3) (how it reads PATH), Go's exec.LookPath (os/exec/lp_unix.go,
  //      which runc calls) and "Finding the command" in the chapter text.
  throw new NotImplementedError('01-process', 'searchPath')
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
  // TODO(01): the PATH search, in the helper, and the verdict when it finds nothing.
  //   1. The helper execs exactly the path it is given; a failed exec leaves it alive and
  //      answering, a successful one leaves nothing to try. Which errors of execve mean "no
  //      program here, try the next", which mean "there is one, and it is broken", and does
  //      that depend on whether the name was searched or given as a path? Whatever file runs,
  //      what must the program see as its own name (argv[0])?
  //   2. runc looks at a file before it runs it; the helper only runs. Where the two must
  //      agree, how do you look without running, at the very file the container would get
  //      (an image's files are often symlinks)? And once runc has found a file, what is an
  //      exec of it that fails?
  //   3. The exit code is Docker's reading of runc's message (dockerExitCode), not a choice
  //      of yours.
  //   4. Where to look: execve(2) ERRORS, helper.exec's @throws, Go's exec.LookPath, runc's
  //      libcontainer/standard_init_linux.go, and "Finding the command" in the chapter text.
  throw new NotImplementedError('01-process', 'execCommand')
}
// #endregion execCommand

// #region startProcess
/**
 * The end of a container's start: the process's working directory as `docker run -w` gives it,
 * then the exec. A working directory Docker refuses is refused with a ContainerError.
 */
export async function startProcess(helper: Helper, process: Process): Promise<void> {
  // TODO(01): the working directory, then the exec.
  //   1. process.cwd is a path in the container: after chapter 03 the helper's "/" is not
  //      Node's. What if it does not exist, or only partly? What do "." and ".." in it name,
  //      and to whom: the kernel, or something that saw the path before runc?
  //   2. A failure to make or enter it already says which path and why: what should the
  //      caller see? And a cwd that is not absolute: whose error, with which number?
  //   3. Where to look: runc's libcontainer/rootfs_linux.go (prepareRootfs, what it does with
  //      the cwd), the working directory in moby's container/container.go, mkdir(2), chdir(2),
  //      path_resolution(7), and "The working directory" in the chapter text.
  throw new NotImplementedError('01-process', 'startProcess')
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
  // TODO(01): the whole life of one process, from the helper's start to the number to exit with.
  //   1. The helper's stdio becomes the program's, and prepare must find the helper before
  //      anything of this chapter has touched it.
  //   2. What must never happen: a helper left running when anything before the exec throws,
  //      not even for a moment after the error reaches the caller.
  //   3. Passing signals on (the doc comment is the contract). A signal can come at any
  //      moment: while prepare waits for a helper request, between two of them, while the exec
  //      is on its way, after the program runs, after it has exited. Before the exec, what is
  //      the helper, and what does the signal do to it, in this chapter and the next? After the exec, whose decision is the signal? prepare is not yours
  //      to interrupt: what happens to the request it is waiting for when the helper is gone,
  //      and who must see that failure (nobody unhandled)? Which process may you signal
  //      without any risk that its PID now names someone else?
  //   4. Where to look: the Helper class in native/helper.ts (how one starts, how it is ended,
  //      how you learn that it has ended, what `process` is), pid_namespaces(7) on signals to
  //      PID 1, the docker CLI's ForwardAllSignals (cli/command/container/signals.go) and
  //      runc's signal handler (signals.go), and "The whole life of a process" and "Passing
  //      signals on" in the chapter text.
  throw new NotImplementedError('01-process', 'runProcess')
}
// #endregion runProcess
