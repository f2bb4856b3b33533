/**
 * The streaming commands besides `run`: `logs` and `exec`, in the docker CLI's requests
 * (cli/command/container/logs.go and exec.go).
 */
import type { Stdio } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Engine } from './engine.ts'
import { copyOutput } from './stdcopy.ts'
import { attachTerminal } from './run.ts'

// #region logs
/**
 * `logs [-f] [--tail N]`: the container's log on stdout and stderr, each line on the side it
 * was written to, until the daemon ends it (at once without -f; when the container exits
 * with it). `--tail N` shows the last N lines only.
 */
export async function logs(engine: Engine, ref: string, options: { follow: boolean; tail?: string }, stdio: Stdio): Promise<number> {
  // TODO(12): `docker logs` (the text's "Logs and exec"; the CLI's logs.go, runLogs).
  //   1. A log is the pty's bytes for a container with a terminal and frames for one without:
  //      what must be known before the logs are asked for? REF may be a name or a short ID.
  //   2. -f and --tail go in the query, spelled as the CLI spells them: record what the real
  //      docker logs sends with and without them.
  throw new NotImplementedError('12-client', 'logs')
}
// #endregion logs

// #region exec
/**
 * `exec [-i] [-t] CONTAINER COMMAND...`: COMMAND run in the running container, its output on
 * the client's stdout and stderr, with -i the client's stdin to it (its end passed on as in
 * run), with -t a terminal; the client exits with the command's exit code.
 */
export async function exec(engine: Engine, ref: string, command: string[], options: { interactive: boolean; tty: boolean }, stdio: Stdio): Promise<number> {
  // TODO(12): `docker exec` (the text's "Logs and exec"; the CLI's exec.go, RunExec and
  //   interactiveExec; chapter 11's text for what the daemon does with each request).
  //   1. What must the daemon hold before a command can start in a running container, and on
  //      which kind of connection does the command's output come? Record docker exec's
  //      requests and their bodies: the tests compare yours with docker's, field for field.
  //   2. stdin, its end and the terminal work as in run, but the size goes to the exec's pty.
  //   3. The stream does not carry the exit code: who holds it, and from when?
  //   4. As run (the text's "Letting go"): once exec settles, nothing of it reads stdin or
  //      listens on process, whether the command ended or the stream failed.
  throw new NotImplementedError('12-client', 'exec')
}
// #endregion exec
