/**
 * The streaming commands besides `run`: `logs` and `exec`, in the docker CLI's requests
 * (cli/command/container/logs.go and exec.go).
 */
import type { Stdio } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Engine } from './engine.ts'
import { copyOutput } from './stdcopy.ts'
import { attachTerminal } from './run.ts'

/** What `inspect` tells the CLI before it streams: the full ID and whether there is a terminal. */
interface ContainerView {
  Id: string
  Config: { Tty: boolean }
}

// #region logs
/**
 * `logs [-f] [--tail N]`: inspect first (a container with a terminal has raw logs, one without
 * has frames), then stream the logs to stdout and stderr until the daemon ends them (at once
 * without -f; when the container exits with it).
 */
export async function logs(engine: Engine, ref: string, options: { follow: boolean; tail?: string }, stdio: Stdio): Promise<number> {
  // TODO(12): `docker logs` (cli/command/container/logs.go, the text's "Logs and exec").
  //   1. Which request comes first, and what do you need from its answer to read the logs right?
  //   2. Which query parameters carry -f and --tail, and what does the CLI send without --tail?
  throw new NotImplementedError('12-client', 'logs')
}
// #endregion logs

// #region exec
/**
 * `exec [-i] [-t] CONTAINER COMMAND...`: inspect, create the exec instance, start it on a
 * hijacked connection (stdin and half-close as in run), and exit with the ExitCode that
 * `GET /exec/ID/json` reports once the stream has ended.
 */
export async function exec(engine: Engine, ref: string, command: string[], options: { interactive: boolean; tty: boolean }, stdio: Stdio): Promise<number> {
  // TODO(12): `docker exec` (cli/command/container/exec.go, the text's "Logs and exec").
  //   1. Which three requests make an exec, in which order, and which of them is hijacked?
  //   2. How are stdin, the stream's end and a terminal handled, compared with run?
  //   3. The exec's exit code is not in the stream: where is it, and when may you ask for it?
  throw new NotImplementedError('12-client', 'exec')
}
// #endregion exec
