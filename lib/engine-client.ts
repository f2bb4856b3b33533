/**
 * Chapter 12's given requests: the `_ping` that opens every command and fixes the API version,
 * every later call at that version with the daemon's errors in the docker CLI's words, the
 * CLI's sentence for a daemon that is not there, and the one request that is not plain HTTP:
 * the hijack of attach and exec start (Engine.upgrade).
 */
import { request, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { getSystemErrorMap } from 'node:util'
import { ContainerError } from './errors.ts'
import { CLIENT_API_VERSION, DaemonError, EngineBase, readAll, withQuery, type RequestOptions } from './client.ts'

// #region negotiate
/**
 * The version to put in every path after `_ping`, given the daemon's Api-Version header
 * (`undefined` when it sent none) and ours, CLIENT_API_VERSION: the lower of the two, compared
 * as moby's api/types/versions compares them (each part a number), 1.24 for a daemon that
 * announces nothing (moby's client/client.go, negotiateAPIVersionPing).
 */
export function negotiate(announced: string | undefined): string {
  if (!announced) return '1.24' // a daemon from before Api-Version was sent
  const number = (v: string) => v.split('.').map(Number).reduce((major, minor) => major * 1000 + minor)
  return number(announced) < number(CLIENT_API_VERSION) ? announced : CLIENT_API_VERSION
}
// #endregion negotiate

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

/** An error status as the CLI shows it: the body's {"message"}, or the body itself when it is not JSON. */
async function daemonError(response: IncomingMessage): Promise<DaemonError> {
  const text = await readAll(response)
  let message = text.trim()
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message
  } catch {} // not JSON: the text itself, as the CLI shows it
  return new DaemonError(response.statusCode!, message)
}

/** EngineBase with the ping and the versioned calls: what every command of the client sends. */
export abstract class EngineClient extends EngineBase {
  // #region connect
  /**
   * A client of the daemon at `host`, its version fixed by the ping every command starts
   * with (moby's client/ping.go); no daemon there is connectError's sentence.
   */
  static async connect<T extends EngineClient>(this: new (host: string) => T, host: string): Promise<T> {
    const engine = new this(host)
    const ping = await engine.send('HEAD', '/_ping', {}).catch((error) => {
      throw connectError(engine.socket, error)
    })
    ping.resume() // no body, but a response nobody reads keeps its kept-alive connection
    engine.version = negotiate(ping.headers['api-version'] as string | undefined)
    return engine
  }
  // #endregion connect

  // #region call
  /**
   * One API call at the negotiated version, the query as the CLI encodes it, the body as
   * JSON. The response is handed over unread (pulls and logs stream); a status of 400 and
   * above is a DaemonError with the daemon's message, JSON or not (moby's client/request.go,
   * checkResponseErr).
   */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const response = await this.send(method, `/v${this.version}${path}`, options).catch((error) => {
      throw connectError(this.socket, error)
    })
    if (response.statusCode! < 400) return response
    throw await daemonError(response)
  }
  // #endregion call
}

/** A hijack's dial that failed, in the words of moby's client/hijack.go (setupHijackConn) around Go's net.OpError. */
function dialError(socket: string, error: NodeJS.ErrnoException): Error {
  if (error.syscall !== 'connect' || error.errno === undefined) return error
  const words = getSystemErrorMap().get(error.errno)?.[1] ?? error.message
  return new ContainerError(`cannot connect to the Docker daemon. Is 'docker daemon' running on this host?: dial unix ${socket}: connect: ${words}`, 1)
}

/** The client of the Engine API: the plain calls, and the hijacked connections of attach and exec start. */
export class Engine extends EngineClient {
  // #region upgrade
  /**
   * attach and exec start: a POST that asks the daemon to hijack the connection. Only a `101`
   * hands it over, from then on a raw byte stream both ways, no byte of it lost. Any other
   * answer is refused as the docker CLI's client refuses it (moby's client/hijack.go; scripts
   * match its words, and so do the tests). A connection that cannot be made, or ends before
   * its answer, fails in the words of the CLI's client at that step.
   */
  async upgrade(path: string, options: RequestOptions = {}): Promise<Socket> {
    const body = options.body === undefined ? '' : JSON.stringify(options.body)
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.socket, agent: false, method: 'POST', path: `/v${this.version}${withQuery(path, options.query)}`, // a connection of its own, never pooled
        headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': Buffer.byteLength(body), ...(body ? { 'Content-Type': 'application/json' } : {}) },
        signal: options.signal, // until the answer: the hijacked connection is the caller's after it
      })
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head) // stream bytes that came with the 101
        resolve(socket)
      })
      req.on('response', (res) => {
        // setupHijackConn reads no error body, and closes the connection it refused: a daemon that
        // ignores the upgrade streams on in a plain response for as long as the container runs
        res.destroy()
        reject(new ContainerError(`unable to upgrade to tcp, received ${res.statusCode}`, 1))
      })
      // a connection that ends before the answer is whole was made, and the request sent: the
      // CLI's client fails as its HTTP reader does, not as a dial does. And a dial that fails is
      // not call()'s either: setupHijackConn dials by itself and wraps the dial's error in a
      // sentence of its own, Go's words for the errno included
      req.on('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ECONNRESET' ? new ContainerError('unexpected EOF', 1) : dialError(this.socket, error)))
      req.end(body)
    })
  }
  // #endregion upgrade
}
