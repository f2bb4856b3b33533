/**
 * Serving containerd's gRPC services from a table of handlers (chapter 10's containerd): each
 * method of the .proto's service is bound to its handler, which runs with the namespace from the
 * containerd-namespace header; a method without one answers UNIMPLEMENTED, as containerd does.
 * A server-streaming method (Events/Subscribe) has a stream handler that writes until cancelled.
 */
import * as grpc from '@grpc/grpc-js'
import { RpcError, grpcDefinition } from './containerd-proto.ts'

/** A handler: the namespace and the request in, the response out (an RpcError carries its code). */
export type Handler = (namespace: string, request: any) => Promise<object>
/** A server-streaming method's handler: writes messages until the client cancels (`stream.cancelled`). */
export type StreamHandler = (namespace: string, request: any, stream: { write(message: object): void; cancelled: Promise<void> }) => void
/** Marks a handler as a stream's: `stream(handler)` in a service's table. */
export function stream(handler: StreamHandler): { stream: StreamHandler } {
  return { stream: handler }
}

/** Add each service of `services` ("group.version.Name" → method → handler) to `server`. */
export function addServices(server: grpc.Server, services: Record<string, Record<string, Handler | { stream: StreamHandler }>>): void {
  const definition = grpc.loadPackageDefinition(grpcDefinition()) as any
  for (const [path, methods] of Object.entries(services)) {
    const [group, version, name] = path.split('.') as [string, string, string]
    const service = definition.containerd.services[group][version][name].service
    const implementation: grpc.UntypedServiceImplementation = {}
    for (const method of Object.keys(service)) {
      const handle = methods[method]
      const unimplemented = { code: grpc.status.UNIMPLEMENTED, details: `${name}.${method} is not implemented` }
      if (handle && 'stream' in handle && service[method].responseStream) {
        implementation[method] = (call: any) => {
          const namespace = String(call.metadata.get('containerd-namespace')[0] ?? 'default')
          const cancelled = new Promise<void>((resolve) => call.once('cancelled', resolve).once('close', resolve))
          handle.stream(namespace, call.request, { write: (message) => call.write(message), cancelled })
        }
        continue
      }
      if (!handle || 'stream' in handle || service[method].responseStream) {
        // a streaming method takes no callback: its error goes out on the call
        implementation[method] = service[method].responseStream ? (call: any) => call.emit('error', unimplemented) : (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(unimplemented)
        continue
      }
      implementation[method] = (call: any, callback: grpc.sendUnaryData<object>) => {
        const namespace = String(call.metadata.get('containerd-namespace')[0] ?? 'default')
        handle(namespace, call.request).then(
          (response) => callback(null, response),
          (error: Error) => callback({ code: error instanceof RpcError ? error.code : grpc.status.UNKNOWN, details: error.message }),
        )
      }
    }
    server.addService(service, implementation)
  }
}
