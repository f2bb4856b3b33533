/**
 * Chapter 11's given pieces, which the starter and the reference share: the Engine API's
 * versions and errors, where a container's files are and the words ps shows for it, the
 * defaults of its spec, the query of `docker logs`, and the request bodies' checks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Spec } from './oci.ts'
import type { EngineCall } from './engine-http.ts'

/** The container config the API takes in `POST /containers/create` (moby api/types/container Config). */
export interface ContainerConfig {
  Hostname: string
  Domainname: string
  User: string
  AttachStdin: boolean
  AttachStdout: boolean
  AttachStderr: boolean
  Tty: boolean
  OpenStdin: boolean
  StdinOnce: boolean
  Env: string[]
  Cmd: string[]
  Image: string
  WorkingDir: string
  Entrypoint: string[] | null
  Labels: Record<string, string>
  /** `--stop-signal`, or the image's STOPSIGNAL: as the user spelled it */
  StopSignal?: string
  /** `--stop-timeout`, in seconds */
  StopTimeout?: number | null
}

/** The HostConfig fields this daemon acts on; the rest is kept as the client sent it. */
export interface HostConfig {
  Binds?: string[] | null
  Memory?: number
  NanoCpus?: number
  PidsLimit?: number | null
  NetworkMode?: string
  AutoRemove?: boolean
  Init?: boolean | null
  PortBindings?: PortBindings | null
  /** `-P`: publish every port the image exposes, on host ports the daemon chooses */
  PublishAllPorts?: boolean
  [key: string]: unknown
}

/** Published ports as the API spells them: {"80/tcp": [{HostIp, HostPort}]}; HostPort "" lets the daemon choose. */
export type PortBindings = Record<string, { HostIp: string; HostPort: string }[] | null>

/**
 * A started container's place on the bridge, kept in config.v2.json as dockerd keeps it (a
 * restarted daemon needs it to publish the ports again); Ports has the host ports chosen.
 */
export interface NetworkSettings {
  IPAddress: string
  Gateway: string
  IPPrefixLen: number
  MacAddress: string
  Ports: PortBindings
}

export interface ContainerState {
  Running: boolean
  Paused: boolean
  Restarting: boolean
  OOMKilled: boolean
  RemovalInProgress: boolean
  Dead: boolean
  Pid: number
  ExitCode: number
  Error: string
  StartedAt: string
  FinishedAt: string
}

/** A container record: config.v2.json's fields (HostConfig lives in hostconfig.json). */
export interface Container {
  ID: string
  Created: string
  Path: string
  Args: string[]
  Config: ContainerConfig
  /** the image ID (sha256:...) */
  Image: string
  State: ContainerState
  /** "/name", as dockerd stores it */
  Name: string
  RestartCount: number
  Driver: string
  LogPath: string
  HostnamePath: string
  HostsPath: string
  ResolvConfPath: string
  HostConfig: HostConfig
  /** while it runs on the bridge */
  NetworkSettings?: NetworkSettings
}

/** The output streams of a container. */
export type StreamName = 'stdout' | 'stderr'

/** The daemon's reader of one output FIFO: `drained` resolves after the writer's last byte, close() stops reading before that. */
export interface OutputReader {
  /** the FIFO it reads */
  path: string
  drained: Promise<void>
  close(): void
}

/** One line of the json-file log. */
export interface LogEntry {
  log: string
  stream: StreamName
  /** RFC 3339 with nanoseconds, UTC */
  time: string
}

/** What `docker logs` asks for. */
export interface LogOptions {
  stdout: boolean
  stderr: boolean
  /** how many entries from the end ("all" or a number) */
  tail: string
  /** unix seconds: only entries at or after */
  since: number
  /** prefix each line with its time */
  timestamps: boolean
}

/** The FIFOs a task's stdio goes through; stdin only with OpenStdin, stderr only without a tty. */
export interface TaskIO {
  stdin?: string
  stdout: string
  stderr?: string
  terminal: boolean
}

/** The spec runc gets: lib/oci.ts models every field this daemon fills (chapter 13 added the security ones). */
export type FullSpec = Spec

/** The API version this daemon speaks, as dockerd 20.10 does, and the oldest it accepts. */
export const API_VERSION = '1.41'

export const MIN_API_VERSION = '1.12'

export const SERVER = 'Docker/20.10.24-minidocker (linux)'

/** An error with the HTTP status the Engine API gives it. */
export class EngineError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
    this.name = 'EngineError'
  }
}

export const noSuchContainer = (ref: string) => new EngineError(404, `No such container: ${ref}`)

export const noSuchImage = (ref: string) => new EngineError(404, `No such image: ${ref}`)

export const conflict = (message: string) => new EngineError(409, message)

export const badRequest = (message: string) => new EngineError(400, message)

export const ZERO_TIME = '0001-01-01T00:00:00Z'

/** The container names dockerd accepts (a leading "/" allowed). */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** Where a container's files are. */
export const containerDir = (root: string, id: string) => join(root, 'containers', id)

/**
 * A free random name for a container created without one: "adjective_scientist" as dockerd's
 * namesgenerator makes them, with a number added after a few names already taken, as it does.
 */
export function randomName(taken: (name: string) => boolean): string {
  const left = ['brave', 'calm', 'eager', 'happy', 'keen', 'quiet', 'swift', 'wise', 'bold', 'gentle', 'jolly', 'lucid', 'proud', 'sharp', 'vivid', 'zen']
  const right = ['curie', 'hopper', 'lovelace', 'turing', 'noether', 'ritchie', 'thompson', 'wozniak', 'babbage', 'dijkstra', 'hamilton', 'knuth', 'liskov', 'meitner', 'pike', 'shannon']
  for (let attempt = 0; ; attempt++) {
    const [a, b, n] = randomBytes(3)
    const name = `${left[a! % left.length]}_${right[b! % right.length]}${attempt < 5 ? '' : n}`
    if (!taken(`/${name}`)) return name
  }
}

/** Every container record under ROOT/containers (a folder without config.v2.json is not a container). */
export function loadContainers(root: string): Container[] {
  const dir = join(root, 'containers')
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((id) => existsSync(join(dir, id, 'config.v2.json'))).map((id) => ({
    ...JSON.parse(readFileSync(join(dir, id, 'config.v2.json'), 'utf8')),
    HostConfig: JSON.parse(readFileSync(join(dir, id, 'hostconfig.json'), 'utf8')),
  }))
}

/** "Up 3 seconds", "Exited (0) 2 minutes ago", "Created": the words of `docker ps`'s STATUS (moby daemon/list.go, go-units HumanDuration). */
export function statusText(c: Container, now = Date.now()): string {
  const human = (ms: number) => {
    const s = Math.round(ms / 1000)
    if (s < 1) return 'Less than a second'
    if (s === 1) return '1 second'
    if (s < 60) return `${s} seconds`
    const m = Math.round(s / 60)
    if (m === 1) return 'About a minute'
    if (m < 60) return `${m} minutes`
    const h = Math.round(m / 60)
    return h === 1 ? 'About an hour' : `${h} hours`
  }
  if (c.State.Running) return `Up ${human(now - Date.parse(c.State.StartedAt))}`
  if (c.State.FinishedAt !== ZERO_TIME) return `Exited (${c.State.ExitCode}) ${human(now - Date.parse(c.State.FinishedAt))} ago`
  return 'Created'
}

/** The state word of ps and inspect: created, running, exited (removing, dead, paused are not reached here). */
export const stateWord = (c: Container) => (c.State.Running ? 'running' : c.State.FinishedAt !== ZERO_TIME ? 'exited' : 'created')

/** The capabilities a container keeps by default (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE']

/** The cgroup parent of minidockerd's containers unless its --cgroup-parent names another (dockerd's is /docker). */
export const DEFAULT_CGROUP_PARENT = '/minidockerd'

/** Where `--init` puts the init in the container, as dockerd does. */
export const INIT_DESTINATION = '/sbin/docker-init'

/** Parse `docker logs`'s query: stdout, stderr, tail, since, timestamps. */
export function logOptions(query: URLSearchParams): LogOptions {
  const flag = (name: string) => ['1', 'true'].includes(query.get(name) ?? '')
  return { stdout: flag('stdout'), stderr: flag('stderr'), tail: query.get('tail') || 'all', since: Number(query.get('since') ?? 0) || 0, timestamps: flag('timestamps') }
}

/** An ISO time as unix seconds; none is 0. */
export const unixTime = (iso: string | undefined) => (iso ? Math.floor(Date.parse(iso) / 1000) : 0)

/** A boolean query parameter as the CLI sends it. */
export const flag = (query: URLSearchParams, name: string) => ['1', 'true', 'True'].includes(query.get(name) ?? '')

/** A JSON object from a request body; anything else is a 400. */
export function jsonBody(call: EngineCall): Record<string, unknown> {
  if (call.body.length === 0) return {}
  const body: unknown = JSON.parse(call.body.toString('utf8'))
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object')
  return body as Record<string, unknown>
}

/** The JSON type of the create body's fields this daemon reads, as Go declares them (moby api/types/container). */
const CREATE_FIELDS: Record<string, Record<string, 'string' | 'bool' | 'number' | 'object' | '[]string'>> = {
  Config: {
    Hostname: 'string', Domainname: 'string', User: 'string', Image: 'string', WorkingDir: 'string',
    AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool', Tty: 'bool', OpenStdin: 'bool', StdinOnce: 'bool',
    Env: '[]string', Cmd: '[]string', Entrypoint: '[]string', Labels: 'object', StopSignal: 'string', StopTimeout: 'number',
  },
  HostConfig: {
    Binds: '[]string', Memory: 'number', NanoCpus: 'number', PidsLimit: 'number', NetworkMode: 'string',
    AutoRemove: 'bool', Init: 'bool', PortBindings: 'object', PublishAllPorts: 'bool',
  },
}

/** A JSON value's kind in the words of Go's encoding/json errors. */
const jsonKind = (value: unknown) => (Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value)

/**
 * The create body's fields of the wrong type: a 400 in Go's words, naming the field ("json:
 * cannot unmarshal string into Go struct field Config.Tty of type bool"), as dockerd's decoder
 * answers. Fields it does not read are left alone, as Go ignores unknown fields; null is a zero value.
 */
export function checkCreateBody(body: Record<string, unknown>): void {
  if (body.HostConfig !== undefined && body.HostConfig !== null && jsonKind(body.HostConfig) !== 'object')
    throw badRequest(`json: cannot unmarshal ${jsonKind(body.HostConfig)} into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig`)
  for (const [struct, fields] of Object.entries(CREATE_FIELDS)) {
    const source = (struct === 'Config' ? body : body.HostConfig ?? {}) as Record<string, unknown>
    for (const [field, type] of Object.entries(fields)) {
      const value = source[field]
      if (value === undefined || value === null) continue
      const ok = type === '[]string' ? Array.isArray(value) && value.every((v) => typeof v === 'string')
        : type === 'object' ? jsonKind(value) === 'object'
        : jsonKind(value) === type
      if (!ok) {
        // a list with one element of another type: Go names the element's kind and type
        const inner = Array.isArray(value) && type === '[]string' ? value.find((v) => typeof v !== 'string') : undefined
        const [kind, goType] = inner === undefined ? [jsonKind(value), type] : [jsonKind(inner), 'string']
        throw badRequest(`json: cannot unmarshal ${kind} into Go struct field ${struct}.${field} of type ${goType}`)
      }
    }
  }
  restartPolicy(body.HostConfig as Record<string, unknown> | null | undefined)
}

/**
 * HostConfig.RestartPolicy as dockerd 20.10 checks it at create: a policy it does not know, or a
 * retry count that does not fit the policy, is a 400 in its words ("invalid restart policy
 * 'bogus'", "maximum retry count cannot be used with restart policy 'always'", "maximum retry
 * count cannot be negative"); this daemon restarts nothing, so a policy other than "no" is a
 * 501 that names it.
 */
function restartPolicy(host: Record<string, unknown> | null | undefined): void {
  const policy = host?.RestartPolicy as { Name?: unknown; MaximumRetryCount?: unknown } | null | undefined
  if (!policy || jsonKind(policy) !== 'object') return
  const name = typeof policy.Name === 'string' ? policy.Name : ''
  const count = typeof policy.MaximumRetryCount === 'number' ? policy.MaximumRetryCount : 0
  if (['always', 'unless-stopped', 'no'].includes(name) && count !== 0) throw badRequest(`maximum retry count cannot be used with restart policy '${name}'`)
  if (name === 'on-failure' && count < 0) throw badRequest('maximum retry count cannot be negative')
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) throw badRequest(`invalid restart policy '${name}'`)
  if (name !== '' && name !== 'no') throw new EngineError(501, `minidockerd does not implement restart policies: --restart ${name}`)
}
