/**
 * The signal proxy beside docker 28.2.2's: each client is sent the same signals while its
 * container runs, against the same kind of fake daemon, and the kills the daemon gets are
 * compared. docker runs a whole `run`; yours is the proxy alone, in a process of its own
 * (signaller.ts), so that a signal it fails to catch ends that process and not the tests, and
 * your whole `run` where the words and exit code of a run that gives up are compared.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { CLIS, dockerEnv, throwIfUnwritten } from '../support/daemon.ts'
import { asMinidocker, MINIDOCKER } from '../support/client.ts'
import { apiPath, fakeDaemons } from '../support/engine-server.ts'
import { frame } from '../support/frames.ts'
import { within } from '../support/errors.ts'
import { waitFor } from '../support/container.ts'
import { firstDifference, RESULTS } from './differences.ts'

const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))
const ID = 'beef'.repeat(16)
const SECTION = '(see "Signals")'

const daemons = fakeDaemons()
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await daemons.stop()
})

interface KillOptions {
  /** how long the daemon takes to answer a kill */
  answerAfter?: number
  /** or: kills are answered once this settles */
  answerWhen?: Promise<unknown>
  /** answer every kill as a daemon whose container has exited */
  refuse?: boolean
}

/**
 * A daemon with one running container: created, waited for, started, attached (a line
 * "ready" on its stdout), and ended by `end()`. It notes every kill's signal as sent and how
 * many kills it held at once.
 */
async function killDaemon(options: KillOptions = {}) {
  const state = { kills: [] as string[], inFlight: 0, mostAtOnce: 0 }
  let attach: Socket | undefined
  let exit: (() => void) | undefined
  const daemon = await daemons.daemon({
    version: '1.41',
    answer: (req, res) => {
      req.resume()
      const path = apiPath(req)
      if (path === '/containers/create') res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: ID, Warnings: [] }))
      else if (path.endsWith('/wait')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders()
        exit = () => res.end(JSON.stringify({ StatusCode: 0, Error: null }) + '\n')
      } else if (path.endsWith('/start')) {
        res.writeHead(204).end()
        attach?.write(frame('stdout', 'ready\n'))
      } else if (path === `/containers/${ID}/kill`) {
        state.kills.push(new URL(req.url!, 'http://daemon').searchParams.get('signal') ?? '(none)')
        state.mostAtOnce = Math.max(state.mostAtOnce, ++state.inFlight)
        const answer = () => {
          state.inFlight--
          if (options.refuse) res.writeHead(409, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `Container ${ID} is not running` }))
          else res.writeHead(204).end()
        }
        if (options.answerWhen) void options.answerWhen.then(answer)
        else setTimeout(answer, options.answerAfter ?? 0)
      } else res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no ${path} here` }))
    },
    upgrade: (_req, socket: Socket) => {
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      attach = socket
    },
  })
  return { host: daemon.host, state, end: () => (attach?.end(), exit?.()) }
}

/** A client under test: its output so far, and how it ended (undefined while it runs). */
interface Client {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  ended: () => string | undefined
  closed: Promise<void>
}

function started(argv: string[], env: NodeJS.ProcessEnv): Client {
  // no core file, whatever the client is sent
  const child = spawn('sh', ['-c', 'ulimit -c 0 && exec "$@"', 'client', ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  children.push(child)
  let [stdout, stderr, ended] = ['', '', undefined as string | undefined]
  child.stdout!.on('data', (d: Buffer) => (stdout += d))
  child.stderr!.on('data', (d: Buffer) => (stderr += d))
  const closed = new Promise<void>((resolve) => child.on('close', (code, signal) => ((ended = signal ? `killed by ${signal}` : `exit ${code}`), resolve())))
  return { child, stdout: () => stdout, stderr: () => stderr, ended: () => ended, closed }
}

/** docker 28.2.2's `run`, your proxy alone in signaller.ts, or your whole `run`: up and proxying once it has printed "ready". */
type Who = 'docker' | 'yours' | 'your run'
async function client(who: Who, host: string): Promise<Client> {
  const c = who === 'docker'
    ? started([CLIS['28.2.2'], 'run', 'example.test/box'], { ...process.env, ...dockerEnv(host) })
    : who === 'yours'
      ? started([process.execPath, '-e', `require(${JSON.stringify(START)}).start('signaller', 'test/12-client/signaller.ts')`, host, ID], process.env)
      : started([process.execPath, MINIDOCKER, '-H', host, 'run', 'example.test/box'], { ...process.env, MINIDOCKER_HOST: '', DOCKER_HOST: '' })
  const up = await waitFor(() => c.stdout().includes('ready') || c.ended() !== undefined, 20_000)
  throwIfUnwritten(c.stderr())
  if (!up || c.ended() !== undefined) throw new Error(`${who === 'docker' ? 'the docker CLI' : who === 'yours' ? 'your proxy' : who} was not up within 20 s (${c.ended() ?? 'still running'}): ${c.stderr()}`)
  return c
}

/** Ends the client: a run when its container exits, your proxy when told to stop (and then by itself). */
async function finish(who: Who, c: Client, end: () => void): Promise<string[] | undefined> {
  if (who === 'yours') c.child.stdin!.end('stop\n')
  else end()
  if ((await within(c.closed, 10_000)) === 'late') return undefined
  const stopped = /@stopped (.*)/.exec(c.stdout())
  return stopped ? (JSON.parse(stopped[1]!) as string[]) : []
}

/** Every signal `kill -l` names that a process can catch, SIGINT and SIGTERM once each. */
const SIGNALS = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS']

/** The number of the signal a kill's parameter names, however it is spelled. */
function numbered(parameter: string): number | undefined {
  if (/^\d+$/.test(parameter)) return Number(parameter)
  return constants.signals[`SIG${parameter.toUpperCase().replace(/^SIG/, '')}` as NodeJS.Signals]
}

/** A kill as the test compares it. */
const compared = (parameter: string) => `${numbered(parameter)}${/^(?!SIG)[A-Z][A-Z0-9]*$/.test(parameter) ? '' : ` as ${parameter}`}`

interface Sent {
  /** per signal sent, the kills it became (as sent), until the client ended */
  kills: Record<string, string[]>
  /** the signal number of each kill, in the order the daemon got them */
  arrived: (number | undefined)[]
  /** the signal the client did not survive, and how it ended */
  endedAt?: string
  stderr: string
  mostAtOnce: number
  /** how the client's process ended, once ended */
  exit?: string
}

/**
 * Sends `signals` to the client one by one, `gap` ms apart, waits for the daemon to go quiet,
 * and ends the client. With `oneByOne`, each signal waits first until the client has passed
 * the one before on or ended, and has had 2 s to end: how soon a loaded machine lets a client
 * act must not decide at which signal it ended.
 */
async function send(who: Who, signals: string[], options: KillOptions & { gap: number; oneByOne?: boolean }): Promise<Sent & { left?: string[] }> {
  const daemon = await killDaemon(options)
  const c = await client(who, daemon.host)
  const gaveUp = () => c.stdout().includes('@gave up')
  const over = () => c.ended() !== undefined || gaveUp()
  const killsOf = (signal: string) => daemon.state.kills.filter((k) => numbered(k) === constants.signals[`SIG${signal}` as NodeJS.Signals])
  let endedAt: string | undefined
  for (const signal of signals) {
    const before = killsOf(signal).length
    c.child.kill(`SIG${signal}` as NodeJS.Signals)
    if (options.oneByOne) {
      await waitFor(() => over() || killsOf(signal).length > before, 10_000)
      await waitFor(over, 2_000)
    }
    await sleep(options.gap)
    if (over()) {
      endedAt = `SIG${signal} (${gaveUp() ? 'gave up' : c.ended()})`
      break
    }
  }
  // the daemon quiet: nothing in flight and no new kill for a while
  for (let seen = -1; seen !== daemon.state.kills.length || daemon.state.inFlight > 0;) {
    seen = daemon.state.kills.length
    await sleep(Math.max(300, (options.answerAfter ?? 0) + 200))
  }
  const left = c.ended() === undefined ? await finish(who, c, daemon.end) : undefined
  const kills = Object.fromEntries(signals.map((s) => [`SIG${s}`, killsOf(s)]))
  return { kills, arrived: daemon.state.kills.map(numbered), endedAt, stderr: c.stderr(), mostAtOnce: daemon.state.mostAtOnce, left, exit: c.ended() }
}

/** A signal's kills in words: what a learner reads in a failure. */
const told = (kills: string[]) => (kills.length === 0 ? 'no kill' : kills.map((k) => `kill ?signal=${k}`).join(' and '))

describe('the signal proxy, beside docker 28.2.2 (see "Signals")', () => {
  it('every signal kill -l names that a process can catch, sent one at a time while the container runs', async () => {
    const theirs = await send('docker', SIGNALS, { gap: 150 })
    const mine = await send('yours', SIGNALS, { gap: 150 })
    expect(theirs.endedAt, 'docker 28.2.2\'s own client did not live through the signals, as the test needs it to').toBeUndefined()
    // which signal it was is the learner's to find: which signals end a Node process, and which did theirs not hold off?
    if (mine.endedAt) expect.fail(`your proxy's process ${mine.exit?.startsWith('killed') ? 'was killed by one of them' : `ended (${mine.exit})`}, where docker's client lived on to report the container's exit: which of the signals kill -l names end a Node process, and which of those did yours not hold off? (signal(7)) ${SECTION}`)
    for (const signal of Object.keys(theirs.kills)) {
      // SIGXFSZ: the one signal where a Node client must not do as docker 28.2.2's does (the text's "As they were")
      const [yours, docker] = [mine.kills[signal]!.map(compared), signal === 'SIGXFSZ' ? [] : theirs.kills[signal]!.map(compared)]
      if (signal === 'SIGXFSZ' && yours.length > 0) {
        expect.fail(`SIGXFSZ sent to the client: the daemon got ${told(mine.kills[signal]!)} from yours, as from docker 28.2.2's, but a Node client must keep this one: how was SIGXFSZ set in your process before the proxy began (/proc/self/status), and how will it be set once the proxy has stopped? ${SECTION}`)
      }
      if (yours.join() !== docker.join()) {
        expect.fail(`${signal} sent to the client: the daemon got ${told(mine.kills[signal]!)} from yours, and not that from docker 28.2.2's — which signals does the CLI pass on, which does it keep, and how does it name them? ${SECTION}`)
      }
    }
    expect(mine.stderr, 'what your proxy printed while signals came (docker 28.2.2\'s client printed nothing)').toBe('')
  }, 120_000)

  it('signals that come faster than the daemon answers its kills', async () => {
    const signals = ['USR1', 'QUIT', 'USR2', 'HUP', 'WINCH']
    const theirs = await send('docker', signals, { gap: 60, answerAfter: 400 })
    const mine = await send('yours', signals, { gap: 60, answerAfter: 400 })
    if (mine.endedAt) expect.fail(`your proxy's process ended at ${mine.endedAt}, where docker's client lived on ${SECTION}`)
    if (mine.mostAtOnce !== theirs.mostAtOnce) {
      expect.fail(`${signals.map((s) => `SIG${s}`).join(', ')} came 60 ms apart and the daemon took 400 ms to answer each kill: it held up to ${mine.mostAtOnce} of yours at once (the signal numbers of yours came as ${mine.arrived.join(' ')}). How many did it hold of docker 28.2.2's, and in which order can the container get them when the daemon holds several? ${SECTION}`)
    }
    // which of them are passed on is the first test's: here, those yours passed on, in the order they came
    const came = signals.map((s) => constants.signals[`SIG${s}` as NodeJS.Signals]).filter((n) => mine.arrived.includes(n))
    expect(mine.arrived, `the signal numbers of your kills in the order the daemon got them (left), and in the order their signals came (right) ${SECTION}`).toEqual(came)
  }, 120_000)

  it('kills the daemon refuses: the container has exited meanwhile', async () => {
    const signals = ['HUP', 'USR1', 'TERM', 'USR2']
    const theirs = await send('docker', signals, { gap: 150, refuse: true })
    const mine = await send('yours', signals, { gap: 150, refuse: true })
    if (mine.endedAt) expect.fail(`the daemon answered each kill 409 "Container … is not running", and your proxy's process ended at ${mine.endedAt}, where docker's client lived on — what became of the refusal? ${SECTION}`)
    expect(mine.stderr, 'what your proxy printed as the daemon refused its kills (docker 28.2.2\'s client printed nothing)').toBe('')
    const all = (sent: Sent) => Object.values(sent.kills).map((k) => k.length).join(' ')
    expect(all(mine), `the kills per signal (${signals.join(', ')}) that reached the daemon once it had refused one, docker 28.2.2's client's were ${all(theirs)} — does the next signal still go out after a refusal? ${SECTION}`).toBe(all(theirs))
  }, 120_000)

  it('a container that ignores every signal, sent HUP, INT, USR1, INT, TERM, USR2: where the client gives up', async () => {
    const signals = ['HUP', 'INT', 'USR1', 'INT', 'TERM', 'USR2']
    const theirs = await send('docker', signals, { gap: 100, oneByOne: true })
    const mine = await send('yours', signals, { gap: 100, oneByOne: true })
    const at = (sent: Sent) => sent.endedAt?.split(' ')[0] ?? 'never'
    if (at(mine) !== at(theirs)) {
      expect.fail(`your proxy gave up at ${at(mine)}${mine.endedAt?.includes('gave up') ? '' : ` (${mine.endedAt ?? 'it never called giveUp'})`}, not where docker 28.2.2's client ends itself ${SECTION}`)
    }
    // the signal it gives up at may or may not reach the daemon first: docker's two goroutines race
    const before = (sent: Sent) => ['SIGHUP', 'SIGINT', 'SIGUSR1'].map((s) => `${s}: ${sent.kills[s]!.length}`).join(', ')
    expect(before(mine), `the kills the daemon got before your proxy gave up, per signal ${SECTION}`).toBe(before(theirs))
  }, 120_000)

  it('run whose container ignores ^C, sent SIGINT again and again: the words and the exit code', async () => {
    const again = Array<string>(6).fill('INT') // more than it takes docker's client to end
    const theirs = await send('docker', again, { gap: 100, oneByOne: true })
    const mine = await send('your run', again, { gap: 100, oneByOne: true })
    if (!mine.endedAt && theirs.endedAt) expect.fail(`your run was still running after ${again.length} SIGINTs, where docker's had ended — what does giveUp set off in your run, and what of the run is still waited for then? ${SECTION}`)
    const result = (sent: Sent) => ({ stderr: asMinidocker(sent.stderr), exitCode: Number(sent.exit?.replace('exit ', '')) })
    const differs = firstDifference(result(mine), result(theirs), [RESULTS[1], RESULTS[2]])
    if (differs) expect.fail(`the container ignored SIGINT and the client was sent it again and again: ${differs} ${SECTION}`)
  }, 120_000)

  it('stopped while kills wait to go out, then sent a signal: nothing more reaches the daemon, and nothing of the proxy is left on the process, its signals as they were', async () => {
    let release = () => {}
    const daemon = await killDaemon({ answerWhen: new Promise<void>((resolve) => (release = resolve)) })
    onTestFinished(() => release())
    const c = await client('yours', daemon.host)
    c.child.kill('SIGUSR1')
    await waitFor(() => daemon.state.kills.length > 0, 10_000) // its kill held by the daemon
    for (const signal of ['USR2', 'HUP'] as const) {
      c.child.kill(`SIG${signal}`)
      await sleep(60)
    }
    await sleep(300)
    c.child.stdin!.write('stop\n')
    await waitFor(() => c.stdout().includes('@stopped'), 10_000)
    c.child.kill('SIGWINCH') // ignored by default: it ends nothing once the proxy has gone
    const left = await finish('yours', c, daemon.end) // the daemon still holding the first kill
    release()
    await sleep(800) // what the proxy still held would reach the daemon by now
    expect(daemon.state.kills.map(numbered), `the signal numbers of the kills the daemon got: SIGUSR1, then SIGUSR2 and SIGHUP while the daemon held USR1's kill unanswered, and the proxy was stopped before that kill was answered; a SIGWINCH came after the stop — which of them may still reach a container once the run that proxied them has ended? ${SECTION}`).toEqual([constants.signals.SIGUSR1])
    expect(left, `your proxy's process had not ended on its own 10 s after its stop and stdin's end, the daemon still holding the first kill unanswered and the Engine left open, as a caller that goes on running containers leaves it: what of the proxy still holds the process? ${SECTION}`).toBeDefined()
    expect(left, 'the listeners on process that your stop left changed (name, before → after)').toEqual([])
    expect(c.ended(), `after the stop, your proxy's process sent itself SIGPIPE and SIGXFSZ, and it should have lived through both, as it would have before the proxy began (left: how it ended) — how was each set before the proxy, and what did yours leave it at? ${SECTION}`).toBe('exit 0')
  }, 60_000)
})
