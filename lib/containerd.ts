/**
 * A gRPC client of containerd's API (the services daemons use: containers v1, tasks v1, events v1,
 * version v1), loaded from containerd's own .proto files in lib/proto by containerd-proto.ts. Every call carries
 * the `containerd-namespace` metadata, as containerd's Go client adds it from the context.
 * The same client talks to the real containerd and to the workbook's own.
 */
import * as grpc from '@grpc/grpc-js'
import { decode, grpcDefinition, messageType } from './containerd-proto.ts'

/** The type URL containerd gives an OCI runtime spec packed in a google.protobuf.Any. */
export const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec'
/** The type URL of an OCI process (an exec's) packed in an Any. */
export const PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process'
/** containerd's runc shim: containerd runs `containerd-shim-runc-v2` for it. */
export const RUNC_RUNTIME = 'io.containerd.runc.v2'

/** A google.protobuf.Any as proto-loader hands it over (keepCase: snake_case names). */
export interface Any { type_url: string; value: Buffer }
export interface Timestamp { seconds: number; nanos: number }
/** containerd.types.Mount */
export interface Mount { type: string; source: string; target?: string; options: string[] }

/**
 * One message of containerd's event stream (containerd.services.events.v1.Envelope), its
 * `event` decoded by its type URL when lib/proto has that message (a `/tasks/exit` envelope
 * carries a containerd.events.TaskExit), else left as the Any.
 */
export interface Envelope {
  timestamp: Timestamp
  namespace: string
  topic: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  event: any
}

/** An open Events.Subscribe stream: close() cancels it. */
export interface Subscription {
  close(): void
}

/** One unary call: the request message in, the response message out. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Unary = (request: Record<string, unknown>) => Promise<any>

export interface Containerd {
  /** containerd.services.containers.v1.Containers: Create, Get, List, Update, Delete */
  containers: Record<'Create' | 'Get' | 'List' | 'Update' | 'Delete', Unary>
  /** containerd.services.tasks.v1.Tasks: Create, Start, Delete, Kill, Wait, Get, CloseIO, ResizePty, ListPids, Exec, DeleteProcess */
  tasks: Record<'Create' | 'Start' | 'Delete' | 'DeleteProcess' | 'Get' | 'List' | 'Kill' | 'Exec' | 'ResizePty' | 'CloseIO' | 'ListPids' | 'Wait', Unary>
  /** containerd.services.version.v1.Version */
  version: Record<'Version', Unary>
  /**
   * containerd.services.events.v1.Events.Subscribe, the one server-streaming call: every
   * envelope containerd publishes from now on that matches one of `filters` (containerd's
   * filter syntax, docs/filters in containerd's tree) goes to `onEnvelope`, in order, until
   * close(); `onEnd` hears of a stream that ended by itself (containerd went away).
   * Publish is containerd.services.events.v1.Events.Publish (events.proto, and containerd's
   * services/events/service.go).
   */
  events: {
    Subscribe(filters: string[], onEnvelope: (envelope: Envelope) => void, onEnd?: (error: Error) => void): Subscription
    Publish(request: { topic: string; event: Any }): Promise<unknown>
  }
  /** the containerd namespace this client acts in */
  namespace: string
  close(): void
}

/** A containerd error: grpc's status code (5 NotFound, 6 AlreadyExists, 9 FailedPrecondition) and its message. */
export class ContainerdError extends Error {
  constructor(readonly method: string, readonly code: number, details: string) {
    super(`containerd ${method}: ${details}`)
    this.name = 'ContainerdError'
  }
}
export const GRPC_NOT_FOUND = grpc.status.NOT_FOUND

let loaded: grpc.GrpcObject | undefined
function services(): grpc.GrpcObject {
  loaded ??= grpc.loadPackageDefinition(grpcDefinition(String))
  return loaded
}

/** The grpc constructor of a service by its full name ("containerd.services.tasks.v1.Tasks"). */
function serviceClient(name: string): grpc.ServiceClientConstructor {
  return name.split('.').reduce((o: any, part) => o[part], services()) // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Connect to containerd's gRPC socket (a path) and act in `namespace`. */
export function connectContainerd(socket: string, namespace: string): Containerd {
  const target = `unix://${socket}`
  const credentials = grpc.credentials.createInsecure()
  const channel = new grpc.Channel(target, credentials, {})
  const metadata = new grpc.Metadata()
  metadata.set('containerd-namespace', namespace)
  const wrap = (name: string) => {
    const Client = serviceClient(name)
    const client = new Client(target, credentials, { channelOverride: channel })
    return new Proxy({}, {
      get: (_, method: string) => (request: Record<string, unknown>) => new Promise((resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        ;(client as any)[method](request, metadata, (error: grpc.ServiceError | null, response: unknown) => {
          if (error) reject(new ContainerdError(`${name.split('.').at(-1)}.${method}`, error.code, error.details || error.message))
          else resolve(response)
        })
      }),
    })
  }
  const subscriptions = new Set<Subscription>()
  const { Publish } = wrap('containerd.services.events.v1.Events') as Record<'Publish', Unary>
  const events = serviceClient('containerd.services.events.v1.Events')
  const eventClient = new events(target, credentials, { channelOverride: channel })
  const Subscribe: Containerd['events']['Subscribe'] = (filters, onEnvelope, onEnd = () => {}) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = (eventClient as any).Subscribe({ filters }, metadata) as grpc.ClientReadableStream<{ timestamp: Timestamp; namespace: string; topic: string; event: Any }>
    let closed = false
    const subscription = { close: () => { closed = true; call.cancel(); subscriptions.delete(subscription) } }
    subscriptions.add(subscription)
    const ended = (error: Error) => {
      subscriptions.delete(subscription)
      if (!closed) onEnd(error)
      closed = true
    }
    call.on('data', (e) => onEnvelope({ ...e, event: unpack(e.event) }))
    call.on('error', (error: grpc.ServiceError) => ended(new ContainerdError('Events.Subscribe', error.code, error.details || error.message)))
    call.on('end', () => ended(new ContainerdError('Events.Subscribe', grpc.status.UNAVAILABLE, 'the event stream ended')))
    return subscription
  }
  return {
    namespace,
    events: { Subscribe, Publish },
    containers: wrap('containerd.services.containers.v1.Containers') as Containerd['containers'],
    tasks: wrap('containerd.services.tasks.v1.Tasks') as Containerd['tasks'],
    version: wrap('containerd.services.version.v1.Version') as Containerd['version'],
    close: () => {
      for (const subscription of [...subscriptions]) subscription.close()
      channel.close()
    },
  }
}

/** An event's Any as the message its type URL names (containerd writes the bare name, `containerd.events.TaskExit`), or as it came. */
function unpack(any: Any | null | undefined): unknown {
  if (!any) return any
  const name = any.type_url.replace(/^.*\//, '')
  try {
    messageType(name)
  } catch {
    return any
  }
  return decode(name, any.value)
}
