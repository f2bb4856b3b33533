/**
 * Chapter 09: hooks, the programs config.json asks the runtime to run at points of the
 * container's life. dockerd's network set-up is one (a prestart hook, even with --network none):
 * each reads the container's state JSON on its stdin.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Hook, State } from '../../lib/oci.ts'
import { RuntimeError } from '../../lib/runtime.ts'

/**
 * A hook run inside the container (createContainer, startContainer): in the namespaces of its
 * process `pid`, with the hook's path resolved on the host (`runtime`, createContainer's) or in
 * the container (`container`, startContainer's).
 */
export interface InContainer {
  pid: number
  resolve: 'runtime' | 'container'
}

/** How long a hook without a timeout of its own may run. */
export const DEFAULT_HOOK_TIMEOUT = 30

// #region runHooks
/**
 * Run `hooks` one after the other, each with `state` as JSON on its stdin, its own args
 * (args[0] is argv[0]) and env (nothing else), and the runtime's cwd. The first that fails
 * stops the rest and throws a RuntimeError: `error running NAME hook #I: exit status N, stdout:
 * OUT, stderr: ERR` (runc's words), or `... timed out after S seconds` for one that outlives its
 * timeout (default DEFAULT_HOOK_TIMEOUT), which is killed first. A hook that never reads its
 * stdin is no failure. With `inside`, the hook runs in the container's namespaces, with its
 * path as its argv[0].
 */
export async function runHooks(name: string, hooks: Hook[] | undefined, state: State, inside?: InContainer): Promise<void> {
  // TODO(09): run each hook as the runtime spec says (config.md, "POSIX-platform Hooks").
  //   1. What does a hook get: which argv (args[0] is argv[0], not the path), which environment
  //      (its own list, nothing inherited), and the state on its stdin as JSON.
  //   2. A hook may never read its stdin and exit at once: writing to it must not fail the hook.
  //   3. A hook may hang, and may start children that hang with it: at its timeout (default
  //      DEFAULT_HOOK_TIMEOUT seconds) kill all of it, then fail with `timed out after S seconds`.
  //   4. The first failure stops the rest, with runc's words and what the hook printed (see
  //      the doc comment above). Which events of a child process say that its output is complete?
  //   5. inside: the hook joins the container's namespaces (which program on this machine runs another in a process's
  //      namespaces?).
  //      Where does its path resolve once in the container's mount namespace? createContainer's
  //      path is the host's: how can a program the container cannot see still be run from
  //      there (the text's "Hooks"; what open file survives a change of mount namespace)?
  throw new NotImplementedError('09-runtime', 'runHooks')
}
// #endregion runHooks
