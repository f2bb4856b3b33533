/**
 * The OCI runtime, driven through runc's command line (reference: chapter 09, and runc's
 * go-runc package, which containerd's shim uses): `create`, `start`, `kill`, `ps`, `exec`,
 * `delete`. A shim runs several at once: a Kill while an Exec's runtime still runs, say.
 */
import type { StdioNull, StdioPipe } from 'node:child_process'
import { runtimePids } from '../../lib/shim.ts'
import type { ProcessPipes } from './stdio.ts'
import { NotImplementedError } from '../../lib/errors.ts'

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
    //      (this.root) and writes down why it failed? go-runc's runc.go builds the command line
    //      (its args and each command's options); chapter 09 watched what the real shim sends.
    //   2. For create and exec, the pipes outlive the runtime: they are the container's. Which of
    //      Node's objects own them while the runtime runs, and what may the owner still do with
    //      them once the runtime is gone (Node's lib/internal/child_process.js)?
    //   3. A failure says why, in the runtime's own words when it wrote any (lib/shim.ts reads a
    //      runtime's log), and the code says what containerd will make of it: which of the
    //      runtime's words mean the container or process is gone (errdefs; runc's shim,
    //      process/utils.go)? A failed run leaves no pipe open.
    //   4. The shim runs the runtime again and again for one container, sometimes two at once,
    //      and a run can fail without writing a word: what does such a failure report then?
    //   5. A runtime that is not installed is an error that names it, not a crash.
    throw new NotImplementedError('10-shim', 'run')
  }
  // #endregion run

  /** Output of `ps --format json ID`: the container's PIDs as the host sees them. */
  ps(id: string): Promise<number[]> {
    return runtimePids(this, id)
  }
}
