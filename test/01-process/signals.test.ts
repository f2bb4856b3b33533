/**
 * runProcess passing signals on, as `docker run --sig-proxy` does: a signal delivered through
 * the `signals` source at an exact moment of the run (right before one helper request, or once
 * the program runs). Signals go only to processes this file started, never to the test runner.
 */
import { spawnSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { runProcess } from '#ch/01-process/process.ts'
import { DEFAULT_PATH, type Process } from '../../lib/oci.ts'
import { Helper } from '../../native/helper.ts'
import { caught } from '../support/errors.ts'
import { captureFile, tempDir } from '../support/files.ts'
import { swappedBeforeRequest } from '../support/interpose.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'

const SIGNAL: NodeJS.Signals = 'SIGTERM'
const TEXT = '"Passing signals on" in the chapter text'

/** What the shell says a process killed by `signal` exits with: the kernel kills, the shell counts. */
function shellsCode(signal: NodeJS.Signals): number {
  const name = signal.slice('SIG'.length)
  return Number(spawnSync('sh', ['-c', `sh -c 'kill -${name} $$'; echo $?`], { encoding: 'utf8' }).stdout.trim())
}

const realStart = Helper.start.bind(Helper)
afterEach(() => void vi.restoreAllMocks())

/** The helper processes of a run that still exist (alive, or a zombie nobody has waited for). */
const leftHelpers = (helpers: Helper[]) => helpers.filter((h) => h.process.exitCode === null && h.process.signalCode === null).map((h) => h.pid)

/** One run of runProcess, watched: its helper, the signals Node itself got, unhandled rejections. */
async function watchedRun(args: string[], prepare: ((h: Helper) => Promise<void>) | undefined, at: number | undefined, during?: (signals: EventEmitter, out: { peek(): string }, helpers: Helper[], execAnswered: () => Promise<void>) => Promise<void>) {
  const signals = new EventEmitter()
  const helpers: Helper[] = []
  let watched = { requests: 0, before: '' }
  let answered: Promise<unknown> | undefined
  vi.spyOn(Helper, 'start').mockImplementation((options) => {
    const helper = realStart(options)
    helpers.push(helper)
    if (at === undefined) {
      // the exec's answer, as runProcess's own await of it receives it
      const exec = helper.exec.bind(helper)
      helper.exec = (...request) => (answered = exec(...request))
      return helper
    }
    const { swapping, state } = swappedBeforeRequest(helper, at, async () => void signals.emit('signal', SIGNAL))
    watched = state
    return swapping
  })
  // A signal that reached Node would end the test's own process: catch it, and tell.
  const nodeGot: string[] = []
  const onNodeSignal = (signal: NodeJS.Signals) => void nodeGot.push(signal)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)
  process.on(SIGNAL, onNodeSignal)
  process.on('unhandledRejection', onUnhandled)
  const out = captureFile('stdout')
  try {
    const running = runProcess({ args, env: [DEFAULT_PATH], cwd: tempDir() } satisfies Process, { stdout: out.fd, stderr: 'ignore' }, prepare, signals)
    let settled = false
    running.then(() => (settled = true), () => (settled = true))
    let code: number | undefined
    const error = await caught(async () => {
      // Once the exec is answered and every continuation waiting on it has run, the program runs.
      const execAnswered = async () => {
        while (!answered && !settled) await new Promise((r) => setTimeout(r, 20))
        await answered
        await new Promise((r) => setImmediate(r))
      }
      // A run that ends (or fails, as a starter does) before `during` is through ends the wait too.
      const watching = during?.(signals, out, helpers, execAnswered)
      watching?.catch(() => {})
      await Promise.race([watching, running])
      await watching
      code = await running
    }).finally(() => running.catch(() => {}))
    // at the moment runProcess settled, before Node's event loop could learn of any exit
    const left = leftHelpers(helpers)
    // Let any promise left behind by the run settle where this file can see it.
    await new Promise((resolve) => setTimeout(resolve, 20))
    return { code, error, stdout: out.read(), left, listeners: signals.listenerCount('signal'), nodeGot, unhandled, before: watched.before, requests: watched.requests }
  } finally {
    process.off(SIGNAL, onNodeSignal)
    process.off('unhandledRejection', onUnhandled)
    // Nothing of a wrong run stays.
    for (const helper of helpers) helper.process.kill('SIGKILL')
  }
}

/** A prepare that makes a few requests, as later chapters' do: files in a directory of the test's. */
const fewRequests = (dir: string) => async (h: Helper) => {
  await h.mkdir(join(dir, 'made'), 0o755)
  await h.writeFile(join(dir, 'made', 'a'), 'a')
  await h.chdir(join(dir, 'made'))
}

/** A prepare that makes the helper PID 1 of a PID namespace of its own, as chapter 02 will. */
const asPid1 = async (h: Helper) => {
  await h.unshare(['pid'])
  await h.fork()
  await h.chdir('/')
}

/** Wait for `text` in what the program wrote, at most `ms`. */
async function until(out: { peek(): string }, text: string, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
    if (out.peek().includes(text)) return true
  return false
}

describe('runProcess passing signals on', () => {
  for (const [what, prepare] of [['a prepare that makes a few requests', fewRequests], ['a prepare that makes the helper PID 1 of a PID namespace', () => asPid1]] as const) {
    it(`${SIGNAL} right before each helper request, with ${what}`, async () => {
      const expected = shellsCode(SIGNAL)
      const quiet = await watchedRun([PROBE_PATH, 'out:ran'], prepare(tempDir()), -1)
      expect(quiet.error, 'a run without any signal failed').toBeUndefined()
      for (let at = 0; at < quiet.requests; at++) {
        const run = await watchedRun([PROBE_PATH, 'out:ran'], prepare(tempDir()), at)
        const moment = `${SIGNAL} came right before the helper request ${run.before}`
        expect(run.nodeGot, `${moment}, and Node itself received ${run.nodeGot.join(', ')}: whose signal is it, and which process did you send it to? (${TEXT})`).toEqual([])
        expect(run.unhandled.map(String), `${moment}, and a promise was rejected with nobody to handle it: what became of the request prepare was waiting for when the run stopped? (${TEXT})`).toEqual([])
        expect(run.left, `${moment}, and helper ${run.left} still existed when runProcess settled: a stopped run leaves nothing behind; when is a helper really gone? (${TEXT})`).toEqual([])
        expect(run.stdout, `${moment}, before the exec, and the program ran anyway: should it? What is the helper before the exec, and would it die of ${SIGNAL} as PID 1 of a PID namespace? (pid_namespaces(7); ${TEXT})`).toBe('')
        expect(run.error?.message, `${moment}, and runProcess rejected: a signal before the exec is not a failure to start, it is the end of the run. (${TEXT})`).toBeUndefined()
        expect(run.code, `${moment}: what does docker run exit with for a container ended by ${SIGNAL} (the shell says ${expected})? (runProcess's doc comment; "Exit codes")`).toBe(expected)
        expect(run.listeners, `${moment}, and runProcess left ${run.listeners} listener(s) on the signal source after it settled: the next container would get this one's signals. (${TEXT})`).toBe(0)
      }
    })
  }

  it(`${SIGNAL} after the exec, to a program that waits for it and exits 3`, async () => {
    const run = await watchedRun([PROBE_PATH, 'wait-signal', 'exit:3'], undefined, undefined, async (signals, out, _helpers, execAnswered) => {
      if (!(await until(out, '"waiting"'))) throw new Error('the program did not start within 10 s')
      await execAnswered()
      signals.emit('signal', SIGNAL)
      if (!(await until(out, '"signal"', 5_000))) throw new Error(`the program, running and waiting for a signal, got none within 5 s of ${SIGNAL}: after the exec, whose signal is it? (${TEXT})`)
    })
    expect(run.nodeGot, `Node itself received ${run.nodeGot.join(', ')}: which process did you send it to? (${TEXT})`).toEqual([])
    expect(run.error?.message).toBeUndefined()
    expect(probeValue(run.stdout, 'signal'), `the program received another signal than the ${SIGNAL} that came: what did you send it? (${TEXT})`).toBe(15)
    expect(run.code, `the program caught ${SIGNAL} and exited 3 of its own will, and runProcess returned another number: after the exec, whose decision is the signal? (${TEXT})`).toBe(3)
    expect(run.listeners, `runProcess left ${run.listeners} listener(s) on the signal source after the program exited. (${TEXT})`).toBe(0)
  })

  it(`${SIGNAL} after the exec, to a program that does not handle it`, async () => {
    const expected = shellsCode(SIGNAL)
    const run = await watchedRun(['/bin/sh', '-c', 'echo ready; exec sleep 20'], undefined, undefined, async (signals, out, helpers, execAnswered) => {
      if (!(await until(out, 'ready'))) throw new Error('the program did not start within 10 s')
      await execAnswered()
      signals.emit('signal', SIGNAL)
      // a run the signal did not end is ended here (each helper is this process's child)
      setTimeout(() => helpers.forEach((h) => h.process.kill('SIGKILL')), 5_000).unref()
    })
    expect(run.code, `${SIGNAL} came while \`sleep 20\` ran and it does not handle it: the shell says ${expected} for such an end (a run that took 5 s was ended by this test). (${TEXT})`).toBe(expected)
  })
})
