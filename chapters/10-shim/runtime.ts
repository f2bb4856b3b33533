/**
 * The OCI runtime, driven through runc's command line (reference: chapter 09, and runc's
 * go-runc package, which containerd's shim uses): `create`, `start`, `kill`, `ps`, `exec`,
 * `delete`, each with the global `--root`, `--log` and `--log-format json` flags. A runtime
 * tells what went wrong in its JSON log, not on stderr.
 */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import type { ProcessPipes } from './stdio.ts'
import { NotImplementedError } from '../../lib/errors.ts'

// #region lastError
/**
 * The message of the last `"level":"error"` line of a runtime's JSON log (runc writes one JSON
 * object per line: level, msg, time), or undefined when there is none.
 */
export function lastError(log: string): string | undefined {
  // TODO(10): find what the runtime said went wrong.
  //   1. runc writes one JSON object per line to --log: level, msg, time. The last line whose
  //      level is error is the one containerd reports.
  //   2. A line that is not JSON (a panic, a warning) is skipped, not fatal.
  //   3. Where to look: go-runc's runc.go (the log it reads back), the reference note on the
  //      runtime CLI (Errors).
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
   * Run the runtime with its global flags and `args`, from the bundle directory. Resolves when
   * it exits 0; otherwise rejects with an RpcError whose message is the log's last error (or
   * the exit status) and whose code is NotFound when the runtime says the container or
   * process is gone (containerd matches those words), Unknown otherwise.
   */
  run(args: string[], stdio: [StdioPipe | StdioNull, StdioPipe | StdioNull, StdioPipe | StdioNull] = ['ignore', 'ignore', 'pipe']): Promise<ProcessPipes> {
    // TODO(10): run the runtime once, as containerd's runc shim does through go-runc.
    //   1. Global flags first: --root, --log bundle/log.json, --log-format json; the working
    //      directory is the bundle. `stdio` says which of stdin, stdout, stderr are pipes.
    //   2. For create and exec, the pipes are the container's: take them from the child process at
    //      once, so Node neither destroys stdin nor drains unread output when the runtime exits
    //      (read child_process's flushStdio to see why). For other commands, keep stderr for the
    //      error message.
    //   3. Exit 0 resolves with the pipes. Otherwise reject with an RpcError: the message is the
    //      log's last error (else stderr, else the exit status); the code is NotFound when the
    //      message says the container or process is gone (does not exist, not running, no such
    //      process, process already finished: the words containerd matches), Unknown otherwise.
    //      A failed run leaves no pipe open.
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
