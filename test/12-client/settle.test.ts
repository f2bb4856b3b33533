/**
 * The client leaves nothing behind: after run (on each of its ways out), exec and logs -f
 * settle, nothing of the client holds the process, which holds what it held before the call,
 * so that a process that does not call process.exit ends on its own. Each call runs in a process of its own
 * (settler.ts), in a pseudo-terminal, against a fake daemon here that plays the container.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { typeInTerminal } from '../support/client.ts'
import { frame as written } from '../../lib/output-streams.ts'
import { tempDir } from '../support/files.ts'
import { apiPath, json } from '../support/engine-server.ts'

/** A line on the container's stdout, framed as the daemon frames it (chapter 11's writer). */
const stdout = (line: string) => written('stdout', Buffer.from(line))

const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))

const servers: Server[] = []
/** every connection, hijacked ones too: a server's close() neither waits for those nor ends them */
const connections: Socket[] = []
afterEach(async () => {
  for (const s of connections.splice(0)) s.destroy()
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

/**
 * What the container does once started, given its attach connection (raw), its exit (the wait's
 * answer), and the daemon: what a kill does (`onKill`), and `cut` to drop every connection.
 */
type Container = (attach: Socket, exit: (code: number) => void, daemon: { onKill?: () => void; cut: () => void }) => void

interface Report {
  outcome: { code?: number; error?: string }
  /** before the call, and once it had settled and the Engine was closed (`resources`: the handles and requests Node counts as keeping the loop alive) */
  before: { listeners: Record<string, number>; stdin: Record<string, number | boolean>; terminal: string; resources: string[]; aborts: number }
  after: { listeners: Record<string, number>; stdin: Record<string, number | boolean>; terminal: string; resources: string[]; aborts: number }
  /** the client's connections the daemon still had open when the report came, by their first request */
  open: string[]
  /** the requests the daemon got once the caller had cancelled, and what had become of container "c" when the report came */
  afterCancel: string[]
  container: 'never created' | 'created' | 'started' | 'removed'
}

/** Where a run's caller cancels it: before the call, while the pull streams, while the create, the attach or the container's run is unanswered or going on, or once a -d run has returned. */
type CancelAt = 'before' | 'pull' | 'create' | 'attach' | 'running' | 'returned'

/**
 * A daemon that creates container "c", lets it be attached (unless `refuse`), and at its start
 * runs `container` (or fails the start with `startError`); exec "e" of "c" runs `container`
 * too, and the logs of "c" are a line and their end. With `cancelAt` it has the image to pull,
 * and sends the settler SIGUSR2, its caller's cancel, when the run comes there (a create it
 * holds, it answers a moment later). The report of settler.ts is kept, with the connections
 * open then, the requests since the cancel and what became of "c".
 */
async function fakeDaemon(options: { container: Container; startError?: string; refuse?: boolean; cancelAt?: CancelAt; refuseResizes?: boolean; holdStart?: boolean }) {
  const socket = join(tempDir('minidocker-client-'), 'daemon.sock')
  const opened = new Map<Socket, string>()
  const reports: Report[] = []
  const requests: string[] = []
  let since = options.cancelAt === 'before' ? 0 : undefined
  let container: Report['container'] = 'never created'
  const cancel = () => {
    since = requests.length
    process.kill(Number(readFileSync(join(dirname(socket), 'settler.pid'), 'utf8')), 'SIGUSR2')
  }
  /** a request as the daemon got it: method, path without the version, query */
  const note = (req: IncomingMessage) => requests.push(`${req.method} ${apiPath(req)}${req.url!.includes('?') ? req.url!.slice(req.url!.indexOf('?')) : ''}`)
  let attach: Socket | undefined
  let waiting: ServerResponse | undefined
  const daemon: { onKill?: () => void; cut: () => void } = { cut: () => [...opened.keys()].forEach((s) => s.destroy()) }
  let code: number | undefined
  const exit = (status: number) => {
    code = status
    waiting?.end(JSON.stringify({ StatusCode: status, Error: null }))
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!opened.get(req.socket)) opened.set(req.socket, `${req.method} ${req.url}`)
    const path = apiPath(req)
    if (req.url !== '/report') note(req)
    if (req.url === '/report') {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const open = [...opened].filter(([s]) => s !== req.socket && !s.destroyed).map(([, first]) => first)
        reports.push({ ...(JSON.parse(Buffer.concat(chunks).toString()) as Omit<Report, 'open' | 'afterCancel' | 'container'>), open, afterCancel: requests.slice(since ?? requests.length), container })
        res.end()
      })
    } else if (req.url === '/_ping') res.writeHead(200, { 'Api-Version': '1.41' }).end()
    else if (path === '/containers/create') {
      if (options.cancelAt === 'pull') return json(res, 404, { message: 'No such image: example.test/probe:latest' })
      const made = () => ((container = 'created'), json(res, 201, { Id: 'c', Warnings: [] }))
      if (options.cancelAt !== 'create') return made()
      cancel()
      setTimeout(made, 300)
    } else if (path === '/images/create') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).write('{"status":"Pulling from probe","id":"latest"}\n')
      cancel() // and the pull goes on for ever
    } else if (path === '/containers/c' && req.method === 'DELETE') {
      if (container === 'started' && !/force=1/.test(req.url!)) return json(res, 409, { message: 'cannot remove container "c": container is running: stop the container before removing or force remove' })
      container = 'removed'
      res.writeHead(204).end()
      attach?.end()
    }
    else if (path === '/containers/c/wait') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders()
      waiting = res
      if (code !== undefined) exit(code)
    } else if (path === '/containers/c/start') {
      if (options.startError) return json(res, 400, { message: options.startError })
      container = 'started'
      if (!options.holdStart) res.writeHead(204).end() // held: the container runs, and the start's answer never comes
      if (options.cancelAt === 'returned') since = requests.length // the -d run returns now: its caller cancels after
      options.container(attach!, exit, daemon)
      if (options.cancelAt === 'running') setTimeout(cancel, 100)
    } else if (path === '/containers/c/kill') {
      res.writeHead(204).end()
      daemon.onKill?.()
    } else if (path === '/containers/c/json') json(res, 200, { Id: 'c', Config: { Tty: false } })
    else if (path === '/containers/c/exec') json(res, 201, { Id: 'e' })
    else if (path === '/exec/e/json') json(res, 200, { ExitCode: code ?? null, Running: false })
    else if (path === '/containers/c/logs') {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' }).write(stdout('ready\n'))
      setTimeout(() => res.end(), 50) // the followed container exits
    } else if (path.endsWith('/resize')) {
      if (options.refuseResizes) setTimeout(() => json(res, 409, { message: 'Container c is not running' }), 200)
      else res.writeHead(200).end()
    } else json(res, 404, { message: `no ${path} here` })
  })
  server.keepAliveTimeout = 0 // idle connections stay open, as dockerd keeps them (lib/engine-http.ts)
  server.on('connection', (s: Socket) => (opened.set(s, ''), connections.push(s)))
  server.on('upgrade', (req: IncomingMessage, s: Socket) => {
    opened.set(s, `${req.method} ${req.url}`)
    note(req)
    s.on('error', () => {}) // the client may go first (ECONNRESET): not this test's failure
    s.resume() // what the client types is not this container's business; reading sees the client close
    s.on('end', () => s.end()) // an HTTP server's sockets are half-open: a client that closes is closed here too
    if (options.refuse) return void s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
    if (options.cancelAt === 'attach') return cancel() // and the attach is never answered
    s.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
    attach = s
    if (req.url!.includes('/exec/e/start')) options.container(s, (status) => (code = status), daemon)
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(socket, r))
  return { host: `unix://${socket}`, reports }
}

/** The attach of a container without a terminal: a line on stdout, then its exit with `status`. */
const exits = (status: number): Container => (attach, exit) => {
  attach.end(stdout('ready\n'))
  setTimeout(() => exit(status), 50)
}

interface Way {
  way: string
  args: string
  container: Container
  startError?: string
  refuse?: boolean
  keys?: number[]
  cancelAt?: CancelAt
  refuseResizes?: boolean
  holdStart?: boolean
}

/** A container that prints a line and runs on until it is removed. */
const runsOn: Container = (attach) => attach?.write('ready\r\n') // no attach for -d

const ways: Way[] = [
  { way: 'run -i, the container exits 3', args: 'exit', container: exits(3) },
  { way: 'run -i, start answered 400 (executable file not found)', args: 'start-fails', container: () => {}, startError: 'failed to create task: exec: "nope": executable file not found in $PATH' },
  { way: 'run -i, the attach answered 404', args: 'refused', container: () => {}, refuse: true },
  {
    way: 'run -it, detached with ctrl-p ctrl-q', args: 'detach', keys: [0x10, 0x11],
    container: (attach) => attach.write('ready\r\n'), // it runs on: neither the attach nor the wait ends by itself
  },
  {
    way: 'run -it, the daemon\'s connections cut', args: 'cut',
    container: (attach, _exit, daemon) => (attach.write('ready\r\n'), setTimeout(daemon.cut, 100)),
  },
  {
    way: 'run -it, SIGTERM sent to the client', args: 'sigterm',
    container: (attach, exit, daemon) => {
      daemon.onKill = () => (attach.end('got TERM\r\n'), setTimeout(() => exit(143), 50))
      attach.write('ready\r\n')
    },
  },
  {
    way: 'run -it, SIGTERMs sent to the client until it gives up, the container ignoring them', args: 'giveup',
    container: (attach) => attach.write('ready\r\n'), // it runs on: neither the attach nor the wait ends by itself
  },
  {
    way: 'run -it, SIGTERMs sent to the client until it gives up, the start\'s answer held', args: 'giveup', holdStart: true,
    container: (attach) => attach.write('ready\r\n'), // it runs on, and the daemon never answers its start
  },
  {
    way: 'run -it, every resize refused 200 ms late, the container exiting at once', args: 'resize-refused', refuseResizes: true,
    container: (attach, exit) => (attach.end('ready\r\n'), setTimeout(() => exit(0), 50)),
  },
  { way: 'exec -i, the command exits 5', args: 'exec', container: (attach, exit) => (exit(5), attach.end(stdout('ready\n'))) },
  { way: 'logs -f, the container exits', args: 'logs', container: () => {} },
]

/** A run cancelled by its caller (settler.ts aborts its AbortSignal when the daemon comes to `cancelAt`). */
const cancels: Way[] = [
  { way: 'run -it whose caller had cancelled it before the call', args: 'cancel-before', container: runsOn, cancelAt: 'before' },
  { way: 'run -it cancelled by its caller while the image is pulled', args: 'cancel-pull', container: runsOn, cancelAt: 'pull' },
  { way: 'run -it cancelled by its caller while the daemon holds the create\'s answer', args: 'cancel-create', container: runsOn, cancelAt: 'create' },
  { way: 'run -it cancelled by its caller while the daemon holds the attach\'s answer', args: 'cancel-attach', container: runsOn, cancelAt: 'attach' },
  { way: 'run -it cancelled by its caller while the container runs', args: 'cancel-running', container: runsOn, cancelAt: 'running' },
  { way: 'run -d cancelled by its caller once the run has returned', args: 'cancel-late', container: runsOn, cancelAt: 'returned' },
]

/**
 * The child that did not end, ended by its PID: a client whose signal handlers outlived the run
 * survives the pty's hang-up. Its command line names this test's own socket, so the PID is still its.
 */
function endStray(host: string): void {
  try {
    const pid = Number(readFileSync(join(dirname(host.slice('unix://'.length)), 'settler.pid'), 'utf8'))
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(host)) process.kill(pid, 'SIGKILL')
  } catch {} // it never started, or is gone already
}

/**
 * `way` in a process of its own (settler.ts), in a pseudo-terminal: its call settles, and
 * then the process holds what it held before and ends on its own. The daemon's report, for
 * what else the way requires.
 */
async function settles({ way, args, container, startError, refuse, keys, cancelAt, refuseResizes, holdStart }: Way, section: string): Promise<Report> {
  const daemon = await fakeDaemon({ container, startError, refuse, cancelAt, refuseResizes, holdStart })
  // a terminal of 24 rows by 80 columns (script's has none when the test's own output is no terminal): the client sends its size
  const argv = ['sh', '-c', 'stty rows 24 cols 80 && exec "$@"', 'sh', process.execPath, '-e', `require(${JSON.stringify(START)}).start('settler', 'test/12-client/settler.ts')`, args, daemon.host]
  // a call that never settles is told within 15 s, before the test's own time runs out
  const ended = await typeInTerminal(argv, keys ?? [], { ready: keys ? 'ready' : '@reported', env: {}, deadline: 5_000, readyWithin: 10_000 })
  if (ended.code === undefined) endStray(daemon.host)
  const report = daemon.reports[0]
  expect(report, `${way}: the call had not settled when the process was ended, 15 s on (the terminal showed ${JSON.stringify(ended.output)}) — what was it still waiting for, and could that still come on this way out? ${section}`).toBeDefined()
  const { outcome, before, after, open } = report!
  const changed = Object.keys(before.listeners).filter((e) => after.listeners[e] !== before.listeners[e]).map((e) => `${e} ${before.listeners[e]} → ${after.listeners[e]}`)
  expect(after.listeners, `${way}: the listeners on process changed across the call (changed: ${changed.join(', ')}) — which of your functions touched them, and what on this way out was to undo it? ${section}`).toEqual(before.listeners)
  expect(after.aborts, `${way}: the listeners on the caller's cancel (an AbortSignal the caller may keep for other calls) after the call (left) were not those from before it (right) — what does a listener left there do when the caller aborts later? ${section}`).toBe(before.aborts)
  expect(after.stdin, `${way}: stdin's readers after the call (left) were not those from before it (right; flowing: piped or resumed) — what still reads it, and what on this way out was to let it go? ${section}`).toEqual(before.stdin)
  expect(after.terminal, `${way}: the terminal's settings (stty -g) after the call (left) were not those from before it (right) — what changed them, and what on this way out was to put them back? ${section}`).toBe(before.terminal)
  expect(open, `${way}: once the call had settled and the Engine was closed, the daemon still had these connections of the client open (by their first request) — whose were they to close? ${section}`).toEqual([])
  expect(after.resources.sort(), `${way}: once the call had settled and the Engine was closed, other things kept the event loop alive than before the call (left: after, right: before; a Timeout is a timer, a PipeWrap a connection) — whose are they? ${section}`).toEqual(before.resources.sort())
  expect(ended.code, `${way}: the process, which never calls process.exit, had not ended on its own with the call's code within 5 s of the report, as a Go CLI's does when main returns (left: its code; undefined: it was still running) — what still holds it? ${section}`).toBe(outcome.code ?? 1)
  return report!
}

describe('the client leaves nothing behind (see "Letting go")', () => {
  it('run (the container\'s exit, a start that fails, an attach refused, a detach, the daemon cut, SIGTERM, SIGTERMs until it gives up, with the start answered and not, resizes refused), exec and logs -f, each in a process that must end on its own', async () => {
    const outcomes = new Map<string, Report['outcome']>()
    for (const way of ways) {
      const { outcome } = await settles(way, '(see "Letting go")')
      // giving up is the same end wherever the run is, as the CLI's main ends it at the third signal
      const before = outcomes.get(way.args)
      if (way.holdStart && before) expect(outcome, `${way.way}: how your call settled (left), beside how it settled when the start had answered (right) — what was the run still waiting for when the third signal came, and what ends the CLI there? (see "Signals")`).toEqual(before)
      outcomes.set(way.args, outcome)
    }
  }, 120_000)

  it('run cancelled by its caller before the call, while the image is pulled, while the daemon holds the create\'s or the attach\'s answer, while the container runs, and once a -d run has returned', async () => {
    const section = '(see "Cancelled")'
    for (const way of cancels) {
      const { outcome, afterCancel, container } = await settles(way, section)
      const since = `the requests the daemon got since the cancel: ${afterCancel.join(', ') || 'none'}`
      const late = way.cancelAt === 'returned'
      expect(outcome, `${way.way}: how your call settled (${since}) — what may a caller who has cancelled a run still be told, and what not?`).toEqual(late ? { code: 0 } : { error: 'cancelled by the caller' })
      expect(afterCancel.filter((r) => /\/(start|attach|wait)\b/.test(r)), `${way.way}: ${since} — which of them can a cancelled run still need? ${section}`).toEqual([])
      const asked = afterCancel.filter((r) => !r.includes('/_ping')) // the ping is the caller's Engine.connect
      if (way.cancelAt === 'before' && asked.length > 0) expect.fail(`${way.way}: the daemon got ${asked.join(', ')} from a run whose caller had cancelled it before calling it — how soon could your call have settled? ${section}`)
      // the daemon as the run found it: no container, or one made and removed; a -d run's container is its caller's
      const asFound = late ? container === 'started' : container === 'never created' || container === 'removed'
      if (!asFound) {
        expect.fail(late
          ? `${way.way}: container "c" was ${container} once the caller had cancelled, after your run had returned it started; ${since} — whose was it by then? ${section}`
          : `${way.way}: your run left container "c" ${container} at the daemon once the call had settled; ${since} — which of your requests made it, how did your run learn of it, and what undoes it? ${section}`)
      }
    }
  }, 120_000)
})
