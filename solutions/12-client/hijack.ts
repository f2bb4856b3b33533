/**
 * The client's side of a hijacked connection: the container's output out of it, the client's
 * stdin into it, the terminal lent for as long as it streams, its size kept, and the detach
 * keys watched on the way in (the CLI's hijack.go, hijackedIOStreamer, which run, exec and
 * attach share, and tty.go, MonitorTtySize). The output's copy is this chapter's (copyOutput,
 * stdcopy.ts); raw mode (lib/terminal.ts), the detach keys' names and proxy
 * (lib/detach-keys.ts) and docker's words and retries (lib/cli-facts.ts) are given.
 */
import type { Socket } from 'node:net'
import { finished } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { FIRST_RESIZE, invalidDetachKeys } from '../../lib/cli-facts.ts'
import type { Stdio } from '../../lib/client.ts'
import { DEFAULT_DETACH_KEYS, escapeProxy, parseDetachKeys } from '../../lib/detach-keys.ts'
import type { EngineClient } from '../../lib/engine-client.ts'
import { rawTerminal } from '../../lib/terminal.ts'
import { copyOutput } from './stdcopy.ts'

/**
 * The bytes of --detach-keys for the client's own proxy. The daemon has checked them already
 * (it refuses the attach for keys it cannot read); one that let them through gets the CLI's
 * warning, and the default keys are watched for instead (hijack.go, setupInput).
 */
function detachKeys(keys: string, stdio: Stdio): Buffer {
  try {
    return parseDetachKeys(keys || DEFAULT_DETACH_KEYS)
  } catch (error) {
    stdio.stderr.write(invalidDetachKeys((error as Error).message))
    return parseDetachKeys(DEFAULT_DETACH_KEYS)
  }
}

/**
 * The pty behind `path` kept at the client's size, as the CLI's tty.go keeps it: follow() sends
 * the size now and at every SIGWINCH; stop() ends that and cuts what is in flight (the Engine is
 * the caller's, and a held request would hold the process).
 */
function sizeKeeper(engine: EngineClient, path: string, stdio: Stdio): { follow(): void; stop(): void } {
  const stopping = new AbortController()
  const { signal } = stopping
  // the size as it is when the request goes out, not when it was asked for
  const send = async () => {
    const { rows, columns } = stdio.stdout
    if (!rows && !columns) return
    const response = await engine.call('POST', path, { query: { h: String(rows), w: String(columns) }, signal })
    await finished(response.resume())
  }
  // the first goes as the start answers, and the process may not be there yet: initTtySize
  // tries again, each wait longer, and then says so
  const first = async () => {
    for (let tries = 1; ; tries++) {
      try {
        return await send()
      } catch {}
      if (signal.aborted) return
      if (tries > FIRST_RESIZE.tries) return void stdio.stderr.write(FIRST_RESIZE.words)
      await sleep(tries * FIRST_RESIZE.stepMs, undefined, { signal })
    }
  }
  // one at a time, as MonitorTtySize's one goroutine sends them: two out at once may reach the
  // pty in either order. Changes meanwhile make one more, with the size it has then
  let sending = false
  let again = false
  const serially = (job: () => Promise<void>) => {
    if (signal.aborted) return
    if (sending) return void (again = true)
    sending = true
    job().catch(() => {}).finally(() => {
      sending = false
      if (!again) return
      again = false
      serially(send)
    })
  }
  const changed = () => serially(send)
  return {
    follow: () => {
      process.on('SIGWINCH', changed)
      serially(first)
    },
    stop: () => {
      stopping.abort()
      process.off('SIGWINCH', changed)
    },
  }
}

/** What streamHijacked hands its caller. */
export interface Streams {
  /** 'ended' once the output has ended (rejected with the copy's own error), or 'detached' once the detach keys were typed. */
  done: Promise<'ended' | 'detached'>
  /** Once the process runs (its start answered): the pty's size to the daemon, now and whenever the client's changes, until release (nothing without a terminal). */
  resize(): void
  /** Gives back all the streaming took from the process; any number of times, on every way out. */
  release(): void
}

// #region streamHijacked
/**
 * Stream the hijacked connection `socket` as the CLI streams one: its output on the client's
 * stdout and stderr from the first byte; with `interactive` the client's stdin into it to its
 * end, without it none; with `tty` the client's terminal lent (raw only when its keys go in),
 * its size for the pty behind `resizePath`; with `detach` (the --detach-keys words, '' for the
 * default) and both -i and -t, the keys watched for on the way in. Streams that end or detach
 * leave the connection to the caller to drop; a copy that fails lets go of it itself
 * (copyOutput).
 */
export function streamHijacked(engine: EngineClient, socket: Socket, stdio: Stdio, options: { tty: boolean; interactive: boolean; resizePath: string; detach?: string }): Streams {
  const output = copyOutput(socket, stdio, options.tty)
  // raw only while keys go in: now, with the connection hijacked (a refused attach left the
  // terminal as it was), and before stdin is read: in cooked mode a ^D would end it
  const restore = options.tty && options.interactive && stdio.stdin.isTTY ? rawTerminal(stdio.stdin) : undefined
  const size = options.tty ? sizeKeeper(engine, options.resizePath, stdio) : undefined
  // the terminal comes back as soon as the output ends, before anything else is printed
  output.finally(() => restore?.()).catch(() => {})
  let detached: Promise<'detached'> | undefined
  if (options.interactive && options.tty && options.detach !== undefined) {
    const keys = detachKeys(options.detach, stdio)
    // the detach ends nothing: the connection is the caller's to drop, not half-closed
    detached = new Promise((resolve) => stdio.stdin.pipe(escapeProxy(keys, () => resolve('detached'))).pipe(socket))
  } else if (options.interactive) stdio.stdin.pipe(socket) // ends (half-closes) the socket at the end of stdin
  else socket.end() // nothing to send: the daemon hears at once that no stdin comes
  const ended = output.then(() => 'ended' as const)
  const done = detached ? Promise.race([ended, detached]) : ended
  // the caller may await it late (run awaits its wait and start first): a copy that fails
  // meanwhile must not count as unhandled
  done.catch(() => {})
  return {
    done,
    resize: () => size?.follow(),
    release: () => {
      restore?.()
      size?.stop()
      if (options.interactive) {
        stdio.stdin.unpipe()
        if ('pause' in stdio.stdin) stdio.stdin.pause()
      }
    },
  }
}
// #endregion streamHijacked
