/**
 * The Engine API client's transport: HTTP/1.1 over the daemon's unix socket, the `_ping`
 * that opens every command and fixes the API version, the daemon's errors in the docker
 * CLI's words, and the hijacked connections of attach and exec.
 */
import { request, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'

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
  // TODO(12): the one version both sides speak (the text's "Ping and the version").
  //   1. Neither side may be asked for more than it speaks.
  //   2. What is a version made of, and how does moby compare two of them? Try your
  //      comparison on versions the tests' daemons could announce, old and new.
  //   3. What does a daemon that announces nothing speak?
  //   Where to look: moby's client/client.go (NegotiateAPIVersion, negotiateAPIVersionPing)
  //   and api/types/versions (compare, LessThan). The tests ask docker 20.10, which speaks
  //   1.41 as minidocker does, what it chose.
  throw new NotImplementedError('12-client', 'negotiate')
}
// #endregion negotiate

export class Engine extends EngineBase {
  // #region connect
  /**
   * A client of the daemon at `host`, its version fixed by the ping every command starts
   * with; no daemon there is connectError's sentence.
   */
  static async connect(host: string): Promise<Engine> {
    // TODO(12): the request every command starts with (the text's "Ping and the version";
    //   moby's client/ping.go).
    //   1. What the daemon speaks is in the answer's headers, and every later call and
    //      upgrade of this Engine must use what you make of it.
    //   2. The answer has no body, yet a response nobody reads keeps its kept-alive
    //      connection from the next request.
    //   3. EngineBase's send() (lib/client.ts) reports a failed connection as Node's own
    //      error; the user must see connectError's sentence instead.
    throw new NotImplementedError('12-client', 'connect')
  }
  // #endregion connect

  // #region call
  /**
   * One API call at the negotiated version, the query as the CLI encodes it, the body as
   * JSON. The response is handed over unread (pulls and logs stream); a status of 400 and
   * above is a DaemonError with the daemon's message.
   */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    // TODO(12): every request after the ping (the text's "Requests and errors"; moby's
    //   client/request.go, sendRequest and checkResponseErr).
    //   1. The caller names the API's path (/containers/json); the daemon must see the path
    //      of the version both sides agreed on.
    //   2. A pull or `logs -f` streams for minutes: a success is handed back before anything
    //      of its body is read.
    //   3. An error's body is usually {"message": ...}, but a proxy or an old daemon may answer
    //      plain text: the user sees the daemon's words either way, never a JSON parse error.
    //   4. A daemon that went away since the ping reads as it would at the ping.
    throw new NotImplementedError('12-client', 'call')
  }
  // #endregion call

  // #region upgrade
  /**
   * attach and exec start: a POST that asks the daemon to hijack the connection. Only a `101`
   * hands it over, from then on a raw byte stream both ways, no byte of it lost; any other
   * answer fails the upgrade as the docker CLI's client fails it.
   */
  upgrade(path: string, options: RequestOptions = {}): Promise<Socket> {
    // TODO(12): a hijacked connection (the text's "Hijacking"; moby's client/hijack.go,
    //   postHijacked; node:http's documentation of the request's 'upgrade' event).
    //   1. Why can send() not serve here? What does node:http do with a 101, and what happens
    //      to a connection that was asked to upgrade and nobody took?
    //   2. The first bytes of the stream may come in the same read as the 101's headers.
    //   3. Not every answer is a 101: a container that does not exist (404), one that is not
    //      running (409), a daemon that ignores the upgrade (200). None is a stream; what
    //      does the CLI's client (setupHijackConn) say for each, and why does it never see
    //      the first two in practice?
    //   4. No daemon at the socket reads as it does for call().
    throw new NotImplementedError('12-client', 'upgrade')
  }
  // #endregion upgrade
}

// #region connectError
/**
 * A failed connection to `socket`: when there is no daemon behind it, the docker CLI's own
 * sentence for that, naming the host, exit code 1. Any other error is returned as it is.
 */
export function connectError(socket: string, error: NodeJS.ErrnoException): Error {
  // TODO(12): no daemon, in the docker CLI's words (the text's "Requests and errors").
  //   1. What does Node report when no daemon is behind the path? Make it happen: a missing
  //      path, a socket file whose server is gone, a plain file; connect(2) and unix(7).
  //      Is a socket you may not open "no daemon"? Ask docker (as another user).
  //   2. Scripts match the sentence: the tests compare yours with what the real docker
  //      prints with DOCKER_HOST naming the same path, exit code included.
  throw new NotImplementedError('12-client', 'connectError')
}
// #endregion connectError
