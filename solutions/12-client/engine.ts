/**
 * The Engine API client's hijacked connections: attach and exec start, the requests that stop
 * being HTTP. The rest of the transport is given: the ping, the version and every plain call
 * (EngineClient, lib/engine-client.ts), on EngineBase's kept-alive connections (lib/client.ts).
 */
import { request } from 'node:http'
import { getSystemErrorMap } from 'node:util'
import type { Socket } from 'node:net'
import { ContainerError } from '../../lib/errors.ts'
import { withQuery, type RequestOptions } from '../../lib/client.ts'
import { EngineClient } from '../../lib/engine-client.ts'

export { CLIENT_API_VERSION, DaemonError, DEFAULT_SOCKET, type RequestOptions } from '../../lib/client.ts'

/** A hijack's dial that failed, in the words of moby's client/hijack.go (setupHijackConn) around Go's net.OpError. */
function dialError(socket: string, error: NodeJS.ErrnoException): Error {
  if (error.syscall !== 'connect' || error.errno === undefined) return error
  const words = getSystemErrorMap().get(error.errno)?.[1] ?? error.message
  return new ContainerError(`cannot connect to the Docker daemon. Is 'docker daemon' running on this host?: dial unix ${socket}: connect: ${words}`, 1)
}

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
