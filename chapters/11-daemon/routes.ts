/**
 * Chapter 11: the Engine API's routes, as moby's api/server/router/{system,image,container}
 * declare them, and what each answers: status codes, JSON shapes and the order in which
 * headers and bodies go out. The container life behind them is daemon.ts's.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { release } from 'node:os'
import type { ServerResponse } from 'node:http'
import { allImageIds, removeImage, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { writeUpgradeHead, type EngineCall } from '../../lib/engine-http.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { apiPath, API_VERSION, badRequest, engineHeaders, EngineError, MIN_API_VERSION, noSuchImage } from './api.ts'
import { execToStart, sendError, sendJson } from '../../lib/engine-reply.ts'
import { checkCreateBody, flag, jsonBody } from '../../lib/engine.ts'
import { containerSummary, imageRef, imageSummary, inspectContainer, inspectExec, inspectImage, systemInfo, VERSION } from '../../minidocker/engine-views.ts'
import type { Daemon, Exec } from './daemon.ts'
import { stateWord, type Container } from './records.ts'
import { frame, logOptions, readLog } from './streams.ts'

// #region signalNumber
export { imageRef, inspectContainer, VERSION } from '../../minidocker/engine-views.ts'

/**
 * A signal as `docker kill -s` sends it: every spelling a user may type for one (`docker kill
 * --help` and moby's pkg/signal ParseSignal), or `fallback` when none is given. A name no
 * signal has is the client's mistake, refused in dockerd's words (moby pkg/signal).
 */
export function signalNumber(text: string | null, fallback: number): number {
  // TODO(11): a signal as the CLI sends it (moby pkg/signal ParseSignal; signal(7)).
  //   1. The CLI passes on what the user typed, unchanged: a number, or a name with or without its SIG, in
  //      either case.
  //   2. Where does the daemon find a name's number (signal(7) lists them), and why would a table of your own
  //      be a risk?
  throw new NotImplementedError('11-daemon', 'signalNumber')
}
// #endregion signalNumber

// #region listContainers
/**
 * `docker ps` (`-a`, `--filter`): the containers a `docker ps` shows, in its order, as
 * summaries (containerSummary). The filters the daemon honours are `status`, `name`, `id` and
 * `label`, as docker-ps(1) describes them; filters it cannot read are the client's mistake.
 */
export function listContainers(containers: Iterable<Container>, query: URLSearchParams) {
  // TODO(11): docker ps (moby daemon/list.go; docker-ps(1); the Engine API reference's ContainerList).
  //   1. The filters arrive as one JSON query parameter, not in the same shape from every client: API
  //      versions before 1.22 sent each key's values as a list, today's CLIs another shape (the text's
  //      "Stop, kill, rm, ps": print what both CLIs send, or read moby's filters.FromJSON).
  //   2. Several filters hold at once. A status filter may ask for containers that `docker ps` without -a hides.
  throw new NotImplementedError('11-daemon', 'listContainers')
}
// #endregion listContainers

/** Sets the head of a 200 answer: the Engine headers, and `contentType` if given. */
function streamHeaders(res: ServerResponse, contentType?: string): void {
  res.writeHead(200, { ...engineHeaders(), ...(contentType ? { 'Content-Type': contentType } : {}) })
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
  //      can only come at the exit? Check on the wire (curl -v, strace -e write) that it leaves when you mean it to.
  //   2. What happens to the waiting when the client goes away?
  throw new NotImplementedError('11-daemon', 'waitRoute')
}
// #endregion waitRoute

// #region logsRoute
/**
 * `GET /containers/{id}/logs`: what the container wrote, from its json-file log, as the
 * options of docker-logs(1) select it, in the form the client expects for this container.
 * A request for neither stream is refused as dockerd refuses it (moby daemon/logs.go). With
 * `follow`, what the container writes later goes out too, until it stops.
 */
async function logsRoute(daemon: Daemon, c: Container, call: EngineCall, res: ServerResponse): Promise<void> {
  // TODO(11): GET /containers/{id}/logs (moby daemon/logs.go ContainerLogs; the text's "Frames and the json-file log").
  //   1. The log is being written while you read it: readLog tells you how far you got.
  //   2. A follow ends when the container stops, even if nothing more is written, and when the client goes
  //      away. Its body comes over time, as waitRoute's does.
  //   3. The CLI tells frames from raw bytes by the container's config alone, as it does for attach.
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
 * The two requests that take over their connection (`Upgrade: tcp`): `POST
 * /containers/{id}/attach` (a container's streams, the daemon's attach()) and `POST
 * /exec/{id}/start` (an exec's, the daemon's startExec(); execToStart, given, finds the exec).
 * Each is answered with the upgrade the docker CLI accepts, as dockerd writes it for each, and
 * the socket is then the stream's. Anything else asking to upgrade is refused as a route this
 * daemon does not have.
 */
function attachRoute(daemon: Daemon, call: EngineCall, path: string): void {
  // TODO(11): the hijack (moby api/server/router/container/container_routes.go postContainersAttach and
  //   exec.go postContainerExecStart; moby's client/hijack.go is the side that reads the answer).
  //   1. The client checks the status line and the headers before it reads a stream: the text's "Attach,
  //      wait and the exit" and its exec section say which, and how the two answers differ.
  //   2. Nothing but the stream may follow the answer on that socket. writeUpgradeHead (lib/engine-http.ts)
  //      writes a status line and headers on a bare socket.
  throw new NotImplementedError('11-daemon', 'attachRoute')
}
// #endregion attachRoute

