/**
 * Chapter 12's given words for a failed `docker run` (the CLI's run.go,
 * runStartContainerErr; docker run's reference documents the exit codes).
 */
import { ContainerError } from './errors.ts'

// #region runError
/**
 * A failed `run` as the CLI reports it: its name, the error, a pointer to the help, and the
 * exit code that says whose fault it was: 127 when the command was not found, 126 when it
 * could not be run, 125 for everything else, told apart by the daemon's words alone.
 */
export function runError(error: unknown): ContainerError {
  const message = error instanceof Error ? error.message : String(error)
  const code = /executable file not found|no such file or directory/.test(message) ? 127 : /permission denied/.test(message) ? 126 : 125
  return new ContainerError(`minidocker: ${message}\n\nRun 'minidocker run --help' for more information`, code)
}
// #endregion runError
