/**
 * Chapter 12's given pieces, shared by the starter and the reference: what `run` asks of the
 * client once the flags are parsed, the terminal it runs at, an image name as the pull query
 * spells it, and the Engine's plumbing (EngineBase: the socket, the kept-alive connections,
 * one plain HTTP request on them).
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import { familiarName, parseReference } from './reference.ts'
import { ContainerError } from './errors.ts'

/** `run` after flag parsing: the create body is built from the flags (minidocker/client.ts). */
export interface RunPlan {
  /** the image as typed */
  image: string
  name?: string
  /** the body of POST /containers/create: Image, Cmd, Env, Tty, OpenStdin, Attach*, HostConfig... */
  config: Record<string, unknown> & { HostConfig: Record<string, unknown> }
  /** -d */
  detach: boolean
  /** -i */
  interactive: boolean
  /** -t */
  tty: boolean
  /** --rm */
  autoRemove: boolean
  /** --sig-proxy (true unless --sig-proxy=false) */
  sigProxy: boolean
  /** --detach-keys as typed (undefined: not given) */
  detachKeys?: string
}

/** The client's own stdio: process.stdin and friends, or a test's streams. */
export interface Stdio {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number; setRawMode?(raw: boolean): unknown }
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

/**
 * An image name cut into its repository and its tag (or digest), each normalized as the
 * reference library does, and the familiar name the CLI shows ("busybox:latest").
 */
export function pullQuery(image: string): { fromImage: string; tag: string; familiar: string } {
  const ref = parseReference(image)
  return { fromImage: `${ref.domain}/${ref.path}`, tag: ref.digest ?? ref.tag!, familiar: familiarName(ref) }
}

/** The newest API version this client speaks: 1.41's streams and fields, as dockerd 20.10 serves them. */
export const CLIENT_API_VERSION = '1.41'

/** Where the daemon listens when no host is named (minidockerd's default). */
export const DEFAULT_SOCKET = '/run/minidocker/minidocker.sock'

/** A request's query, body and extra headers. */
export interface RequestOptions {
  query?: Record<string, string | undefined>
  /** sent as JSON */
  body?: unknown
  headers?: Record<string, string>
  /** cuts the request, or its answer's stream, when it aborts (Node's AbortError) */
  signal?: AbortSignal
}

/** The daemon answered with an error status: `message` is its `{"message"}`. */
export class DaemonError extends ContainerError {
  constructor(readonly status: number, readonly daemonMessage: string) {
    super(`Error response from daemon: ${daemonMessage}`, 1)
    this.name = 'DaemonError'
  }
}

/**
 * A run's failure on its attach, the client's own side of the run, rather than a request the
 * daemon refused. Which of a run's failures are such, and in whose words, is for the chapter
 * to find out (the CLI's run.go and hijack.go).
 */
export class AttachError extends ContainerError {
  constructor(message: string) {
    super(message, 1)
    this.name = 'AttachError'
  }
}

/** `unix:///path` (or a bare path) as the socket's path. */
export function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length)
  if (host.startsWith('/')) return host
  throw new ContainerError(`unsupported host "${host}": minidocker speaks to a daemon on a unix socket only (unix:///path)`, 125)
}

/** `path?a=1&b=2` as Go's url.Values encodes it: keys sorted, values escaped, undefined ones left out. */
export function withQuery(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)))
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

/** A response's whole body as text; one destroyed before its end rejects (Node emits no 'error' for it). */
export function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    stream.on('error', reject)
    stream.on('close', () => reject(new Error('the body was cut before its end'))) // after an end: no effect
  })
}

/**
 * The Engine's given plumbing: the daemon's socket, a pool of kept-alive connections to it,
 * and send(), one plain HTTP/1.1 request on them. EngineClient (lib/engine-client.ts) adds
 * the ping, the version before each path and the daemon's errors, and its Engine the hijack.
 */
export abstract class EngineBase {
  /** the version after negotiation, e.g. "1.41" */
  version = ''
  readonly socket: string
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Infinity })

  constructor(readonly host: string) {
    this.socket = socketPath(host)
  }

  /** One Engine API call, answered unread (lib/engine-client.ts). */
  abstract call(method: string, path: string, options?: RequestOptions): Promise<IncomingMessage>

  /** A call whose answer is JSON (or nothing, for 204 and 304). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await readAll(await this.call(method, path, options))
    return (text ? JSON.parse(text) : undefined) as T
  }

  /** Close the kept-alive connections, so that the process can end. */
  close(): void {
    this.#agent.destroy()
  }

  /**
   * `method path` as it is given (no version added, whatever the status), the query encoded
   * by withQuery, the body as JSON; resolves at the response's headers. A connection that
   * fails rejects with Node's own error (`code` ENOENT, ECONNREFUSED...), untranslated.
   */
  protected send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    const headers: Record<string, string | number> = { 'User-Agent': 'minidocker-client', ...options.headers }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (method !== 'GET' && method !== 'HEAD') headers['Content-Length'] = Buffer.byteLength(body ?? '')
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, agent: this.#agent, method, path: withQuery(path, options.query), headers, signal: options.signal }, resolve)
      req.on('error', reject)
      req.end(body)
    })
  }
}
