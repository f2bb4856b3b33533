/**
 * Chapter 08: the userland proxy, the workbook's docker-proxy. One process per published port
 * listens on HOST_IP:HOST_PORT and forwards every TCP connection, or every UDP client's
 * datagrams, to the container's address and port. It serves what DNAT cannot: connections from
 * the host to its own loopback.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { NotImplementedError } from '../../lib/errors.ts'
import { bindError } from '../../lib/net.ts'
import type { PortMapping } from './ports.ts'

/** What the proxy forwards: the mapping's host side to the container's address. */
export interface ProxyTarget extends PortMapping {
  containerIp: string
}

/** A running proxy; close() stops listening and ends every forwarded connection. */
export interface Proxy {
  close(): Promise<void>
}

// #region proxyTcp
/**
 * Listen on the host side and, for each connection, open one to the container and copy bytes
 * both ways until either side closes; a side that fails closes the other. Resolves once
 * listening; a port that is taken rejects with "Bind for HOST_IP:HOST_PORT failed: port is
 * already allocated".
 */
export async function proxyTcp(target: ProxyTarget): Promise<Proxy> {
  // TODO(08): forward TCP from the host side to the container, byte for byte, both ways.
  //   1. Each client connection gets a connection of its own to the container; when either
  //      side ends, the other is ended too. How do you join two streams both ways, with
  //      backpressure, without copying by hand? A TCP connection has two directions, and
  //      each ends on its own: what does a client that has sent all it will send still wait
  //      for, and what does Node do to a socket whose peer has ended by default?
  //   2. A reset or refused connection on one side must close the other, and must never end
  //      the proxy itself: which events, left unhandled, crash a Node process?
  //   3. Resolve once listening. A port that is taken rejects with
  //      "Bind for HOST_IP:HOST_PORT failed: port is already allocated" (bindError gives it).
  //      How does a server tell you it could not listen?
  //   4. close() stops listening and ends the connections still open: closing a server alone
  //      waits for them.
  //   Where: Node's net module; moby's cmd/docker-proxy (tcp_proxy_linux.go). Chapter text: "The proxy".
  throw new NotImplementedError('08-network', 'proxyTcp')
}
// #endregion proxyTcp

// #region proxyUdp
/**
 * Listen on the host side and forward each client's datagrams to the container, and each of the
 * container's replies back to the client it answers, with several clients at once. Resolves once
 * bound; a port that is taken rejects as proxyTcp does.
 */
export async function proxyUdp(target: ProxyTarget): Promise<Proxy> {
  // TODO(08): forward UDP from the host side to the container, and the replies back.
  //   1. UDP has no connections: the container answers whoever sent it the datagram, which is
  //      the proxy. How does a reply then find the client it answers, with several clients at
  //      once?
  //   2. Resolve once bound; a taken port rejects as proxyTcp does. close() closes every
  //      socket the proxy opened, not only the one it listens on.
  //   Where: Node's dgram module; moby's cmd/docker-proxy (udp_proxy_linux.go, its connection
  //   tracking table). Chapter text: "The proxy".
  throw new NotImplementedError('08-network', 'proxyUdp')
}
// #endregion proxyUdp
