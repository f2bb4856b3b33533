/**
 * The Engine API client's hijacked connections: attach and exec start, the requests that stop
 * being HTTP. The rest of the transport is given: the ping, the version and every plain call
 * (EngineClient, lib/engine-client.ts), on EngineBase's kept-alive connections (lib/client.ts).
 */
import type { Socket } from 'node:net'
import { NotImplementedError } from '../../lib/errors.ts'
import type { RequestOptions } from '../../lib/client.ts'
import { EngineClient } from '../../lib/engine-client.ts'

export { CLIENT_API_VERSION, DaemonError, DEFAULT_SOCKET, type RequestOptions } from '../../lib/client.ts'

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
    // TODO(12): a hijacked connection (the text's "Hijacking"; moby's client/hijack.go,
    //   postHijacked and setupHijackConn; node:http's documentation of the request's 'upgrade'
    //   event; call() in lib/engine-client.ts for what a request of this Engine looks like).
    //   1. Which headers ask a daemon to hijack, and why can send() not serve here? What does
    //      node:http do with a 101, and with a connection that was asked to upgrade and nobody
    //      took?
    //   2. "No byte of it lost": where could the stream's first bytes be, other than on the
    //      socket you are handed? Make a server of your own write its 101 and some bytes at once.
    //   3. Not every answer is a 101: a container that does not exist (404), one that is not
    //      running (409), a daemon that ignores the upgrade (200, and its body may go on for as
    //      long as the container runs). What becomes of the connection of an answer you refused?
    //      And after one was refused, is the next upgrade of this Engine sent as the first was?
  //   4. A daemon can also go away once it has read the request, before its answer is whole (a
  //      restart, a proxy that times out), or between the create and the attach, so that the
  //      attach cannot connect at all. At which step did your request fail then, and who in the
  //      CLI's client made that step (is it the code that made call()'s connections)? Make a
  //      daemon of your own do each, and run docker 28.2.2 against it.
    throw new NotImplementedError('12-client', 'upgrade')
  }
  // #endregion upgrade
}
