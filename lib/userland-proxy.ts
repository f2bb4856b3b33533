/**
 * Chapter 08's given userland proxy, the workbook's docker-proxy. One process per published port
 * listens on HOST_IP:HOST_PORT and forwards every TCP connection, or every UDP client's
 * datagrams, to the container's address and port. It serves what DNAT cannot: connections from
 * the host to its own loopback.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { bindError, type PortMapping } from './net.ts'

/** What the proxy forwards: the mapping's host side to the container's address. */
export interface ProxyTarget extends PortMapping {
  containerIp: string
}

/** A running proxy; close() stops listening and ends every forwarded connection. */
export interface Proxy {
  close(): Promise<void>
}

/**
 * Listen on the host side and, for each connection, open one to the container and copy bytes
 * both ways until either side closes; a side that fails closes the other. Resolves once
 * listening; a port that is taken rejects with "Bind for HOST_IP:HOST_PORT failed: port is
 * already allocated".
 */
export async function proxyTcp(target: ProxyTarget): Promise<Proxy> {
  const open = new Set<Socket>()
  // A client may end its side and still read the answer (shutdown(SHUT_WR)): each end is passed
  // on as an end, and a socket closes only once both of its directions have.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: target.containerPort, host: target.containerIp, allowHalfOpen: true })
    for (const socket of [client, upstream]) {
      open.add(socket)
      socket.on('close', () => open.delete(socket))
      // A reset on one side ends the other; without a handler the error would end the proxy.
      socket.on('error', () => (socket === client ? upstream : client).destroy())
    }
    client.pipe(upstream).pipe(client)
  })
  server.listen(target.hostPort, target.hostIp)
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(bindError(target, error as NodeJS.ErrnoException)))])
  return {
    close: async () => {
      for (const socket of open) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/**
 * Listen on the host side and forward each client's datagrams to the container, and each of the
 * container's replies back to the client it answers, with several clients at once. Resolves once
 * bound; a port that is taken rejects as proxyTcp does.
 */
export async function proxyUdp(target: ProxyTarget): Promise<Proxy> {
  const server = createSocket('udp4')
  const upstreams = new Map<string, UdpSocket>()
  server.on('message', (message: Buffer, client: RemoteInfo) => {
    const key = `${client.address}:${client.port}`
    let upstream = upstreams.get(key)
    if (!upstream) {
      upstream = createSocket('udp4')
      upstream.on('message', (reply: Buffer) => server.send(reply, client.port, client.address))
      upstream.on('error', () => upstreams.delete(key))
      upstreams.set(key, upstream)
    }
    upstream.send(message, target.containerPort, target.containerIp)
  })
  server.bind(target.hostPort, target.hostIp)
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(bindError(target, error as NodeJS.ErrnoException)))])
  return {
    close: async () => {
      for (const upstream of upstreams.values()) upstream.close()
      await new Promise<void>((resolve) => server.close(resolve))
    },
  }
}
