/**
 * Chapter 12's given terminal handling for `-t`: raw mode as moby/term's MakeRaw sets it
 * (termios_linux.go), and the client's terminal lent to a container or an exec, its size
 * passed on now and at every SIGWINCH (the CLI's hijack.go, setRawTerminal and
 * restoreTerminal, and tty.go, MonitorTtySize).
 */
import { execFileSync } from 'node:child_process'
import { finished } from 'node:stream/promises'
import type { Stdio } from './client.ts'
import type { EngineClient } from './engine-client.ts'

// #region rawTerminal
/** moby/term's MakeRaw (termios_linux.go) in stty's words: no echo, no line editing, no signals from keys, no output processing. */
const MAKE_RAW = ['-ignbrk', '-brkint', '-parmrk', '-istrip', '-inlcr', '-igncr', '-icrnl', '-ixon', '-opost', '-echo', '-echonl', '-icanon', '-isig', '-iexten', '-parenb', 'cs8', 'min', '1', 'time', '0']

/**
 * The terminal at `stdin` made raw as the CLI makes it (moby/term's MakeRaw). Returns the
 * function that puts back the settings saved before.
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
 * With -t at a terminal: the client's terminal lent to the container, and with `raw` its keys
 * too, each as it is typed, ^C and ^D included. resize() gives the pty behind
 * `resizePath` (a container's or an exec's) the client's size, now and whenever it changes;
 * a resize that fails does not fail the run. restore() undoes all attachTerminal did.
 */
export function attachTerminal(engine: EngineClient, resizePath: string, stdio: Stdio, raw: boolean): { resize(): void; restore(): void } {
  // One request at a time, the size read when it is sent, as the CLI's MonitorTtySize does: two
  // sent at once (stty sets rows, then columns) can reach the pty in either order.
  let sending = false
  let again = false
  let restored = false
  const resize = () => {
    if (restored) return
    if (sending) return void (again = true)
    const { rows, columns } = stdio.stdout
    if (!rows || !columns) return
    sending = true
    engine.call('POST', resizePath, { query: { h: String(rows), w: String(columns) } })
      .then((r) => finished(r.resume()))
      .catch(() => {})
      .finally(() => {
        sending = false
        if (again) {
          again = false
          resize()
        }
      })
  }
  const restoreMode = raw && stdio.stdin.isTTY === true ? rawTerminal(stdio.stdin) : () => {}
  process.on('SIGWINCH', resize)
  const restore = () => {
    restored = true
    restoreMode()
    process.off('SIGWINCH', resize)
  }
  return { resize, restore }
}
// #endregion attachTerminal
