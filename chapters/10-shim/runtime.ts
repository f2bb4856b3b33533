/**
 * The OCI runtime, driven through runc's command line (reference: chapter 09, and runc's
 * go-runc package, which containerd's shim uses): `create`, `start`, `kill`, `ps`, `exec`,
 * `delete`.
 */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import type { ProcessPipes } from './stdio.ts'
import { NotImplementedError } from '../../lib/errors.ts'

// #region lastError
/** What the runtime's JSON log says went wrong, or undefined when it says nothing went wrong. */
export function lastError(log: string): string | undefined {
  // TODO(10): the runtime's reason, as containerd would show it.
  //   1. What does runc write to its --log with --log-format json, line by line, and when? A log
  //      may hold several errors: which one does containerd show the user, and why that one?
  //   2. A runtime may also write lines that are not JSON (a panic, a warning): they must not
  //      hide the reason.
  //   3. Where to look: go-runc's runc.go (the log it reads back after a failure); the text's
  //      "The runtime's command line".
  throw new NotImplementedError('10-shim', 'lastError')
}
// #endregion lastError

export class Runtime {
  constructor(
    /** the runtime's executable: minirunc, runc, a path */
    readonly binary: string,
    /** its state directory (--root) */
    readonly root: string,
    readonly bundle: string,
  ) {}

  // #region run
  /**
   * Run the runtime once with `args`, from the bundle directory. Resolves, when it succeeds,
   * with the process's pipes (those `stdio` asks for); rejects with an RpcError that says why.
   */
  run(args: string[], stdio: [StdioPipe | StdioNull, StdioPipe | StdioNull, StdioPipe | StdioNull] = ['ignore', 'ignore', 'pipe']): Promise<ProcessPipes> {
    // TODO(10): run the runtime once, as containerd's runc shim does through go-runc.
    //   1. Which global flags does every command need, so that the runtime finds its containers
    //      (this.root) and tells you why it failed (a log in the bundle that lastError can read)?
    //      Chapter 09's text, "The real thing", has the command line; go-runc's runc.go builds it.
    //   2. For create and exec, the pipes outlive the runtime: they are the container's. What does
    //      Node's child_process do to a child's stdio when the child exits (its flushStdio), and
    //      how do you keep it from doing that to the container's?
    //   3. A failure says why: the runtime's own reason if this run gave one, else what it printed,
    //      else how it ended. The log is not this run's alone: what can it hold already? containerd reads meaning from words (errdefs): when the runtime says the
    //      container or process is gone, the code must say NotFound (the text lists the words);
    //      anything else is Unknown. A failed run leaves no pipe open.
    //   4. A runtime that is not installed is an error that names it, not a crash.
    throw new NotImplementedError('10-shim', 'run')
  }
  // #endregion run

  /** Output of `ps --format json ID`: the container's PIDs as the host sees them. */
  async ps(id: string): Promise<number[]> {
    const child = spawn(this.binary, ['--root', this.root, 'ps', '--format', 'json', id], { cwd: this.bundle, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    if (code !== 0) throw new RpcError(Code.NotFound, `${this.binary} ps ${id}: exit status ${code}`)
    return JSON.parse(Buffer.concat(out).toString() || '[]')
  }
}
