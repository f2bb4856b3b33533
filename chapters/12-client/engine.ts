/**
 * The Engine API client's transport: HTTP/1.1 over the daemon's unix socket, the `_ping`
 * that opens every command and fixes the API version, the daemon's errors in the docker
 * CLI's words, and the hijacked connections of attach and exec.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

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
  // TODO(12): the version every later path starts with (the text's "Ping and the version").
  //   1. Which header of the ping's answer says what the daemon speaks, and what does a client do
  //      when the daemon is older than itself? When it is newer?
  //   2. What does moby's client assume when the header is missing altogether?
  //   3. How do you compare "1.9" with "1.41" so that 1.41 is the newer one?
  throw new NotImplementedError('12-client', 'negotiate')
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
    // TODO(12): the first request of every command (the text's "Ping and the version").
    //   1. Which method and path does the docker CLI send first, and what in the answer does it keep?
    //   2. Where does the negotiated version go, so that call() and upgrade() use it?
    //   3. The answer has no body to read, but must the response still be consumed so the
    //      connection is free for the next request?
    throw new NotImplementedError('12-client', 'connect')
  }
  // #endregion connect

  // #region call
  /**
   * One API call: `/vNN` before the path, the query as the CLI encodes it, the body as JSON.
   * The response is handed over unread (pulls and logs stream); a status of 400 and above is
   * a DaemonError with the body's message.
   */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    // TODO(12): one Engine API call (moby client/request.go, the text's "Requests and errors").
    //   1. What goes before the path after the ping, and which private method sends it?
    //   2. Which statuses are errors? What is in an error's body, and what if it is not JSON?
    //   3. A pull or a log streams for a long time: why hand the response back unread?
    throw new NotImplementedError('12-client', 'call')
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
  async upgrade(path: string, options: RequestOptions = {}): Promise<Socket> {
    // TODO(12): a hijacked connection (moby client/hijack.go, the text's "Hijacking").
    //   1. Which two request headers ask the daemon to turn the connection into a raw stream, and
    //      which status says it did? How does node:http tell you about that status?
    //   2. Bytes of the stream may arrive together with the 101: where do they go so none is lost?
    //   3. What if the daemon answers with a normal response instead (a 404, a 409)? The docker CLI
    //      refuses anything but 101 with "unable to upgrade to tcp, received STATUS".
    //   4. A connection that fails must give the same sentence as call(): where is that sentence made?
    throw new NotImplementedError('12-client', 'upgrade')
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
  // TODO(12): no daemon at the socket, in the docker CLI's words (the text's "Requests and errors").
  //   1. Which errno codes mean "nothing listens there" (no file, nobody accepting, not a socket, no permission)?
  //   2. The CLI's sentence names the host as unix://PATH and asks whether the daemon is running:
  //      run the real docker with DOCKER_HOST pointing at a missing socket and copy its words.
  //   3. Which exit code does the CLI give it, and what happens to other errors?
  throw new NotImplementedError('12-client', 'connectError')
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
