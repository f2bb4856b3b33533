/**
 * `docker run` as the docker CLI makes it: the requests in its order (cli/command/container
 * run.go and create.go), the pull when the image is missing, the attached streams, the
 * terminal, the signals, and the exit code.
 */
import type { Socket } from 'node:net'
import { execFileSync } from 'node:child_process'
import { constants } from 'node:os'
import { ContainerError } from '../../lib/errors.ts'
import { AttachError, pullQuery, readAll, type RunPlan, type Stdio } from '../../lib/client.ts'
import type { JSONMessage, ProgressSink } from '../../lib/jsonmessage.ts'
import { DEFAULT_DETACH_KEYS, escapeProxy, parseDetachKeys } from './detach.ts'
import { DaemonError, type Engine } from './engine.ts'
import { copyOutput } from './stdcopy.ts'

// #region pullImage
/**
 * `image` pulled by the daemon, its progress streamed back as JSON messages, one per line,
 * each handed to `progress` as it comes. An error before the stream is a DaemonError (call()
 * makes it); one in the stream (`errorDetail`) ends the pull with its message.
 */
export async function pullImage(engine: Engine, image: string, progress: ProgressSink): Promise<void> {
  const { fromImage, tag } = pullQuery(image)
  const response = await engine.call('POST', '/images/create', { query: { fromImage, tag }, headers: { 'X-Registry-Auth': 'e30=' } }) // base64 of {}: no credentials
  let rest = ''
  for await (const chunk of response) {
    rest += chunk
    const lines = rest.split('\n')
    rest = lines.pop()!
    for (const line of lines) {
      if (!line.trim()) continue
      const message = JSON.parse(line) as JSONMessage
      if (message.errorDetail || message.error) throw new ContainerError(message.errorDetail?.message ?? message.error!, 1)
      progress(message)
    }
  }
}
// #endregion pullImage

// #region createContainer
/**
 * The container `plan` describes, created. An image the daemon lacks is pulled first, as the
 * CLI pulls it: announced on stderr in the CLI's words, its progress on stderr too. Any other
 * failure is the caller's, as the daemon gave it. Returns the container's ID.
 */
export async function createContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<string> {
  const create = async () => (await engine.json<{ Id: string }>('POST', '/containers/create', { query: { name: plan.name }, body: plan.config })).Id
  try {
    return await create()
  } catch (error) {
    if (!(error instanceof DaemonError && error.status === 404)) throw error // any not-found, as create.go has it: a missing network too
  }
  stdio.stderr.write(`Unable to find image '${pullQuery(plan.image).familiar}' locally\n`)
  await pullImage(engine, plan.image, progress)
  return create()
}
// #endregion createContainer

// #region runError
/**
 * A failed `run` as the CLI reports it: its name, the error, a pointer to the help, and the
 * exit code that says whose fault it was (docker run's reference documents them).
 */
export function runError(error: unknown): ContainerError {
  const message = error instanceof Error ? error.message : String(error)
  const code = /executable file not found|no such file or directory/.test(message) ? 127 : /permission denied/.test(message) ? 126 : 125
  return new ContainerError(`minidocker: ${message}\n\nRun 'minidocker run --help' for more information`, code)
}
// #endregion runError

// #region rawTerminal
/** moby/term's MakeRaw (termios_linux.go) in stty's words: no echo, no line editing, no signals from keys, no output processing. */
const MAKE_RAW = ['-ignbrk', '-brkint', '-parmrk', '-istrip', '-inlcr', '-igncr', '-icrnl', '-ixon', '-opost', '-echo', '-echonl', '-icanon', '-isig', '-iexten', '-parenb', 'cs8', 'min', '1', 'time', '0']

/**
 * The terminal at `stdin` made raw as the CLI makes it (moby/term's MakeRaw). Returns the
 * restore: the terminal's settings from before, put back once, however many ways out call it,
 * process.exit() included.
 */
export function rawTerminal(stdin: Stdio['stdin']): () => void {
  const stty = (args: string[]) => execFileSync('stty', args, { stdio: [stdin.fd ?? 0, 'pipe', 'pipe'] }).toString().trim()
  const saved = stty(['-g'])
  let restored = false
  const restore = () => {
    if (restored) return
    restored = true
    process.off('exit', restore)
    stty([saved])
  }
  process.on('exit', restore)
  stty(MAKE_RAW)
  return restore
}
// #endregion rawTerminal

// #region attachTerminal
/**
 * With -t at a terminal: the client's terminal lent to the container, with -i (`raw`) its
 * keys too, each as it is typed, ^C and ^D included. resize() gives the pty behind
 * `resizePath` (a container's or an exec's) the client's size, now and whenever it changes.
 * restore() undoes all attachTerminal did.
 */
export function attachTerminal(engine: Engine, resizePath: string, stdio: Stdio, raw: boolean): { resize(): void; restore(): void } {
  const resize = () => {
    const { rows, columns } = stdio.stdout
    if (rows && columns) engine.call('POST', resizePath, { query: { h: String(rows), w: String(columns) } }).then((r) => r.resume(), () => {})
  }
  const restoreMode = raw && stdio.stdin.isTTY === true ? rawTerminal(stdio.stdin) : () => {}
  process.on('SIGWINCH', resize)
  const restore = () => {
    restoreMode()
    process.off('SIGWINCH', resize)
  }
  return { resize, restore }
}
// #endregion attachTerminal

// #region proxySignals
/** The signals a client can catch and pass on (SIGKILL and SIGSTOP cannot be caught; SIGCHLD, SIGPIPE, SIGWINCH are the client's own). */
const PROXIED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const

/**
 * --sig-proxy (docker run's reference): the signals the client receives go to the container,
 * and the client goes on to report the container's exit. Returns the function that stops
 * proxying.
 */
export function proxySignals(engine: Engine, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((signal) => {
    const handler = () => void engine.call('POST', `/containers/${id}/kill`, { query: { signal: String(constants.signals[signal]) } }).then((r) => r.resume(), () => {})
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return () => handlers.forEach(([signal, handler]) => process.off(signal, handler))
}
// #endregion proxySignals

/** A line of the CLI's log (logrus's text format, as on a pipe and a terminal alike here). */
const logLine = (level: string, message: string) => `time="${new Date().toISOString().replace(/\.\d+/, '')}" level=${level} msg="${message}"\n`

/**
 * The bytes of --detach-keys for the client's own proxy. The daemon has checked them already
 * (it refuses the attach for keys it cannot read); one that let them through gets the CLI's
 * warning, and the default keys are watched for instead (hijack.go, setupInput).
 */
function detachKeys(keys: string | undefined, stdio: Stdio): Buffer {
  try {
    return parseDetachKeys(keys || DEFAULT_DETACH_KEYS)
  } catch (error) {
    stdio.stderr.write(logLine('warning', `invalid detach escape keys, using default: ${(error as Error).message}`))
    return parseDetachKeys(DEFAULT_DETACH_KEYS)
  }
}

// #region runContainer
/**
 * The whole `run`: the container created (its image pulled if missing), its output on the
 * client's stdout and stderr from the first byte, and the exit code the daemon reports for
 * it. No output may be lost, not even a first line written at once; a container that exits
 * at once (and with --rm is removed at once) must still be seen to exit. With -i the
 * container reads the client's stdin to its end; without, a stdin that is empty and over;
 * either way the output still comes. -d prints the ID once the container runs.
 * With -it, the detach keys typed leave the container running and the client exits 0.
 */
export async function runContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink): Promise<number> {
  const id = await createContainer(engine, plan, stdio, progress)
  const condition = plan.autoRemove ? 'removed' : 'next-exit'
  let attached: Socket | undefined
  if (!plan.detach) {
    const query = { stream: '1', stdout: '1', stderr: '1', stdin: plan.interactive ? '1' : undefined, detachKeys: plan.detachKeys || undefined }
    attached = await engine.upgrade(`/containers/${id}/attach`, { query }).catch((error) => {
      throw error instanceof ContainerError ? new AttachError(error.message) : error
    })
  }
  const output = attached && copyOutput(attached, stdio, plan.tty)
  // the terminal goes raw once the attach has answered (a refused one leaves it as it was), and
  // before stdin is read: in cooked mode a ^D would end it
  const terminal = attached && plan.tty ? attachTerminal(engine, `/containers/${id}/resize`, stdio, plan.interactive) : undefined
  // the terminal comes back as soon as the output ends, before anything else is printed
  output?.finally(() => terminal?.restore()).catch(() => {})
  let detached: Promise<'detached'> | undefined
  if (attached && plan.interactive && plan.tty) {
    const keys = detachKeys(plan.detachKeys, stdio)
    detached = new Promise((resolve) => stdio.stdin.pipe(escapeProxy(keys, () => resolve('detached'))).pipe(attached!)) // the detach ends nothing: the connection is dropped, not half-closed
  } else if (attached && plan.interactive) stdio.stdin.pipe(attached) // ends (half-closes) the socket at the end of stdin
  else attached?.end()
  const waiting = await engine.call('POST', `/containers/${id}/wait`, { query: { condition } })
  const status = readAll(waiting).then((text) => JSON.parse(text) as { StatusCode: number; Error: { Message: string } | null })
  // the wait's answer may come before start's, before the output's end, or never: a failed one is
  // told as it comes (the CLI's waitExitOrRemoved logs from a goroutine of its own) and ends the
  // run with 125, but only once the output has ended; one the client drops itself is no failure
  let dropped = false
  const waitFailed = (message: string) => (stdio.stderr.write(logLine('error', message)), 125)
  const exitCode = status.then(
    (result) => (result.Error?.Message ? waitFailed(`Error waiting for container: ${result.Error.Message}`) : result.StatusCode),
    () => (dropped ? 125 : waitFailed('error waiting for container: unexpected EOF')),
  )
  // all are awaited later; until then a failure must not count as unhandled
  status.catch(() => {})
  output?.catch(() => {})
  const cleanups: (() => void)[] = terminal ? [terminal.restore] : []
  // before start, as the CLI does: a signal that comes with the first output must find the proxy.
  // With -t too: a SIGTERM or SIGHUP to the client goes to the container, and the client lives on
  if (attached && plan.sigProxy) cleanups.push(proxySignals(engine, id))
  try {
    try {
      await engine.json('POST', `/containers/${id}/start`)
    } catch (error) {
      // the container may run all the same (a start refused once it had begun): with --rm the CLI
      // waits for the daemon to remove it, its output copied to the end; without, nothing may hold
      // the client open
      if (plan.autoRemove) await Promise.all([exitCode, output?.catch(() => {})])
      else dropped = true
      attached?.destroy()
      terminal?.restore() // before the error is printed
      throw error
    }
    if (plan.detach) {
      dropped = true
      waiting.destroy() // the CLI drops the wait once the container runs
      stdio.stdout.write(`${id}\n`)
      return 0
    }
    terminal?.resize()
    // an attach the daemon cuts (reset, not ended) is an end of the output like any other
    if (detached && (await Promise.race([output!.then(() => 'ended', () => 'ended'), detached])) === 'detached') {
      dropped = true
      attached!.destroy()
      waiting.destroy()
      return 0 // the container runs on; the CLI says nothing
    }
    // the output to its end first, whichever came first: its end is not the container's exit (a
    // daemon may close the attach while the container runs on), nor is the wait's answer its end
    await output?.catch(() => {})
    terminal?.restore()
    return await exitCode
  } finally {
    for (const cleanup of cleanups) cleanup()
    if (plan.interactive) {
      stdio.stdin.unpipe()
      if ('pause' in stdio.stdin) stdio.stdin.pause()
    }
  }
}
// #endregion runContainer
