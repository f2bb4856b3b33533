/**
 * Chapter 11's given routes (the starter and the reference share them): the Engine API's
 * routes, as moby's api/server/router/{system,image,container} declare them, and what each
 * answers: status codes, JSON shapes and the order in which headers and bodies go out. The
 * container life behind them is the chapter's daemon.ts; the two requests that take over their
 * connection are upgraded here (upgradeRoute) and handed to it.
 */
import { release } from 'node:os'
import { constants } from 'node:os'
import type { ServerResponse } from 'node:http'
import { allImageIds, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { removeImage } from './image-removal.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import type { Daemon } from '#ch/11-daemon/daemon.ts'
import { writeUpgradeHead, type EngineCall } from './engine-http.ts'
import type { JSONMessage } from './jsonmessage.ts'
import { apiPath, API_VERSION, badRequest, engineHeaders, EngineError, MIN_API_VERSION, noSuchImage } from './engine-api.ts'
import { execToStart, sendError, sendJson } from './engine-reply.ts'
import { checkCreateBody, flag, jsonBody } from './engine.ts'
import { containerSummary, imageRef, imageSummary, inspectContainer, inspectExec, inspectImage, systemInfo, VERSION } from '../minidocker/engine-views.ts'
import { stateWord, type Container } from './container-records.ts'
import { logOptions, readLog, streamed, type LogEntry } from './output-streams.ts'

// #region upgradeRoute
/**
 * The two requests that take over their connection (`Upgrade: tcp`): `POST
 * /containers/{id}/attach` (a container's streams: the daemon's attach(), with the query's
 * five flags) and `POST /exec/{id}/start` (an exec's: the daemon's startExec()). Each is
 * answered with the 101 the docker CLI accepts, as dockerd writes it for each (dockerd's exec
 * start carries the Engine headers, its attach does not; moby's client/hijack.go reads them),
 * and the socket is then the stream's. Anything else asking to upgrade is a 501.
 */
function upgradeRoute(daemon: Daemon, call: EngineCall, path: string): void {
  const upgraded = { 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'Upgrade', Upgrade: 'tcp' }
  const socket = call.socket!
  const execMatch = /^\/exec\/([a-f0-9]{64})\/start$/.exec(path)
  if (call.method === 'POST' && execMatch) {
    const exec = execToStart(daemon, execMatch[1]!)
    writeUpgradeHead(socket, { ...engineHeaders(), ...upgraded })
    return void daemon.startExec(exec, socket).catch(() => socket.destroy())
  }
  const match = /^\/containers\/([^/]+)\/attach$/.exec(path)
  if (call.method !== 'POST' || !match) throw new EngineError(501, `minidockerd does not implement ${call.method} ${path} with an upgrade`)
  const c = daemon.get(match[1]!)
  const [stdin, stdout, stderr, logs, stream] = (['stdin', 'stdout', 'stderr', 'logs', 'stream'] as const).map((name) => flag(call.query, name)) as [boolean, boolean, boolean, boolean, boolean]
  writeUpgradeHead(socket, upgraded)
  daemon.attach(c, socket, { stdin, stdout, stderr, logs, stream })
}
// #endregion upgradeRoute

// #region signalNumber
export { imageRef, inspectContainer, VERSION } from '../minidocker/engine-views.ts'

/**
 * A signal as `docker kill -s` sends it: every spelling a user may type for one (`docker kill
 * --help` and moby's pkg/signal ParseSignal), or `fallback` when none is given. A name no
 * signal has is the client's mistake, refused in dockerd's words (moby pkg/signal).
 */
export function signalNumber(text: string | null, fallback: number): number {
  if (!text) return fallback
  if (/^\d+$/.test(text)) return Number(text)
  const name = (text.startsWith('SIG') ? text : `SIG${text}`).toUpperCase() as keyof typeof constants.signals
  const number = constants.signals[name]
  if (number === undefined) throw badRequest(`Invalid signal: ${text}`)
  return number
}
// #endregion signalNumber

// #region listContainers
/**
 * `docker ps` (`-a`, `--filter`): the containers a `docker ps` shows, in its order, as
 * summaries (containerSummary). The filters the daemon honours are `status`, `name`, `id` and
 * `label`, as docker-ps(1) describes them; filters it cannot read are the client's mistake.
 */
export function listContainers(containers: Iterable<Container>, query: URLSearchParams) {
  let filters: Record<string, string[]> = {}
  try {
    const given = JSON.parse(query.get('filters') || '{}') as Record<string, string[] | Record<string, boolean>>
    filters = Object.fromEntries(Object.entries(given).map(([key, values]) => [key, Array.isArray(values) ? values : Object.keys(values)]))
  } catch {
    throw badRequest(`invalid filter: ${query.get('filters')}`)
  }
  const all = flag(query, 'all') || (filters.status?.length ?? 0) > 0
  const match = (c: Container) =>
    (all || c.State.Running) &&
    (!filters.status || filters.status.includes(stateWord(c))) &&
    (!filters.name || filters.name.some((n) => c.Name.includes(n))) &&
    (!filters.id || filters.id.some((id) => c.ID.startsWith(id))) &&
    (!filters.label || filters.label.every((l) => {
      const [k, v] = l.split('=')
      return k! in c.Config.Labels && (v === undefined || c.Config.Labels[k!] === v)
    }))
  return [...containers].filter(match).sort((a, b) => b.Created.localeCompare(a.Created)).map(containerSummary)
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
  const from = call.query.get('fromImage')
  if (!from) throw badRequest('fromImage is required (importing with fromSrc is not supported)')
  const tag = call.query.get('tag')
  const reference = !tag ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`
  const held: JSONMessage[] = []
  const send = (m: JSONMessage) => res.write(`${JSON.stringify(m)}\r\n`)
  const progress = (m: JSONMessage) => {
    if (!res.headersSent && held.length === 0) {
      held.push(m) // "Pulling from": keep it until the manifest is found
      return
    }
    if (!res.headersSent) {
      streamHeaders(res, 'application/json')
      held.splice(0).forEach(send)
    }
    send(m)
  }
  try {
    await pullImage(reference, { root: daemon.options.root, progress })
  } catch (error) {
    const message = (error as Error).message
    if (!res.headersSent) throw new EngineError(/not found|does not exist|manifest unknown|pull access denied/.test(message) ? 404 : 500, message)
    send({ errorDetail: { message }, error: message })
  }
  res.end()
}
// #endregion pull

// #region waitRoute
/**
 * `POST /containers/{id}/wait?condition=`: the body `{"Error":null,"StatusCode":N}` when the
 * condition holds, and `docker run` must not hang: the text's "The choreography of docker run"
 * shows what the CLI waits for before it sends start. A client that goes away stops the waiting.
 */
function waitRoute(daemon: Daemon, c: Container, call: EngineCall, res: ServerResponse): void {
  const waiting = daemon.wait(c, call.query.get('condition') || 'not-running')
  streamHeaders(res, 'application/json')
  res.flushHeaders() // now: the CLI sends start only once this head has come
  res.on('close', waiting.cancel)
  void waiting.done.then((code) => res.end(`${JSON.stringify({ Error: null, StatusCode: code })}\n`))
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
  const options = logOptions(call.query)
  if (!options.stdout && !options.stderr) throw badRequest('You must choose at least one stream')
  streamHeaders(res)
  res.flushHeaders() // a follow of a quiet container still gets its answer
  const send = (entries: LogEntry[]) => {
    for (const chunk of streamed(entries, c.Config.Tty)) res.write(chunk)
  }
  let { entries, offset } = readLog(c.LogPath, options)
  send(entries)
  if (flag(call.query, 'follow') && c.State.Running) {
    const more = { ...options, tail: 'all' }
    const exited = new Promise<void>((resolve) => daemon.wait(c, 'next-exit').done.then(() => resolve()))
    let gone = false
    res.on('close', () => { gone = true })
    while (!gone && c.State.Running) {
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))])
      ;({ entries, offset } = readLog(c.LogPath, more, offset))
      send(entries)
    }
  }
  res.end()
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
  const res = call.res
  try {
    const { route: path } = apiPath(call.path)
    const m = call.method
    let match: RegExpExecArray | null
    if ((m === 'GET' || m === 'HEAD') && path === '/_ping') {
      res!.writeHead(200, { ...engineHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Length': m === 'HEAD' ? 0 : 2 })
      return void res!.end(m === 'HEAD' ? undefined : 'OK')
    }
    if (call.socket) return upgradeRoute(daemon, call, path)
    if (m === 'GET' && path === '/version')
      return sendJson(res!, 200, { Platform: { Name: 'minidocker' }, Components: [{ Name: 'Engine', Version: VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: 'amd64', KernelVersion: release() } }], Version: VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: 'minidocker', GoVersion: process.version, Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, KernelVersion: release(), BuildTime: '' })
    if (m === 'GET' && path === '/info') return sendJson(res!, 200, systemInfo(daemon))
    if (m === 'POST' && path === '/images/create') return await pull(daemon, call, res!)
    if (m === 'GET' && path === '/images/json') return sendJson(res!, 200, allImageIds(daemon.options.root).map((id) => imageSummary(daemon.options.root, id)))
    if (m === 'GET' && (match = /^\/images\/(.+)\/json$/.exec(path))) return sendJson(res!, 200, inspectImage(daemon.options.root, match[1]!))
    if (m === 'DELETE' && (match = /^\/images\/(.+)$/.exec(path))) {
      const root = daemon.options.root
      const ref = match[1]!
      try {
        resolveImage(root, imageRef(ref))
      } catch {
        throw noSuchImage(ref)
      }
      try {
        return sendJson(res!, 200, removeImage(root, imageRef(ref), flag(call.query, 'force')))
      } catch (error) {
        if ((error as Error).message.startsWith('conflict')) throw new EngineError(409, (error as Error).message)
        throw error
      }
    }
    if (m === 'POST' && path === '/containers/create') {
      const body = jsonBody(call)
      checkCreateBody(body)
      const c = await daemon.create(body, call.query.get('name') ?? undefined, imageRef)
      return sendJson(res!, 201, { Id: c.ID, Warnings: [] })
    }
    if (m === 'GET' && path === '/containers/json') return sendJson(res!, 200, listContainers(daemon.containers.values(), call.query))
    if ((match = /^\/containers\/([^/]+)(?:\/([a-z]+))?$/.exec(path))) {
      const c = daemon.get(match[1]!)
      const action = `${m} ${match[2] ?? ''}`
      if (['POST stop', 'POST kill', 'POST exec', 'POST restart', 'DELETE '].includes(action)) await daemon.afterStart(c.ID)
      switch (action) {
        case 'GET json': return sendJson(res!, 200, inspectContainer(c, storePaths(daemon.options.root).graph))
        case 'POST start': {
          const result = await daemon.starting(c.ID, daemon.start(c))
          res!.writeHead(result === 'already' ? 304 : 204, engineHeaders())
          return void res!.end()
        }
        case 'POST wait': return waitRoute(daemon, c, call, res!)
        case 'GET logs': return await logsRoute(daemon, c, call, res!)
        case 'POST stop': {
          const t = call.query.get('t')
          const result = await daemon.stop(c, t === null ? undefined : Number(t))
          res!.writeHead(result === 'stopped' ? 204 : 304, engineHeaders())
          return void res!.end()
        }
        case 'POST kill':
          await daemon.kill(c, signalNumber(call.query.get('signal'), 9), match[1]!)
          res!.writeHead(204, engineHeaders())
          return void res!.end()
        case 'POST exec': {
          const body = jsonBody(call)
          checkCreateBody(body)
          return sendJson(res!, 201, { Id: daemon.createExec(c, body).ID })
        }
        case 'POST restart': {
          const t = call.query.get('t')
          await daemon.stop(c, t === null ? undefined : Number(t))
          await daemon.starting(c.ID, daemon.start(c))
          res!.writeHead(204, engineHeaders())
          return void res!.end()
        }
        case 'GET top': return sendJson(res!, 200, await daemon.top(c))
        case 'POST resize':
          await daemon.resize(c, Number(call.query.get('w')), Number(call.query.get('h')))
          return sendJson(res!, 200, {})
        case 'DELETE ':
          await daemon.remove(c, flag(call.query, 'force'))
          res!.writeHead(204, engineHeaders())
          return void res!.end()
      }
    }
    if ((match = /^\/exec\/([a-f0-9]{64})\/(json|resize)$/.exec(path))) {
      const exec = daemon.execs.get(match[1]!)
      if (!exec) throw new EngineError(404, `No such exec instance: ${match[1]}`)
      if (m === 'GET' && match[2] === 'json') return sendJson(res!, 200, inspectExec(exec))
      if (m === 'POST' && match[2] === 'resize') {
        await daemon.options.containerd.tasks.ResizePty({ container_id: exec.ContainerID, exec_id: exec.ID, width: Number(call.query.get('w')), height: Number(call.query.get('h')) })
        return sendJson(res!, 200, {})
      }
    }
    throw new EngineError(501, `minidockerd does not implement ${m} ${path}`)
  } catch (error) {
    if (res) sendError(res, error)
    else if (call.socket) {
      const text = `${JSON.stringify({ message: (error as Error).message })}\n`
      const status = error instanceof EngineError ? error.status : 500
      writeUpgradeHead(call.socket, { ...engineHeaders(), 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }, status, status === 404 ? 'Not Found' : 'Error')
      call.socket.end(text)
    }
  }
}
// #endregion route


