/**
 * The OCI runtime, driven through runc's command line (reference: chapter 09, and runc's
 * go-runc package, which containerd's shim uses): `create`, `start`, `kill`, `ps`, `exec`,
 * `delete`. A shim runs several at once: a Kill while an Exec's runtime still runs, say.
 */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import { lastError, runtimePids } from '../../lib/shim.ts'
import type { ProcessPipes } from './stdio.ts'

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
    // A log of this run's own: runs overlap (a Kill during an Exec), and a log they shared
    // would hold the other's reason, or an earlier run's, when this one fails without a word.
    const log = join(this.bundle, `log-${randomBytes(6).toString('hex')}.json`)
    const child = spawn(this.binary, ['--root', this.root, '--log', log, '--log-format', 'json', ...args], { cwd: this.bundle, stdio })
    // The pipes are the container's, not the runtime's: taken from the ChildProcess at once,
    // or Node destroys stdin and drains unread output when the runtime exits.
    const pipes: ProcessPipes = { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr }
    const stderr: Buffer[] = []
    if (args[0] === 'create' || args[0] === 'exec') {
      child.stdin = child.stdout = child.stderr = null
      child.stdio.fill(null, 0, 3)
    } else child.stderr?.on('data', (b: Buffer) => stderr.push(b))
    return new Promise((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(new RpcError(Code.Unknown, error.code === 'ENOENT'
          ? `the OCI runtime ${this.binary} was not found on the PATH (MINIDOCKER_SHIM_RUNTIME names another, e.g. runc)`
          : `${this.binary} ${args[0]}: ${error.message}`)))
      child.once('exit', (code, signal) => {
        let text = ''
        try {
          text = readFileSync(log, 'utf8')
        } catch {}
        rmSync(log, { force: true })
        if (code === 0) return resolve(pipes)
        for (const pipe of Object.values(pipes)) pipe?.destroy()
        const why = lastError(text) ?? (Buffer.concat(stderr).toString().trim() || (signal ? `killed by ${signal}` : `exit status ${code}`))
        const gone = /does not exist|not running|no such process|process already finished/.test(why)
        reject(new RpcError(gone ? Code.NotFound : Code.Unknown, why))
      })
    })
  }
  // #endregion run

  /** Output of `ps --format json ID`: the container's PIDs as the host sees them. */
  ps(id: string): Promise<number[]> {
    return runtimePids(this, id)
  }
}
