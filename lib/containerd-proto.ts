/**
 * containerd's protobuf messages, loaded from the .proto files under lib/proto/ (laid out as
 * containerd's own tree: api/types, api/events, api/services, runtime/v2/task, and ttrpc's
 * envelope). Field names stay snake_case as in the .proto files (`exit_status`, `type_url`),
 * and decoding fills in proto3's defaults ('' and 0), so a message reads like the Go struct.
 *
 * Plumbing shared by the shim, our containerd and the daemon: which messages exist and their
 * field numbers are containerd's interface, not something to work out.
 */
import * as protoLoader from '@grpc/proto-loader'
import protobuf from 'protobufjs'
import { fileURLToPath } from 'node:url'

const PROTO_ROOT = fileURLToPath(new URL('./proto/', import.meta.url))
const CONTAINERD = 'github.com/containerd/containerd/'

/** The files every caller needs; services add theirs with `loadProto`. */
const FILES = [
  'ttrpc/request.proto',
  'runtime/v2/task/shim.proto',
  'api/events/task.proto',
  'api/services/ttrpc/events/v1/events.proto',
]

let root: protobuf.Root | undefined

/** Parse lib/proto's files once, on first use (a shim's `start` never needs them). */
function load(): protobuf.Root {
  if (root) return root
  const r = new protobuf.Root()
  // containerd's files import each other by Go import path; ours sit at the path below it
  r.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : PROTO_ROOT + (target.startsWith(CONTAINERD) ? target.slice(CONTAINERD.length) : target)
  r.loadSync(FILES, { keepCase: true })
  root = r
  return r
}

/** Add more .proto files (paths below lib/proto/) to the same root. */
export function loadProto(...files: string[]): void {
  load().loadSync(files, { keepCase: true })
}

/** containerd's gRPC services (version, introspection, containers, tasks, events), as a client or server of them loads them. */
export const SERVICE_FILES = [
  'api/services/version/v1/version.proto',
  'api/services/introspection/v1/introspection.proto',
  'api/services/containers/v1/containers.proto',
  'api/services/tasks/v1/tasks.proto',
  'api/services/events/v1/events.proto',
  'api/services/leases/v1/leases.proto',
]

/**
 * The services for @grpc/grpc-js (`grpc.loadPackageDefinition`), from the same files: fields
 * keep their .proto names, int64s are numbers, defaults filled in, and enums numbers (a server
 * sets them so) or, for a client that reads them, their names (`'STOPPED'`).
 */
export function grpcDefinition(enums: typeof Number | typeof String = Number): protoLoader.PackageDefinition {
  loadProto(...SERVICE_FILES)
  return protoLoader.fromJSON(load().toJSON(), { keepCase: true, longs: Number, enums, defaults: true })
}

/** A message type by its full name, e.g. `containerd.task.v2.CreateTaskRequest`. */
export function messageType(name: string): protobuf.Type {
  return load().lookupType(name)
}

/**
 * A service's methods from its .proto file, each with the full names of its request and
 * response messages, e.g. `serviceMethods('containerd.task.v2.Task').Create`.
 */
export function serviceMethods(name: string): Record<string, { request: string; response: string }> {
  const service = load().lookupService(name)
  const full = (t: protobuf.Type | null) => t!.fullName.replace(/^\./, '')
  const methods: Record<string, { request: string; response: string }> = {}
  for (const m of service.methodsArray) {
    m.resolve()
    methods[m.name] = { request: full(m.resolvedRequestType), response: full(m.resolvedResponseType) }
  }
  return methods
}

/** A message as bytes. Unknown fields are dropped, so spell them as the .proto does. */
export function encode(name: string, value: object): Uint8Array {
  const type = messageType(name)
  return type.encode(type.fromObject(value)).finish()
}

/**
 * Bytes as a plain object with proto3's defaults filled in; int64s as numbers, enums as
 * numbers, bytes as Buffers. Throws protobufjs's error on a truncated or malformed message.
 */
export function decode<T = any>(name: string, bytes: Uint8Array): T {
  const type = messageType(name)
  return type.toObject(type.decode(bytes), { longs: Number, enums: Number, bytes: Buffer, defaults: true }) as T
}

/** A google.protobuf.Any as containerd writes it: the type url is the bare message name. */
export interface Any {
  type_url: string
  value: Uint8Array
}

/** `value` encoded as the message `name`, wrapped in an Any. */
export function toAny(name: string, value: object): Any {
  return { type_url: name, value: encode(name, value) }
}

/** google.protobuf.Timestamp of a Date. */
export function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime()
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 }
}

/** A Date of a google.protobuf.Timestamp (decoded with longs as numbers). */
export function dateOf(ts: { seconds: number; nanos: number } | null | undefined): Date {
  return new Date((ts?.seconds ?? 0) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6))
}

/** gRPC's status codes, which ttrpc and containerd's errdefs use. */
export const Code = {
  OK: 0,
  Unknown: 2,
  InvalidArgument: 3,
  NotFound: 5,
  AlreadyExists: 6,
  FailedPrecondition: 9,
  Unimplemented: 12,
  Internal: 13,
  ResourceExhausted: 8,
  Unavailable: 14,
} as const

/** An error that travels as a status: a gRPC code and a message. */
export class RpcError extends Error {
  override name = 'RpcError'
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

/** containerd.v1.types.Status, the states a task's process is in. */
export const Status = { UNKNOWN: 0, CREATED: 1, RUNNING: 2, STOPPED: 3, PAUSED: 4, PAUSING: 5 } as const
