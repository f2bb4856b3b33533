/**
 * Chapter 12's given raw mode for `-it`: the client's terminal as moby/term's MakeRaw sets it
 * (termios_linux.go), and put back as it was (the CLI's hijack.go, setRawTerminal and
 * restoreTerminal).
 */
import { execFileSync } from 'node:child_process'
import type { Stdio } from './client.ts'

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
