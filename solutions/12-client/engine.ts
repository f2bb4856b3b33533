/**
 * The Engine API client's transport: HTTP/1.1 over the daemon's unix socket, the `_ping`
 * that opens every command and fixes the API version, the daemon's errors in the docker
 * CLI's words, and the hijacked connections of attach and exec.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { ContainerError } from '../../lib/errors.ts'

// Given (lib/client.ts): CLIENT_API_VERSION, FALLBACK_API_VERSION, DEFAULT_SOCKET, the
// RequestOptions of a request and DaemonError, the daemon's error in the docker CLI's words.
export { CLIENT_API_VERSION, DaemonError, DEFAULT_SOCKET, FALLBACK_API_VERSION, type RequestOptions } from '../../lib/client.ts'
import { CLIENT_API_VERSION, DaemonError, FALLBACK_API_VERSION, type RequestOptions } from '../../lib/client.ts'

// #region negotiate
/**
 * The version to put in every path after `_ping`: the lower of ours and the daemon's
 * Api-Version; a daemon that announces none is an old one, spoken to at 1.24.
 */
export function negotiate(announced: string | undefined): string {
  if (!announced) return FALLBACK_API_VERSION
  const number = (v: string) => v.split('.').map(Number).reduce((major, minor) => major * 1000 + minor)
  return number(announced) < number(CLIENT_API_VERSION) ? announced : CLIENT_API_VERSION
}
// #endregion negotiate

/** `unix:///path` (or a bare path) as the socket's path. */
export function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length)
  if (host.startsWith('/')) return host
  throw new ContainerError(`unsupported host "${host}": minidocker speaks to a daemon on a unix socket only (unix:///path)`, 125)
}

export class Engine {
  /** the version after negotiation, e.g. "1.41" */
  version = ''
  readonly socket: string
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Infinity })

  constructor(readonly host: string) {
    this.socket = socketPath(host)
  }

  // #region connect
  /** A client of the daemon at `host`, after the `HEAD /_ping` every command starts with. */
  static async connect(host: string): Promise<Engine> {
    const engine = new Engine(host)
    const ping = await engine.#send('HEAD', '/_ping', {})
    ping.resume()
    engine.version = negotiate(ping.headers['api-version'] as string | undefined)
    return engine
  }
  // #endregion connect

  // #region call
  /**
   * One API call: `/vNN` before the path, the query as the CLI encodes it, the body as JSON.
   * The response is handed over unread (pulls and logs stream); a status of 400 and above is
   * a DaemonError with the body's message.
   */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const response = await this.#send(method, `/v${this.version}${path}`, options)
    if (response.statusCode! < 400) return response
    const text = await readAll(response)
    let message = text.trim()
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message
    } catch {} // not JSON: the text itself, as the CLI shows it
    throw new DaemonError(response.statusCode!, message)
  }
  // #endregion call

  /** A call whose answer is JSON (or nothing, for 204 and 304). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await readAll(await this.call(method, path, options))
    return (text ? JSON.parse(text) : undefined) as T
  }

  // #region upgrade
  /**
   * attach and exec start: the request asks for `Upgrade: tcp`, and only a `101` hands over
   * the connection, now a raw byte stream both ways; anything else is the daemon's error.
   */
  upgrade(path: string, options: RequestOptions = {}): Promise<Socket> {
    const body = options.body === undefined ? '' : JSON.stringify(options.body)
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.socket, method: 'POST', path: `/v${this.version}${withQuery(path, options.query)}`,
        headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': Buffer.byteLength(body), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      })
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head) // stream bytes that came with the 101
        resolve(socket)
      })
      req.on('response', (res) => {
        readAll(res).then((text) => {
          let message = text.trim()
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message
          } catch {}
          reject(res.statusCode! >= 400 ? new DaemonError(res.statusCode!, message) : new ContainerError(`unable to upgrade to tcp, received ${res.statusCode}`, 1))
        }, reject)
      })
      req.on('error', (error) => reject(connectError(this.socket, error)))
      req.end(body)
    })
  }
  // #endregion upgrade

  /** Close the kept-alive connections, so that the process can end. */
  close(): void {
    this.#agent.destroy()
  }

  #send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    const headers: Record<string, string | number> = { 'User-Agent': 'minidocker-client', ...options.headers }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (method !== 'GET' && method !== 'HEAD') headers['Content-Length'] = Buffer.byteLength(body ?? '')
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, agent: this.#agent, method, path: withQuery(path, options.query), headers }, resolve)
      req.on('error', (error) => reject(connectError(this.socket, error)))
      req.end(body)
    })
  }
}

// #region connectError
/** A failed connection to `socket`: no daemon behind it is the CLI's own sentence, naming the host. */
export function connectError(socket: string, error: NodeJS.ErrnoException): Error {
  if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes(error.code ?? ''))
    return new ContainerError(`Cannot connect to the Docker daemon at unix://${socket}. Is the docker daemon running?`, 1)
  return error
}
// #endregion connectError

/** `path?a=1&b=2` as Go's url.Values encodes it: keys sorted, values escaped, undefined ones left out. */
export function withQuery(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)))
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

/** A response's whole body as text. */
export function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    stream.on('error', reject)
  })
}
