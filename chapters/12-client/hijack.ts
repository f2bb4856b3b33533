/**
 * The client's side of a hijacked connection: the container's output out of it, the client's
 * stdin into it, the terminal lent for as long as it streams, its size kept, and the detach
 * keys watched on the way in (the CLI's hijack.go, hijackedIOStreamer, which run, exec and
 * attach share, and tty.go, MonitorTtySize). The output's copy is this chapter's (copyOutput,
 * stdcopy.ts); raw mode (lib/terminal.ts), the detach keys' names and proxy
 * (lib/detach-keys.ts) and docker's words and retries (lib/cli-facts.ts) are given.
 */
import type { Socket } from 'node:net'
import type { Stdio } from '../../lib/client.ts'
import type { EngineClient } from '../../lib/engine-client.ts'
import { NotImplementedError } from '../../lib/errors.ts'

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
 * end, without it none; with `tty` the client's terminal lent, its size for the pty behind
 * `resizePath`; with `detach` (the --detach-keys words, '' for the default) the keys watched
 * for on the way in. Streams that end or detach leave the connection to the caller to drop;
 * a copy that fails lets go of it itself (copyOutput). run and the given exec
 * (lib/logs-exec.ts) both stream through it.
 */
export function streamHijacked(engine: EngineClient, socket: Socket, stdio: Stdio, options: { tty: boolean; interactive: boolean; resizePath: string; detach?: string }): Streams {
  // TODO(12): the streams of one hijacked connection (the text's "One connection, three
  //   streams"; the CLI's hijack.go: setupInput, beginOutputStream, beginInputStream, stream).
  //   1. One socket carries both ways. How does the daemon learn that no more stdin will come,
  //      with -i at stdin's end and without -i at all, while the output still comes back on the
  //      same socket? And how does that differ from the user typing the detach keys?
  //   2. The terminal: when may it be raw, for which combinations of -i and -t, and by which
  //      moment must it be as it was (who prints what next, and with which line ends)?
  //   3. The detach keys: with which flags are they watched? Words the given parser refuses but
  //      the daemon let through get docker's warning (invalidDetachKeys, lib/cli-facts.ts).
  //   4. Two callers: run races the end against its wait, its start and its signals; exec
  //      only waits. What must `done` tell each of them?
  //   5. The container may read its stdin slower than the client is given it, or not at all:
  //      how much of stdin may your client hold meanwhile, and where does the rest wait?
  //   6. The size (resize()): the first request goes as the start answers, perhaps before the
  //      daemon has a process to give it to (docker tries it again: FIRST_RESIZE,
  //      lib/cli-facts.ts); the window may change many times while one is unanswered; and a
  //      daemon may apply two that are out at once in either order. Which sizes must go out, and
  //      when, for the pty to end at the window's last size? What must release stop?
  throw new NotImplementedError('12-client', 'streamHijacked')
}
// #endregion streamHijacked
