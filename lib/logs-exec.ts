/**
 * Chapter 12's given streaming commands besides `run`: `logs` and `exec`, in the docker CLI's
 * requests (cli/command/container/logs.go and exec.go), on the Engine and the chapter's
 * copyOutput and streamHijacked (an exec's streams come on a hijacked connection, as run's do).
 */
import type { Engine } from './engine-client.ts'
import type { Stdio } from './client.ts'
import { copyOutput } from '#ch/12-client/stdcopy.ts'
import { streamHijacked } from '#ch/12-client/hijack.ts'

// #region logs
/** What the CLI reads from `inspect` before it streams. */
interface ContainerView {
  Id: string
  Config: { Tty: boolean }
}

/**
 * `logs [-f] [--tail N]`: the container's log on stdout and stderr, each line on the side it
 * was written to, until the daemon ends it (at once without -f; when the container exits
 * with it). `--tail N` shows the last N lines only.
 */
export async function logs(engine: Engine, ref: string, options: { follow: boolean; tail?: string }, stdio: Stdio): Promise<number> {
  const c = await engine.json<ContainerView>('GET', `/containers/${ref}/json`)
  const response = await engine.call('GET', `/containers/${c.Id}/logs`, {
    query: { stdout: '1', stderr: '1', tail: options.tail ?? 'all', follow: options.follow ? '1' : undefined },
  })
  await copyOutput(response, stdio, c.Config.Tty)
  return 0
}
// #endregion logs

// #region exec
/**
 * `exec [-i] [-t] CONTAINER COMMAND...`: COMMAND run in the running container, its output on
 * the client's stdout and stderr, with -i the client's stdin to it (its end passed on as in
 * run), with -t a terminal; the client exits with the command's exit code.
 */
export async function exec(engine: Engine, ref: string, command: string[], options: { interactive: boolean; tty: boolean }, stdio: Stdio): Promise<number> {
  await engine.json<ContainerView>('GET', `/containers/${ref}/json`)
  const { Id } = await engine.json<{ Id: string }>('POST', `/containers/${ref}/exec`, {
    body: { User: '', Privileged: false, Tty: options.tty, AttachStdin: options.interactive, AttachStderr: true, AttachStdout: true, Detach: false, DetachKeys: '', Env: null, WorkingDir: '', Cmd: command },
  })
  const socket = await engine.upgrade(`/exec/${Id}/start`, { body: { Detach: false, Tty: options.tty } })
  // no detach keys: they are run's alone here
  const streams = streamHijacked(engine, socket, stdio, { tty: options.tty, interactive: options.interactive, resizePath: `/exec/${Id}/resize` })
  streams.resize() // the exec's process runs once its start has answered
  try {
    await streams.done
  } finally {
    streams.release()
    socket.destroy() // the streams leave the connection to their caller
  }
  const result = await engine.json<{ ExitCode: number | null }>('GET', `/exec/${Id}/json`)
  return result.ExitCode ?? 0
}
// #endregion exec
