/**
 * One of the client's streaming calls in a process of its own, for settle.test.ts: `run`
 * (several ways, some cancelled by this process as a long-lived caller cancels one), `exec` or
 * `logs -f` against the test's fake daemon, with this process's own stdin, stdout, stderr and
 * signals. Once the call has settled it notes what the client left behind, closes the Engine
 * as minidocker does, tells the daemon (POST /report, on a connection of its own) and sets
 * process.exitCode: it never calls process.exit, so the test sees whether the process ends on
 * its own.
 */
import { execFileSync } from 'node:child_process'
import { getEventListeners } from 'node:events'
import { writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import type { RunPlan, Stdio } from '../../lib/client.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { Engine } from '../../lib/engine-client.ts'
import { runContainer } from '#ch/12-client/run.ts'
import { exec, logs } from '../../lib/logs-exec.ts'

const [way, host] = process.argv.slice(-2) as [string, string]
// beside the daemon's socket, for the test to end this process by its PID if it outlives the test
writeFileSync(join(dirname(host.slice('unix://'.length)), 'settler.pid'), String(process.pid))

/** The events whose listeners the client may add on process (every signal's among them), each with its count now. */
const EVENTS = [...Object.keys(constants.signals), 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection']
const listeners = () => Object.fromEntries(EVENTS.map((e) => [e, process.listenerCount(e)]))
const stdinReaders = () => ({ data: process.stdin.listenerCount('data'), readable: process.stdin.listenerCount('readable'), flowing: process.stdin.readableFlowing === true })
const terminal = () => (process.stdin.isTTY ? execFileSync('stty', ['-g'], { stdio: [0, 'pipe', 'pipe'] }).toString().trim() : '')
const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function plan(tty: boolean, more: Partial<RunPlan> = {}): RunPlan {
  return {
    image: 'example.test/probe', config: { Image: 'example.test/probe', Cmd: ['sh'], Tty: tty, OpenStdin: true, AttachStdin: true, HostConfig: {} },
    detach: false, interactive: true, tty, autoRemove: false, sigProxy: true, ...more,
  }
}

/**
 * The caller's cancel of the "cancel-" ways: aborted when the daemon sends this process SIGUSR2
 * (once the run has come to the request the way cancels it at), for "cancel-before" before the
 * call, and for "cancel-late" once the call has settled. Its proxy off, the run takes no signal of its own.
 */
const cancelling = new AbortController()
const cancel = () => cancelling.abort(new Error('cancelled by the caller'))

/** The way's call; "sigterm" sends this process SIGTERM once the container's first output is on stdout, "giveup" three; the "cancel-" ways hand the run the caller's cancel. */
function call(engine: Engine, stdio: Stdio): Promise<number> {
  const progress = () => {}
  switch (way) {
    case 'exit': case 'start-fails': case 'refused': return runContainer(engine, plan(false), stdio, progress)
    case 'detach': case 'cut': case 'resize-refused': return runContainer(engine, plan(true), stdio, progress)
    case 'sigterm': case 'giveup': {
      // watches what the copy writes, and passes on every argument (a copy may wait on the write's callback)
      const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean
      let sent = false
      const times = way === 'giveup' ? 3 : 1
      process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        if (!sent && String(chunk).includes('ready')) {
          sent = true
          for (let n = 0; n < times; n++) setTimeout(() => process.kill(process.pid, 'SIGTERM'), 100 * n)
        }
        return write(chunk, ...rest)
      }) as typeof process.stdout.write
      return runContainer(engine, plan(true), stdio, progress)
    }
    case 'cancel-before': case 'cancel-pull': case 'cancel-create': case 'cancel-attach': case 'cancel-running':
      if (way === 'cancel-before') cancel()
      return runContainer(engine, plan(true, { sigProxy: false }), stdio, progress, cancelling.signal)
    case 'cancel-late': return runContainer(engine, plan(false, { detach: true, interactive: false, sigProxy: false }), stdio, progress, cancelling.signal)
    case 'exec': return exec(engine, 'c', ['sh'], { interactive: true, tty: false }, stdio)
    case 'logs': return logs(engine, 'c', { follow: true }, stdio)
  }
  throw new Error(`no such way: ${way}`)
}

async function main() {
  const stdio = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } // Node's own SIGWINCH listeners for a terminal come at the first use
  const resources = process.getActiveResourcesInfo() // before the Engine's first connection
  const engine = await Engine.connect(host)
  const cancelled = way.startsWith('cancel-')
  const aborts = () => getEventListeners(cancelling.signal, 'abort').length
  const before = { listeners: listeners(), stdin: stdinReaders(), terminal: terminal(), resources, aborts: aborts() }
  if (cancelled) process.on('SIGUSR2', cancel)
  let outcome: { code?: number; error?: string }
  try {
    outcome = { code: await call(engine, stdio) }
  } catch (error) {
    if (error instanceof NotImplementedError) throw error
    outcome = { error: String((error as Error).message) }
  }
  if (way === 'cancel-late') {
    cancel()
    await later(300) // what a listener left on the cancel would send, it has sent by now
  }
  if (cancelled) process.off('SIGUSR2', cancel)
  const after = { listeners: listeners(), stdin: stdinReaders(), terminal: terminal(), aborts: aborts() }
  await later(200) // the client's own last callbacks run; what it destroyed closes
  engine.close()
  await later(200)
  const report = { outcome, before, after: { ...after, resources: process.getActiveResourcesInfo() } }
  const body = JSON.stringify(report)
  await new Promise<void>((resolve) => {
    const req = request({ socketPath: host.slice('unix://'.length), agent: false, method: 'POST', path: '/report', headers: { Connection: 'close', 'Content-Length': Buffer.byteLength(body) } }, (res) => res.resume().on('end', resolve))
    req.on('error', () => resolve())
    req.end(body)
  })
  process.stderr.write('@reported\n')
  process.exitCode = outcome.code ?? 1
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).message}\n`)
  process.exitCode = 2
})
