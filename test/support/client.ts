/**
 * Chapter 12's test tools: `minidocker` run as a client, the docker CLI's output made
 * comparable (IDs, times and sizes masked, the program's name read as minidocker), and a
 * logging proxy: a second unix socket in front of a daemon that records every request in the
 * order it arrives, as the reference notes were captured. Nothing here imports vitest.
 */
import { createConnection, type Socket } from 'node:net'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { CLIS, dockerEnv, throwIfUnwritten, type DockerResult } from './daemon.ts'
import { rethrowNotImplemented } from './runtime.ts'

export const MINIDOCKER = fileURLToPath(new URL('../../bin/minidocker.cjs', import.meta.url))

/** `docker run ARGS...` (28.2.2) or `minidocker run ARGS...` against the daemon at `host`: its argv, and its environment. */
export function runCommand(client: 'docker' | 'minidocker', host: string, args: string[]): [string[], NodeJS.ProcessEnv] {
  return client === 'docker'
    ? [[CLIS['28.2.2'], 'run', ...args], { ...process.env, ...dockerEnv(host) }]
    : [[process.execPath, MINIDOCKER, '-H', host, 'run', ...args], { ...process.env, MINIDOCKER_HOST: '', DOCKER_HOST: '' }]
}

/** `minidocker ARGS` with this test run's choice of chapters; `host` goes in as -H unless env names it. */
export async function minidocker(args: string[], options: { input?: string; env?: Record<string, string>; timeout?: number } = {}): Promise<DockerResult> {
  const result = await execa(process.execPath, [MINIDOCKER, ...args], {
    env: { MINIDOCKER_HOST: '', DOCKER_HOST: '', ...options.env }, input: options.input ?? '', reject: false,
    timeout: options.timeout ?? 30_000, stripFinalNewline: false,
  })
  throwIfUnwritten(String(result.stderr))
  if (result.timedOut) throw new Error(`minidocker ${args.join(' ')} did not finish in ${options.timeout ?? 30_000} ms: what was it still waiting for, and could that still come?`)
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 }
}

/** The docker CLI's words with its own name read as minidocker's: "docker: ...", "Run 'docker run --help'". */
export const asMinidocker = (text: string) => text.replace(/^docker: /gm, 'minidocker: ').replaceAll("'docker ", "'minidocker ").replaceAll('Usage:  docker ', 'Usage:  minidocker ')

/**
 * Two request logs compared without showing the witness's: the same, or the first's requests up
 * to the first one the second did not have at that place.
 */
export function partedAt(mine: string[], theirs: string[]): string {
  const at = mine.findIndex((request, i) => request !== theirs[i])
  if (at === -1 && mine.length === theirs.length) return 'the same requests, in the same order'
  if (at === -1) return `${mine.join(' → ')} → (yours ends here; docker's does not)`
  return `${mine.slice(0, at + 1).join(' → ')} (docker sent another request here)`
}

/** IDs, times and sizes out of the way; table cells split apart (their widths follow from the masked values). */
export function masked(text: string): string[][] {
  return text
    .replace(/\b[a-f0-9]{64}\b/g, 'ID').replace(/\b[a-f0-9]{12}\b/g, 'ID')
    .replace(/(Less than a second|About an? \w+|\d+ \w+)( ago)?/g, 'TIME').replace(/\b[\d.]+[kMG]?B\b/g, 'SIZE')
    .split('\n').map((line) => line.split(/ {3,}/))
}

export interface Proxy {
  host: string
  /** "METHOD /path?query" of every request so far, in arrival order */
  requests: string[]
  /** the body of each request that had one, by its "METHOD /path?query", in arrival order (hijacked ones left out) */
  bodies: [string, string][]
  /** what the client sent on each hijacked connection after its request, by its "METHOD /path?query" */
  hijacked: [string, Buffer[]][]
  /** every connection through the proxy closed under its client, as a daemon that went away */
  cut(): void
  /** the answer to the next request whose "METHOD /path?query" matches `rule.route` handled as `rule` says */
  meddle(rule: Meddling): void
  /** resolves once the answer to a request matching `route` has reached its client whole (a hijacked stream: its end) */
  answered(route: RegExp): Promise<void>
  /** resolves once the answer to a request matching `route` has carried `text` to its client */
  carried(route: RegExp, text: string): Promise<void>
  /** the rules not yet used and the watches not yet resolved dropped, for the next run */
  clear(): void
  stop(): Promise<void>
}

/** A daemon answering out of the order a quiet one shows: one answer held back, replaced, or cut. */
export interface Meddling {
  route: RegExp
  /** the answer, head included, held back until this settles (at most 20 s, so that no client's order can hang a test) */
  hold?: Promise<unknown>
  /** once held, this answer is sent in place of the daemon's, as a daemon's error */
  fail?: { status: number; message: string }
  /** the connection closed under the client, as the daemon's side would close it: once this settles, or once the answer has carried this text (nothing after it) */
  cut?: Promise<unknown> | string
  /** a hijacked stream: what the daemon sends after this text, its end included, held back until `hold` settles (the text itself goes on) */
  after?: string
}

interface Watch {
  route: RegExp
  text?: string
  resolve(): void
}

/**
 * A unix socket at DIR/proxy.sock that forwards to `daemonSocket` and records each request;
 * meddle() makes it hold back, replace or cut one chosen answer, hijacked streams included.
 */
export async function loggingProxy(dir: string, daemonSocket: string): Promise<Proxy> {
  const path = join(dir, 'proxy.sock')
  const requests: string[] = []
  const bodies: [string, string][] = []
  const hijacked: [string, Buffer[]][] = []
  const open = new Set<Socket>()
  let rules: Meddling[] = []
  let watches: Watch[] = []
  /** the rule for this request, used once */
  const ruleFor = (line: string) => {
    const rule = rules.find((r) => r.route.test(line))
    rules = rules.filter((r) => r !== rule)
    return rule
  }
  /** what the answer to `line` has carried so far, or that it has ended (undefined) */
  const notice = (line: string, sofar?: string) => {
    const done = watches.filter((w) => w.route.test(line) && (w.text === undefined ? sofar === undefined : sofar?.includes(w.text)))
    watches = watches.filter((w) => !done.includes(w))
    done.forEach((w) => w.resolve())
  }
  const held = (rule: Meddling | undefined, then: () => void) => {
    if (!rule?.hold) return then()
    // at most 20 s, so no client's order may hang a test; whichever comes first, once
    let gone = false
    const go = () => gone || ((gone = true), clearTimeout(timer), then())
    const timer = setTimeout(go, 20_000).unref()
    rule.hold.then(go, go)
  }
  /** `close` once rule.cut settles; a text is the caller's to look for */
  const cutting = (rule: Meddling | undefined, close: () => void) => {
    if (rule?.cut instanceof Promise) rule.cut.then(close, close)
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const line = `${req.method} ${req.url}`
    requests.push(line)
    const rule = ruleFor(line)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => chunks.length > 0 && bodies.push([line, Buffer.concat(chunks).toString()]))
    const upstream = request({ socketPath: daemonSocket, method: req.method, path: req.url, headers: req.headers }, (answer) => held(rule, () => {
      if (rule?.fail) {
        answer.resume()
        res.writeHead(rule.fail.status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify({ message: rule.fail.message })}\n`)
        return notice(line)
      }
      res.writeHead(answer.statusCode!, answer.statusMessage, answer.headers)
      res.flushHeaders() // the wait's headers must go on at once, as the daemon sent them
      let sofar = ''
      answer.on('data', (chunk: Buffer) => {
        res.write(chunk)
        notice(line, (sofar += chunk))
      })
      answer.on('end', () => res.end(() => notice(line)))
    }))
    upstream.on('error', () => res.destroy())
    cutting(rule, () => (res.socket?.destroy(), upstream.destroy()))
    req.pipe(upstream)
  })
  server.keepAliveTimeout = 0 // idle connections stay open, as dockerd behind it keeps them (lib/engine-http.ts)
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const line = `${req.method} ${req.url}`
    requests.push(line)
    const rule = ruleFor(line)
    const upstream = createConnection(daemonSocket)
    open.add(client).add(upstream)
    const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`), '', '']
    upstream.write(lines.join('\r\n'))
    upstream.write(head)
    const sent = [head]
    hijacked.push([line, sent])
    client.on('data', (chunk: Buffer) => sent.push(chunk))
    client.pipe(upstream)
    let sofar = ''
    const cutAt = typeof rule?.cut === 'string' ? rule.cut : undefined
    // with `after`, the stream from just past that text on, its end included, waits in `tail` until `hold` settles
    let tail: (Buffer | 'end')[] | undefined
    const holdAt = rule?.hold && rule.after !== undefined ? rule.after : undefined
    const pass = (chunk: Buffer) => (client.write(chunk), notice(line, (sofar += chunk)))
    const ended = () => client.end(() => notice(line))
    upstream.on('data', (chunk: Buffer) => {
      if (tail) return void tail.push(chunk)
      const from = holdAt === undefined ? -1 : (sofar + chunk).indexOf(holdAt)
      if (from >= 0) {
        const upTo = from + holdAt!.length - sofar.length
        if (upTo > 0) pass(chunk.subarray(0, upTo))
        tail = upTo < chunk.length ? [chunk.subarray(upTo)] : []
        held(rule, () => {
          for (const piece of tail!.splice(0)) piece === 'end' ? ended() : pass(piece)
          tail = undefined
        })
        return
      }
      const at = cutAt === undefined ? -1 : (sofar + chunk).indexOf(cutAt)
      if (at < 0) return void pass(chunk)
      // the daemon's side closes right after the text: the client reads its end, and the container runs on
      client.end(chunk.subarray(0, at + cutAt!.length - sofar.length))
      upstream.destroy()
      notice(line, sofar + cutAt)
    })
    upstream.on('end', () => (tail ? tail.push('end') : ended()))
    cutting(rule, () => (client.destroy(), upstream.destroy()))
    for (const s of [client, upstream]) s.on('error', () => { client.destroy(); upstream.destroy() })
  })
  server.on('connection', (s) => { open.add(s); s.on('close', () => open.delete(s)) })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  const watch = (route: RegExp, text?: string) => new Promise<void>((resolve) => watches.push({ route, text, resolve }))
  return {
    host: `unix://${path}`,
    requests,
    bodies,
    hijacked,
    cut: () => {
      for (const s of open) s.destroy()
    },
    meddle: (rule) => void rules.push(rule),
    answered: (route) => watch(route),
    carried: (route, text) => watch(route, text),
    clear: () => {
      rules = []
      watches = []
    },
    stop: () => new Promise((resolve) => {
      for (const s of open) s.destroy()
      server.close(() => resolve())
    }),
  }
}

/** The requests with IDs and the version prefix's number masked and query keys sorted, for comparison. */
export const requestShape = (requests: string[]) => requests.map((r) => {
  const [method, url] = r.split(' ') as [string, string]
  const [path, query] = url.split('?')
  const keys = [...new URLSearchParams(query ?? '')].map(([k, v]) => (k === 'condition' || k === 'signal' ? `${k}=${v}` : k)).sort()
  return `${method} ${path!.replace(/[a-f0-9]{64}/g, 'ID')}${keys.length ? `?${keys.join('&')}` : ''}`
})

/**
 * `argv` in a pseudo-terminal of script(1)'s, typed at as a person types: once `ready` has
 * appeared in its output (and `before` has settled), each of `keys` is written alone, `gap` ms
 * apart, so that each is a read of its own; an array of bytes is written at once, one read of
 * several bytes, as a paste. Resolves at its exit, or `deadline` ms after the last key, when
 * the script is ended by its PID (code undefined) and the pty's hang-up ends what ran in it.
 * `ready` is waited for `readyWithin` ms (30 s unless told), then the keys go all the same.
 */
export async function typeInTerminal(argv: string[], keys: (number | number[])[], options: { ready: string; env: Record<string, string>; gap?: number; deadline?: number; readyWithin?: number; before?: Promise<unknown> }): Promise<{ output: string; code?: number }> {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const script = execa('script', ['-qec', quoted, '/dev/null'], { env: options.env, reject: false, stdin: 'pipe', buffer: false, timeout: 60_000 })
  let output = ''
  script.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  let exited = false
  const done = script.then((r) => ((exited = true), r))
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  for (const start = Date.now(); !output.includes(options.ready) && !exited && Date.now() - start < (options.readyWithin ?? 30_000);) await wait(50)
  if (options.before && !exited) await Promise.race([options.before, done])
  for (const key of exited ? [] : keys) {
    script.stdin!.write(Buffer.from(typeof key === 'number' ? [key] : key))
    await wait(options.gap ?? 80)
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), options.deadline ?? 6000)))
  const result = await Promise.race([done, late])
  clearTimeout(timer)
  if (!result) {
    script.kill('SIGKILL')
    await done
  }
  rethrowNotImplemented(output)
  // the terminal's line ends, and script's echo of its end of input, are not the program's
  return { output: output.replace(/\r|\^D$/g, ''), code: result ? result.exitCode : undefined }
}

/**
 * `argv` in a pseudo-terminal of script(1)'s, 24 rows by 80 columns, started from a shell that
 * notes `stty -g` before and after. Once `ready` has appeared in the output, `act` runs: a
 * signal named in its answer is sent by that shell to `argv`, which it has not reaped yet, so
 * the PID is still argv's; `{ sh }` is run by that shell, at the terminal (`stty rows 30`
 * resizes it). An `argv` still running `deadline` ms after `act` is killed. Resolves with the
 * output as the terminal got it (raw: a bare \n is a line written while the terminal was
 * raw), the exit code (undefined: killed at the deadline), and whether the terminal read the
 * same after.
 */
export async function endInTerminal(argv: string[], options: { ready: string; env: Record<string, string>; act?: () => string | { sh: string } | void | Promise<string | { sh: string } | void>; deadline?: number }): Promise<{ output: string; code?: number; restored: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-tty-'))
  try {
    const go = join(dir, 'go')
    const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    const pidFile = join(dir, 'pid')
    const shell = `stty rows 24 cols 80; before=$(stty -g); ${quoted} </dev/tty & pid=$!; echo $pid > ${pidFile}; while [ ! -e ${go} ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; [ -s ${go} ] && . ${go}; wait $pid; code=$?; [ "$before" = "$(stty -g)" ] && r=restored || r=changed; printf '@terminal-%s @code=%s' $r $code`
    const script = execa('script', ['-qec', shell, '/dev/null'], { env: options.env, reject: false, stdin: 'pipe', buffer: false, timeout: 60_000 })
    let output = ''
    script.stdout!.on('data', (chunk: Buffer) => (output += chunk))
    let exited = false
    const done = script.then((r) => ((exited = true), r))
    for (const start = Date.now(); !output.includes(options.ready) && !exited && Date.now() - start < 30_000;) await new Promise((r) => setTimeout(r, 50))
    const act = !exited && (await options.act?.())
    writeFileSync(go, typeof act === 'string' ? `kill -${act} $pid` : act ? act.sh : '')
    let timer: ReturnType<typeof setTimeout> | undefined
    let killed = false
    if (options.deadline !== undefined) {
      // the shell has not reaped argv while it waits for it: the PID is still argv's
      timer = setTimeout(() => {
        if (exited) return
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL')
          killed = true
        } catch {} // reaped a moment ago: the shell is printing its end
      }, options.deadline)
    }
    await done
    clearTimeout(timer)
    rethrowNotImplemented(output)
    const end = /@terminal-(\w+) @code=(\d+)$/.exec(output)
    return { output: output.slice(0, end?.index), code: end && !killed ? Number(end[2]) : undefined, restored: end?.[1] === 'restored' }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
