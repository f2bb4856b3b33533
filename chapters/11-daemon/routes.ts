/**
 * Chapter 11: the Engine API's routes, as moby's api/server/router/{system,image,container}
 * declare them, and what each answers: status codes, JSON shapes and the order in which
 * headers and bodies go out. The container life behind them is daemon.ts's.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { cpus, hostname, release, totalmem } from 'node:os'
import { constants } from 'node:os'
import type { ServerResponse } from 'node:http'
import { imageConfig, imageLayers, allImageIds, allTags, tagsOf, removeImage, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { pullImage } from '#ch/07-registry/pull.ts'
import { familiarName, parseReference } from '#ch/07-registry/reference.ts'
import { layerPaths, overlayDirs } from '#ch/05-layers/driver.ts'
import { writeUpgradeHead, type EngineCall } from '../../lib/engine-http.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { apiPath, API_VERSION, badRequest, engineHeaders, EngineError, MIN_API_VERSION, noSuchImage, sendError, sendJson } from './api.ts'
import type { Daemon, Exec } from './daemon.ts'
import { stateWord, statusText, type Container } from './records.ts'
import { frame, logOptions, readLog } from './streams.ts'

export const VERSION = '20.10.24-minidocker'

/** An image reference as the store tags it: "busybox" is "busybox:latest"; an ID stays as it is. */
export function imageRef(ref: string): string {
  if (/^(sha256:)?[a-f0-9]{12,64}$/.test(ref)) return ref
  try {
    return familiarName(parseReference(ref))
  } catch {
    return ref
  }
}

const unixTime = (iso: string | undefined) => (iso ? Math.floor(Date.parse(iso) / 1000) : 0)
const flag = (query: URLSearchParams, name: string) => ['1', 'true', 'True'].includes(query.get(name) ?? '')

/** A JSON object from a request body; anything else is a 400. */
function jsonBody(call: EngineCall): Record<string, unknown> {
  if (call.body.length === 0) return {}
  const body: unknown = JSON.parse(call.body.toString('utf8'))
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object')
  return body as Record<string, unknown>
}

/** Fields of a create body that must be lists of strings (or null): a wrong type is a 400 naming the field. */
function checkCreateBody(body: Record<string, unknown>): void {
  for (const field of ['Cmd', 'Env', 'Entrypoint']) {
    const value = body[field]
    if (value === undefined || value === null) continue
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
      throw badRequest(`json: cannot unmarshal ${JSON.stringify(value)} into Go struct field Config.${field} of type []string`)
  }
  if (body.HostConfig !== undefined && (typeof body.HostConfig !== 'object' || Array.isArray(body.HostConfig)))
    throw badRequest('json: cannot unmarshal HostConfig: it must be an object')
}

// #region signalNumber
/** A signal as `docker kill -s` sends it: "KILL", "SIGKILL" or "9"; unknown is a 400 "Invalid signal: X". */
export function signalNumber(text: string | null, fallback: number): number {
  // TODO(11): a signal as the CLI sends it (moby pkg/signal ParseSignal).
  //   1. Which spellings name SIGKILL? Node knows the numbers (os.constants.signals).
  //   2. What answers an unknown name?
  throw new NotImplementedError('11-daemon', 'signalNumber')
}
// #endregion signalNumber

/** `GET /containers/{id}/json`: the fields `docker inspect` and its -f templates read. */
export function inspectContainer(c: Container, graphRoot: string) {
  const own = layerPaths(graphRoot, c.ID)
  const graph = { Name: 'overlay2', Data: { LowerDir: overlayDirs(graphRoot, c.ID).lower.join(':'), MergedDir: own.merged, UpperDir: own.diff, WorkDir: own.work } }
  const network = c.HostConfig.NetworkMode || 'default'
  return {
    Id: c.ID, Created: c.Created, Path: c.Path, Args: c.Args,
    State: { Status: stateWord(c), Running: c.State.Running, Paused: false, Restarting: false, OOMKilled: c.State.OOMKilled, Dead: false, Pid: c.State.Pid, ExitCode: c.State.ExitCode, Error: c.State.Error, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt },
    Image: c.Image, ResolvConfPath: c.ResolvConfPath, HostnamePath: c.HostnamePath, HostsPath: c.HostsPath, LogPath: c.LogPath,
    Name: c.Name, RestartCount: c.RestartCount, Driver: c.Driver, Platform: 'linux', MountLabel: '', ProcessLabel: '', AppArmorProfile: '', ExecIDs: null,
    HostConfig: c.HostConfig, GraphDriver: graph,
    Mounts: (c.HostConfig.Binds ?? []).map((b) => {
      const [source, destination, mode] = b.split(':')
      return { Type: 'bind', Source: source, Destination: destination, Mode: mode ?? '', RW: mode !== 'ro', Propagation: 'rprivate' }
    }),
    Config: { ...c.Config, Volumes: null, OnBuild: null },
    NetworkSettings: { Bridge: '', SandboxID: '', Ports: {}, IPAddress: '', Gateway: '', MacAddress: '', Networks: { [network]: { IPAddress: '', Gateway: '', MacAddress: '', NetworkID: '', EndpointID: '' } } },
  }
}

/** One item of `GET /containers/json`. */
function containerSummary(c: Container) {
  const network = c.HostConfig.NetworkMode || 'default'
  return {
    Id: c.ID, Names: [c.Name], Image: c.Config.Image, ImageID: c.Image,
    Command: [c.Path, ...c.Args].join(' '), Created: unixTime(c.Created), Ports: [], Labels: c.Config.Labels,
    State: stateWord(c), Status: statusText(c), HostConfig: { NetworkMode: network },
    NetworkSettings: { Networks: { [network]: { IPAddress: '' } } }, Mounts: [],
  }
}

// #region listContainers
/**
 * `docker ps`: running containers, or all with `all`; newest first; `filters` is a JSON map
 * of lists: `status` (created, running, exited), `name` (a substring of the name), `id`
 * (a prefix), `label` ("key" or "key=value"). A filters value that is not such JSON is a 400.
 */
export function listContainers(containers: Iterable<Container>, query: URLSearchParams) {
  // TODO(11): docker ps (moby daemon/list.go).
  //   1. Which containers without `all`? Which order?
  //   2. filters is JSON: which keys does the doc comment ask for, and what does a status filter do to `all`?
  //      What answers filters that are not JSON?
  throw new NotImplementedError('11-daemon', 'listContainers')
}
// #endregion listContainers

/** `GET /images/json` and `GET /images/{name}/json` from chapter 06's store. */
function imageSummary(root: string, id: string) {
  const config = imageConfig(root, id)
  const size = imageLayers(root, id).reduce((sum, l) => sum + l.size, 0)
  return { Id: id, ParentId: '', RepoTags: tagsOf(root, id), RepoDigests: [], Created: unixTime(config.created), Size: size, VirtualSize: size, SharedSize: -1, Labels: config.config?.Labels ?? null, Containers: -1 }
}

function inspectImage(root: string, ref: string) {
  let id: string
  try {
    id = resolveImage(root, imageRef(ref))
  } catch {
    throw noSuchImage(ref)
  }
  const config = imageConfig(root, id)
  const layers = imageLayers(root, id)
  const graph = storePaths(root).graph
  const top = layers.at(-1)
  return {
    ...imageSummary(root, id), Parent: '', Comment: '', Container: '', ContainerConfig: {}, DockerVersion: '', Author: config.author ?? '',
    Config: config.config ?? {}, Architecture: config.architecture, Os: config.os,
    GraphDriver: { Name: 'overlay2', Data: top ? { UpperDir: layerPaths(graph, top.cacheId).diff, LowerDir: top.parent ? overlayDirs(graph, top.cacheId).lower.join(':') : undefined } : {} },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids }, Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  }
}

/** Chunked response headers, sent at once (wait, logs, pull stream their bodies later). */
function streamHeaders(res: ServerResponse, contentType?: string): void {
  res.writeHead(200, { ...engineHeaders(), ...(contentType ? { 'Content-Type': contentType } : {}) })
  res.flushHeaders()
}

// #region pull
/**
 * `POST /images/create?fromImage=&tag=`: chapter 07's pull with its progress as a stream of
 * JSON objects. An error before the stream begins (no such repository or tag) is a plain
 * 404 (500 for others); once the stream has begun, it is an `{"errorDetail":{"message":M},
 * "error":M}` object at its end. The first message ("Pulling from") waits until the manifest
 * has been found, so that a missing image still gets a plain 404.
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
 * `POST /containers/{id}/wait?condition=`: headers go out at once (the CLI starts the
 * container only once they have arrived), the body `{"Error":null,"StatusCode":N}` when the
 * condition holds. A client that goes away stops the waiting.
 */
function waitRoute(daemon: Daemon, c: Container, call: EngineCall, res: ServerResponse): void {
  // TODO(11): the wait request. The text's "The choreography of docker run" says when its headers must
  //   go out, and why the CLI deadlocks otherwise.
  //   1. The body is `{"Error":null,"StatusCode":N}`. What happens to the waiting when the client goes away?
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

const systemInfo = (daemon: Daemon) => {
  const all = [...daemon.containers.values()]
  return {
    ID: hostname(), Containers: all.length, ContainersRunning: all.filter((c) => c.State.Running).length, ContainersPaused: 0,
    ContainersStopped: all.filter((c) => !c.State.Running).length, Images: allImageIds(daemon.options.root).length,
    Driver: 'overlay2', DriverStatus: [], Plugins: { Volume: [], Network: ['host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true, SwapLimit: false, CpuCfsPeriod: true, CpuCfsQuota: true, PidsLimit: true, IPv4Forwarding: false,
    Debug: false, NFd: 0, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: 'json-file', CgroupDriver: 'cgroupfs',
    CgroupVersion: '1', NEventsListener: 0, KernelVersion: release(), OperatingSystem: 'minidocker', OSVersion: '', OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
    NCPU: cpus().length, MemTotal: totalmem(), DockerRootDir: daemon.options.root, Name: hostname(), Labels: [], ExperimentalBuild: false,
    ServerVersion: VERSION, Runtimes: { runc: { path: 'runc' } }, DefaultRuntime: 'runc', Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false, Isolation: '', InitBinary: '', ContainerdCommit: { ID: '', Expected: '' }, RuncCommit: { ID: '', Expected: '' }, InitCommit: { ID: '', Expected: '' },
    SecurityOptions: [], Warnings: ['WARNING: minidockerd has no bridge network yet: use --network none or host'],
  }
}

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
  //   2. The text's figure and sections: which method and path for each command, which
  //      status for each answer (201 for create, 204 for start, stop, kill and rm, 304 for a start or stop
  //      with nothing to do)? A name may hold "/" in an image path, never in a container's.
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

/** `POST /exec/{id}/start`: the 101 (with the Engine headers, as dockerd sends them here), then the exec's stream. */
function execStartRoute(daemon: Daemon, call: EngineCall, id: string): void {
  const exec = daemon.execs.get(id)
  if (!exec) throw new EngineError(404, `No such exec instance: ${id}`)
  if (exec.Running || exec.ExitCode !== null) throw new EngineError(409, `Exec ${id} has already run`)
  writeUpgradeHead(call.socket!, { ...engineHeaders(), 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'Upgrade', Upgrade: 'tcp' })
  void daemon.startExec(exec, call.socket!).catch(() => call.socket!.destroy())
}

/** `GET /exec/{id}/json`: the CLI's exit status is ExitCode. */
function inspectExec(exec: Exec) {
  return {
    ID: exec.ID, Running: exec.Running, ExitCode: exec.ExitCode, ContainerID: exec.ContainerID, Pid: exec.Pid, CanRemove: false, DetachKeys: '',
    OpenStdin: exec.AttachStdin, OpenStdout: exec.AttachStdout, OpenStderr: exec.AttachStderr,
    ProcessConfig: { tty: exec.Tty, entrypoint: exec.Cmd[0], arguments: exec.Cmd.slice(1), privileged: false, user: exec.User },
  }
}
