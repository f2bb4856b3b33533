/**
 * Chapter 09: hooks, the programs config.json asks the runtime to run at points of the
 * container's life. dockerd's network set-up is one (a prestart hook, even with --network none):
 * each reads the container's state JSON on its stdin.
 */
import { spawn } from 'node:child_process'
import type { Hook, State } from '../../lib/oci.ts'
import { RuntimeError } from '../../lib/runtime.ts'

/** How long a hook without a timeout of its own may run. */
export const DEFAULT_HOOK_TIMEOUT = 30

// #region runHooks
/**
 * Run `hooks` one after the other, each with `state` as JSON on its stdin, its own args
 * (args[0] is argv[0]) and env (nothing else), and the runtime's cwd. The first that fails
 * stops the rest and throws a RuntimeError: `error running NAME hook #I: exit status N, stdout:
 * OUT, stderr: ERR` (runc's words), or `... timed out after S seconds` for one that outlives its
 * timeout (default DEFAULT_HOOK_TIMEOUT), which is killed first. A hook that never reads its
 * stdin is no failure.
 */
export async function runHooks(name: string, hooks: Hook[] | undefined, state: State): Promise<void> {
  for (const [index, hook] of (hooks ?? []).entries()) {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path]
    // In a process group of its own, so that a timeout kills whatever the hook started too.
    const child = spawn(hook.path, args, { argv0, env: envObject(hook.env ?? []), stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    // EPIPE when the hook exits without reading: not its failure.
    child.stdin.on('error', () => {})
    child.stdin.end(JSON.stringify(state))
    const seconds = hook.timeout ?? DEFAULT_HOOK_TIMEOUT
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      process.kill(-child.pid!, 'SIGKILL')
    }, seconds * 1000)
    const status = await new Promise<string | undefined>((resolve) => {
      child.once('error', (error) => resolve(error.message))
      child.once('close', (code, signal) => resolve(code === 0 ? undefined : signal ? `signal: ${signal}` : `exit status ${code}`))
    })
    clearTimeout(timer)
    const what = `error running ${name} hook #${index}`
    if (timedOut) throw new RuntimeError(`${what}: timed out after ${seconds} seconds`)
    if (status !== undefined)
      throw new RuntimeError(`${what}: ${status}, stdout: ${Buffer.concat(out).toString().trim()}, stderr: ${Buffer.concat(err).toString().trim()}`)
  }
}
// #endregion runHooks

function envObject(env: string[]): Record<string, string> {
  return Object.fromEntries(env.filter((v) => v.includes('=')).map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]))
}
