/**
 * The Engine API client's transport: HTTP/1.1 over the daemon's unix socket, the `_ping`
 * that opens every command and fixes the API version, the daemon's errors in the docker
 * CLI's words, and the hijacked connections of attach and exec.
 */
import { request, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { ContainerError } from '../../lib/errors.ts'

// Given (lib/client.ts): the versions, the default socket, the RequestOptions of a request,
// DaemonError (the daemon's error in the docker CLI's words), withQuery and readAll, and
// EngineBase: the socket, the kept-alive connections, send(), json() and close().
export { CLIENT_API_VERSION, DaemonError, DEFAULT_SOCKET, type RequestOptions } from '../../lib/client.ts'
import { CLIENT_API_VERSION, DaemonError, EngineBase, readAll, withQuery, type RequestOptions } from '../../lib/client.ts'

// #region negotiate
/**
 * The version to put in every path after `_ping`, given the daemon's Api-Version header
 * (`undefined` when it sent none) and ours, CLIENT_API_VERSION.
 */
export function negotiate(announced: string | undefined): string {
  if (!announced) return '1.24' // a daemon from before Api-Version was sent (moby's negotiateAPIVersionPing)
  const number = (v: string) => v.split('.').map(Number).reduce((major, minor) => major * 1000 + minor)
  return number(announced) < number(CLIENT_API_VERSION) ? announced : CLIENT_API_VERSION
}
// #endregion negotiate

export class Engine extends EngineBase {
  // #region connect
  /**
   * A client of the daemon at `host`, its version fixed by the ping every command starts
   * with; no daemon there is connectError's sentence.
   */
  static async connect(host: string): Promise<Engine> {
    const engine = new Engine(host)
    const ping = await engine.send('HEAD', '/_ping', {}).catch((error) => {
      throw connectError(engine.socket, error)
    })
    ping.resume()
    engine.version = negotiate(ping.headers['api-version'] as string | undefined)
    return engine
  }
  // #endregion connect

  // #region call
  /**
   * One API call at the negotiated version, the query as the CLI encodes it, the body as
   * JSON. The response is handed over unread (pulls and logs stream); a status of 400 and
   * above is a DaemonError with the daemon's message.
   */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const response = await this.send(method, `/v${this.version}${path}`, options).catch((error) => {
      throw connectError(this.socket, error)
    })
    if (response.statusCode! < 400) return response
    throw await daemonError(response)
  }
  // #endregion call

  // #region upgrade
  /**
   * attach and exec start: a POST that asks the daemon to hijack the connection. Only a `101`
   * hands it over, from then on a raw byte stream both ways, no byte of it lost; any other
   * answer fails the upgrade as the docker CLI's client fails it.
   */
  upgrade(path: string, options: RequestOptions = {}): Promise<Socket> {
    const body = options.body === undefined ? '' : JSON.stringify(options.body)
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.socket, agent: false, method: 'POST', path: `/v${this.version}${withQuery(path, options.query)}`, // a connection of its own, never pooled
        headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': Buffer.byteLength(body), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      })
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head) // stream bytes that came with the 101
        resolve(socket)
      })
      req.on('response', (res) => {
        res.resume() // setupHijackConn reads no error body: anything but a 101 is refused alike
        reject(new ContainerError(`unable to upgrade to tcp, received ${res.statusCode}`, 1))
      })
      req.on('error', (error) => reject(connectError(this.socket, error)))
      req.end(body)
    })
  }
  // #endregion upgrade
}

/** An error status as the CLI shows it: the body's {"message"}, or the body itself when it is not JSON. */
async function daemonError(response: IncomingMessage): Promise<DaemonError> {
  const text = await readAll(response)
  let message = text.trim()
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message
  } catch {} // not JSON: the text itself, as the CLI shows it
  return new DaemonError(response.statusCode!, message)
}

// #region connectError
/**
 * A failed connection to `socket`: when there is no daemon behind it, the docker CLI's own
 * sentence for that, naming the host, exit code 1. Any other error is returned as it is.
 */
export function connectError(socket: string, error: NodeJS.ErrnoException): Error {
  // EACCES is not among them: a daemon may be there, and docker says "permission denied while trying to connect"
  if (['ENOENT', 'ECONNREFUSED', 'ENOTSOCK'].includes(error.code ?? ''))
    return new ContainerError(`Cannot connect to the Docker daemon at unix://${socket}. Is the docker daemon running?`, 1)
  return error
}
// #endregion connectError
