/**
 * The OCI runtime, driven through runc's command line (reference: chapter 09, and runc's
 * go-runc package, which containerd's shim uses): `create`, `start`, `kill`, `ps`, `exec`,
 * `delete`.
 */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Code, RpcError } from '../../lib/containerd-proto.ts'
import type { ProcessPipes } from './stdio.ts'

// #region lastError
/**
 * The message of the last `"level":"error"` line of a runtime's JSON log (runc writes one JSON
 * object per line: level, msg, time), or undefined when there is none.
 */
export function lastError(log: string): string | undefined {
  let found: string | undefined
  for (const line of log.split('\n')) {
    try {
      const entry = JSON.parse(line)
      if (entry.level === 'error' && typeof entry.msg === 'string') found = entry.msg
    } catch {
      // not JSON: a runtime may print other lines there (a panic, a warning)
    }
  }
  return found
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
   * it exits 0; otherwise rejects with an RpcError whose message is the last error this run
   * added to the log (or its stderr, or how it ended) and whose code is NotFound when the runtime says the container or
   * process is gone (containerd matches those words), Unknown otherwise.
   */
  run(args: string[], stdio: [StdioPipe | StdioNull, StdioPipe | StdioNull, StdioPipe | StdioNull] = ['ignore', 'ignore', 'pipe']): Promise<ProcessPipes> {
    const log = join(this.bundle, 'log.json')
    // The log is the bundle's, written by every run since the container was created: this
    // run's reason, if it gave one, is after what the log held when it started.
    let before = 0
    try {
      before = statSync(log).size
    } catch {}
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
        if (code === 0) return resolve(pipes)
        for (const pipe of Object.values(pipes)) pipe?.destroy()
        let text = ''
        try {
          text = readFileSync(log).subarray(before).toString('utf8')
        } catch {}
        const why = lastError(text) ?? (Buffer.concat(stderr).toString().trim() || (signal ? `killed by ${signal}` : `exit status ${code}`))
        const gone = /does not exist|not running|no such process|process already finished/.test(why)
        reject(new RpcError(gone ? Code.NotFound : Code.Unknown, why))
      })
    })
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
