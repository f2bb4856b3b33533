/**
 * Chapter 09's given code: hooks, the programs config.json asks the runtime to run at points of the
 * container's life. dockerd's network set-up is one (a prestart hook, even with --network none):
 * each reads the container's state JSON on its stdin.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import type { Hook, State } from './oci.ts'
import { RuntimeError } from './runtime.ts'

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
  for (const [index, hook] of (hooks ?? []).entries()) {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path]
    // createContainer's path is the host's; the hook runs as /proc/self/fd/3. Why not by its
    // path, once nsenter has entered the container? (the text's "Hooks")
    const program = inside?.resolve === 'runtime' ? openSync(hook.path, 'r') : undefined
    const command = inside
      ? ['/usr/bin/nsenter', '-t', String(inside.pid), '-m', '-u', '-i', '-n', '-p', '--', program === undefined ? hook.path : '/proc/self/fd/3', ...args]
      : [hook.path, ...args]
    // In a process group of its own, so that a timeout kills whatever the hook started too.
    const child = spawn(command[0]!, command.slice(1), {
      argv0: inside ? undefined : argv0, env: envObject(hook.env ?? []), detached: true,
      stdio: ['pipe', 'pipe', 'pipe', ...(program === undefined ? [] : [program])],
    })
    if (program !== undefined) closeSync(program)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk))
    // EPIPE when the hook exits without reading: not its failure.
    child.stdin!.on('error', () => {})
    child.stdin!.end(JSON.stringify(state))
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

function envObject(env: string[]): Record<string, string> {
  return Object.fromEntries(env.filter((v) => v.includes('=')).map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]))
}
