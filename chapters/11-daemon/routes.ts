/**
 * Chapter 11: the Engine API's routes, as moby's api/server/router/{system,image,container}
 * declare them, and what each answers: status codes, JSON shapes and the order in which
 * headers and bodies go out. The container life behind them is daemon.ts's.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { release } from 'node:os'
import { constants } from 'node:os'
import type { ServerResponse } from 'node:http'
import { allImageIds, removeImage, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { writeUpgradeHead, type EngineCall } from '../../lib/engine-http.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { apiPath, API_VERSION, badRequest, engineHeaders, EngineError, MIN_API_VERSION, noSuchImage } from './api.ts'
import { execStartRoute, sendError, sendJson } from '../../lib/engine-reply.ts'
import { checkCreateBody, flag, jsonBody } from '../../lib/engine.ts'
import { containerSummary, imageRef, imageSummary, inspectContainer, inspectExec, inspectImage, systemInfo, VERSION } from '../../minidocker/engine-views.ts'
import type { Daemon, Exec } from './daemon.ts'
import { stateWord, type Container } from './records.ts'
import { frame, logOptions, readLog } from './streams.ts'

// #region signalNumber
export { imageRef, inspectContainer, VERSION } from '../../minidocker/engine-views.ts'

/** A signal as `docker kill -s` sends it: "KILL", "SIGKILL" or "9"; unknown is a 400 "Invalid signal: X". */
export function signalNumber(text: string | null, fallback: number): number {
  // TODO(11): a signal as the CLI sends it (moby pkg/signal ParseSignal).
  //   1. Which spellings name SIGKILL? Node knows the numbers (os.constants.signals).
  //   2. What answers an unknown name?
  throw new NotImplementedError('11-daemon', 'signalNumber')
}
// #endregion signalNumber

// #region listContainers
/**
 * `docker ps`: running containers, or all with `all`; newest first; `filters` is a JSON map
 * from each key to the values it takes, as the CLI sends it ({"name": {"web": true}}) or as
 * API versions before 1.22 did ({"name": ["web"]}): `status` (created, running, exited),
 * `name` (a substring of the name), `id` (a prefix), `label` ("key" or "key=value"). A
 * filters value that is not such JSON is a 400.
 */
export function listContainers(containers: Iterable<Container>, query: URLSearchParams) {
  // TODO(11): docker ps (moby daemon/list.go).
  //   1. Which containers without `all`? Which order?
  //   2. filters is JSON: which keys does the doc comment ask for, and what does a status filter do to `all`?
  //      What answers filters that are not JSON?
  throw new NotImplementedError('11-daemon', 'listContainers')
}
// #endregion listContainers

/** Chunked response headers, sent at once (wait, logs, pull stream their bodies later). */
function streamHeaders(res: ServerResponse, contentType?: string): void {
  res.writeHead(200, { ...engineHeaders(), ...(contentType ? { 'Content-Type': contentType } : {}) })
  res.flushHeaders()
}

// #region pull
/**
 * `POST /images/create?fromImage=&tag=`: chapter 07's pull with its progress as a stream of
 * JSON objects. A missing repository or tag must reach the CLI as a plain 404 (500 for other
 * errors), even though chapter 07 reports progress before it knows; an error once the stream
 * has begun is an `{"errorDetail":{"message":M},"error":M}` object at its end.
 */
async function pull(daemon: Daemon, call: EngineCall, res: ServerResponse): Promise<void> {
  // TODO(11): POST /images/create (moby api/server/router/image/image_routes.go postImagesCreate).
  //   1. Join fromImage and tag into one reference: what if the tag is a digest?
  //   2. The CLI shows a plain error only before the stream starts; after that, errors travel inside it.
  //      So when do you send the headers, and what do you do with a progress message that comes first?
  //   3. The stream is JSON objects, one after the other, each ending in CRLF.
  throw new NotImplementedError('11-daemon', 'pull')
}
// #endregion pull

// #region waitRoute
/**
 * `POST /containers/{id}/wait?condition=`: the body `{"Error":null,"StatusCode":N}` when the
 * condition holds, and `docker run` must not hang: the text's "The choreography of docker run"
 * shows what the CLI waits for before it sends start. A client that goes away stops the waiting.
 */
function waitRoute(daemon: Daemon, c: Container, call: EngineCall, res: ServerResponse): void {
  // TODO(11): the wait request (moby api/server/router/container/container_routes.go postContainersWait).
  //   1. An HTTP answer is a head and a body: which part does the CLI need before it sends start, and which
  //      can only come at the exit? Node's ServerResponse sends its head lazily: how do you make it go now?
  //   2. What happens to the waiting when the client goes away?
  throw new NotImplementedError('11-daemon', 'waitRoute')
}
// #endregion waitRoute

// #region logsRoute
/**
 * `GET /containers/{id}/logs`: the json-file log as frames (raw bytes for a tty), neither
 * stream asked for is a 400 "You must choose at least one stream". Without `follow` the body
 * ends when the log is read; with it, new lines go out as they come until the container has
 * stopped.
 */
async function logsRoute(daemon: Daemon, c: Container, call: EngineCall, res: ServerResponse): Promise<void> {
  // TODO(11): GET /containers/{id}/logs (moby daemon/logs.go).
  //   1. Which query asks for which stream, and what answers a request for neither?
  //   2. Frames or raw bytes: what decides?
  //   3. follow: keep reading from where you stopped until the container has stopped, and stop when the
  //      client goes away.
  throw new NotImplementedError('11-daemon', 'logsRoute')
}
// #endregion logsRoute

// #region route
/**
 * Answer one request. The path's version prefix goes first (apiPath); then the route by
 * method and path, a container or image name being everything between the fixed parts
 * (image names hold slashes). A route this daemon does not have answers 501 naming it.
 * Every error becomes the `{"message"}` answer dockerd gives, or, on a hijacked connection,
 * a plain HTTP error response before the upgrade.
 */
export async function route(daemon: Daemon, call: EngineCall): Promise<void> {
  // TODO(11): dispatch one request (moby api/server/router/*: the routes and their methods).
  //   1. The version prefix first (apiPath). _ping answers HEAD and GET with the headers of the captured
  //      ping and no JSON. Which requests arrive with a socket instead of a response (attachRoute)?
  //   2. The text's figure and sections: which method and path for each command, which status for each
  //      answer (the Engine API reference lists them; the CLI acts on 304)? A name may hold "/" in an image
  //      path, never in a container's.
  //   3. Every error ends as Docker's {"message"} answer with its status, even on a hijacked socket
  //      (there: a plain HTTP answer before any upgrade). What answers a route you do not have?
  throw new NotImplementedError('11-daemon', 'route')
}
// #endregion route

// #region attachRoute
/**
 * `POST /containers/{id}/attach` with `Upgrade: tcp`: answer `101 UPGRADED` (content type
 * application/vnd.docker.raw-stream, Connection and Upgrade echoed), then hand the socket to
 * the container. Anything else asking to upgrade is a 501.
 */
function attachRoute(daemon: Daemon, call: EngineCall, path: string): void {
  // TODO(11): the hijack (moby api/server/router/container/container_routes.go postContainersAttach).
  //   1. What does the client accept as the answer to an upgrade (status line, content type, Connection and
  //      Upgrade)? lib/engine-http.ts writes a status line and headers on a socket.
  //   2. Then the socket belongs to the container: the daemon's attach() does the rest.
  throw new NotImplementedError('11-daemon', 'attachRoute')
}
// #endregion attachRoute

