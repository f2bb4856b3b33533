/**
 * Chapter 08: published ports, `-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`, the two ways
 * Docker does it: a DNAT rule in the nat table for traffic that arrives from outside the host,
 * and a userland proxy (minidocker-proxy, the workbook's docker-proxy) for traffic from the
 * host's own loopback, which DNAT does not see: a packet to 127.0.0.1 never leaves lo, and a
 * DNAT to another interface would need route_localnet.
 *
 * Rules are made with iptables (its nf_tables backend, iptables-nft): the chains Docker makes
 * (DOCKER, DOCKER-USER) are iptables chains, and `iptables -t nat -L` shows ours beside them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { CHAIN, dnatRule, ensureRule, iptables, PROXY_PATH, stopProxy, type Bridge, type PortMapping, type Protocol, type Published } from '../../lib/net.ts'

// Given (lib/net.ts): PortMapping, one -p as parsePublish returns it, Published, the rules and
// proxies publishPorts made, CHAIN and PROXY_PATH, dnatRule(mapping, bridge, containerIp), the
// DNAT rule's arguments, and stopProxy(proxy).
export { CHAIN, dnatRule, PROXY_PATH, stopProxy, type PortMapping, type Protocol, type Published }

// #region parsePublish
/**
 * One `-p` value as a PortMapping. Ports are whole numbers from 1 to 65535, the protocol tcp
 * (the default) or udp, the host IP a dotted quad. Anything else is a ContainerError (125) that
 * quotes the flag and names what is wrong with it, before anything is created.
 */
export function parsePublish(text: string): PortMapping {
  // TODO(08): read one -p value: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp].
  //   1. Which parts are optional, and what do they default to? (docker run --help, and the
  //      PortMapping type.)
  //   2. Refuse with a ContainerError (125) that quotes the value: a port that is not a whole
  //      number from 1 to 65535 (the message says "out of range 1-65535" and quotes the
  //      port), a protocol other than tcp or udp (quote it), a host IP that is not a dotted
  //      quad, and any other shape (name the expected form).
  //   Where: docker/cli's opts/port.go and go-connections' nat.ParsePortSpec.
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'parsePublish')
}
// #endregion parsePublish

// #region ensureChains
/**
 * Make the host's rules for the bridge, once (the caller holds a lock; every run calls this),
 * so that a published port answers on the host's own addresses, from outside and from the host
 * itself, containers reach other networks through the host, and all of it works on a host whose
 * FORWARD policy drops. The DNAT rules of published ports (dnatRule) go in the nat chain CHAIN.
 */
export async function ensureChains(bridge: Bridge): Promise<void> {
  // TODO(08): the host's iptables rules for the bridge, made once (every run calls this).
  //   1. Which hooks of the nat table do a packet from outside and a packet the host sends to
  //      itself pass, and how do both reach CHAIN without naming the host's addresses one by
  //      one? Which destinations must not (the proxy serves them)?
  //   2. A container's packet leaves through another interface with a source the world cannot
  //      answer: what rewrites it?
  //   3. What does a FORWARD policy of DROP do to containers' traffic, both ways?
  //   4. Idempotent: a rule that is there already is not added twice.
  //   Where: man 8 iptables-extensions, man 8 iptables (-C); libnetwork's
  //   drivers/bridge/setup_ip_tables.go. Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'ensureChains')
}
// #endregion ensureChains

// #region startProxy
/**
 * Start one minidocker-proxy for `mapping` to `containerIp`, and resolve once it listens. A proxy
 * that cannot listen (the port is taken) exits: that is a ContainerError (125) carrying what it
 * said. Its stdin stays a pipe from this process, so the proxy ends when the run does, even a
 * run that was killed.
 */
export async function startProxy(mapping: PortMapping, containerIp: string): Promise<ChildProcess> {
  // TODO(08): start one minidocker-proxy (PROXY_PATH, with docker-proxy's flags) and
  //   resolve once it listens.
  //   1. How do you learn it listens, and how that it could not (it prints "ready", or exits
  //      with its reason on stderr)? The refusal is a ContainerError (125) carrying what it said.
  //   2. It must end with the run, even a run that is killed: what does the proxy watch
  //      (see minidocker/proxy.ts), and so what must its stdin be?
  //   Where: moby's daemon/libnetwork/portmapper (how dockerd starts docker-proxy).
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'startProxy')
}
// #endregion startProxy

// #region publishPorts
/**
 * Publish each mapping to the container at `containerIp`: its proxy first (listening is what
 * proves the port free), then its DNAT rule. If one fails, whatever this call made is undone
 * before the error is thrown: no proxy runs and no rule stays.
 */
export async function publishPorts(mappings: PortMapping[], bridge: Bridge, containerIp: string): Promise<Published> {
  // TODO(08): publish each mapping to the container at `containerIp`.
  //   1. Per port a proxy and a DNAT rule (dnatRule builds its arguments). Which comes first,
  //      so that a port already taken fails before any rule exists?
  //   2. If anything fails, undo what this call made (unpublishPorts), then throw.
  //   Where: libnetwork's portmapper MapRange and bridge driver allocatePorts.
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'publishPorts')
}
// #endregion publishPorts

// #region unpublishPorts
/** Undo publishPorts: delete each DNAT rule and end each proxy. */
export async function unpublishPorts(published: Published): Promise<void> {
  // TODO(08): undo publishPorts: every DNAT rule deleted, every proxy ended (stopProxy).
  //   1. A rule is deleted by repeating it with the delete command instead of append.
  //   Where: man 8 iptables (-D). Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'unpublishPorts')
}
// #endregion unpublishPorts
