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
import { alive, CHAIN, iptables, PROXY_PATH, stopProxy, type Bridge, type Owner, type PortMapping, type Protocol, type Published } from '../../lib/net.ts'

// Given (lib/net.ts): PortMapping, one -p as parsePublish returns it, Published, the rules and
// proxies publishPorts made, CHAIN and PROXY_PATH, iptables(args), which runs `iptables -w`
// and turns a failure into one line, stopProxy(proxy), and an Owner (a PID and its start time)
// with alive(owner), which is true while that very process runs.
export { CHAIN, PROXY_PATH, stopProxy, type PortMapping, type Protocol, type Published }

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
  //   2. Which values are not a port, a protocol or a host address, and which strings are not
  //      that shape at all? Refuse each with a ContainerError (125) from which the user can
  //      tell which part is wrong, quoted as typed. Two phrasings are fixed, because the tests
  //      match them: a bad port's message says "out of range 1-65535", and a value of the
  //      wrong shape names the form above.
  //   Where: docker/cli's opts/port.go and go-connections' nat.ParsePortSpec.
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'parsePublish')
}
// #endregion parsePublish

// #region ensureRule
/**
 * Add the rule `args` (a chain and what follows it) to `table`, unless an identical rule is
 * there already: every run calls this, and a rule added twice stays twice.
 */
export async function ensureRule(table: string, args: string[]): Promise<void> {
  // TODO(08): add a rule to `table` only when it is not there yet.
  //   1. After a hundred runs, each rule is there once: what would a run that always adds leave,
  //      and who would ever remove the copies?
  //   2. You know the rule in your spelling; iptables lists it in its own (add one in a
  //      throwaway namespace and read it back with -S). How do you ask iptables itself,
  //      rather than its listing, whether this rule is there?
  //   3. Two runs that both look, then both add, add it twice: what keeps them apart here?
  //   Where: man 8 iptables (COMMANDS); libnetwork's iptables package (Exists, ProgramRule).
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'ensureRule')
}
// #endregion ensureRule

// #region dnatRule
/**
 * The DNAT rule that sends what arrives for `mapping`'s host side to `containerIp`, as the
 * arguments that follow -A or -D, chain (CHAIN) first. A hostIp of 0.0.0.0 means any of the
 * host's addresses, as in `docker run -p`.
 */
export function dnatRule(mapping: PortMapping, bridge: Bridge, containerIp: string): string[] {
  // TODO(08): the DNAT rule of one published port, as iptables arguments.
  //   1. It rewrites exactly the new connections meant for this mapping's host side: its
  //      protocol, its port, on the address it names or on any of the host's when it names
  //      0.0.0.0. Nothing else that passes CHAIN may match.
  //   2. A container on the bridge may connect to the host's published port too. If your rule
  //      rewrote that connection to a container on the same bridge, from which address would
  //      the reply come, and would the client take it? What serves that connection instead?
  //   3. Some options are refused unless something before them loads what they belong to:
  //      read iptables' error. Then read your rule back with -S in a throwaway namespace
  //      (unshare --net): iptables spells it its own way.
  //   Where: man 8 iptables-extensions, man 8 iptables; moby's libnetwork
  //   drivers/bridge/internal/iptabler/port.go (the DNAT rule of a port binding).
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'dnatRule')
}
// #endregion dnatRule

// #region ensureChains
/**
 * Make the host's rules for the bridge (the caller holds a lock; every run calls this), so that
 * a published port answers on the host's own addresses, from outside and from the host itself,
 * containers reach other networks through the host, and all of it works on a host whose
 * FORWARD policy drops. The DNAT rules of published ports (dnatRule) go in the nat chain CHAIN,
 * which other runs' rules may already be in: a second call changes nothing.
 */
export async function ensureChains(bridge: Bridge): Promise<void> {
  // TODO(08): the host's side of iptables for the bridge, as Docker's bridge driver makes it
  //   for docker0 with its chain DOCKER, and CHAIN to hold the published ports' rules.
  //   1. What must reach CHAIN: a connection to a published port from another machine, and
  //      one the host opens to one of its own addresses, whichever addresses it has today.
  //      What must not reach it, because the proxy serves it?
  //   2. A container's connection to another network leaves with a source address nobody out
  //      there can answer; what stays on the bridge must keep its source.
  //   3. On a host whose FORWARD policy drops (any machine running Docker), a published port's
  //      traffic and a container's own connections out must pass, and their replies too. A
  //      machine that routes the containers' subnet through this host: what may it reach?
  //   4. Every run calls this, and finds the work of earlier ones in place, with other runs'
  //      DNAT rules in CHAIN: it must fail at nothing, add nothing twice, and leave those be.
  //      dockerd rebuilds its chains whole when it starts: why can it, and can you?
  //   Where: man 8 iptables, man 8 iptables-extensions; libnetwork's
  //   drivers/bridge/internal/iptabler/network.go and iptables/iptables.go.
  //   Chapter text: "Published ports".
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
  // TODO(08): start one minidocker-proxy (PROXY_PATH, with docker-proxy's flags, which
  //   minidocker/proxy.ts reads) and resolve once it listens.
  //   1. The proxy either listens (it prints "ready") or exits with its reason on stderr:
  //      resolve on the first, and turn the second into a ContainerError (125) carrying what
  //      it said. Which comes first is a race: handle both orders.
  //   2. It must end with the run, even a run killed with SIGKILL, which runs no cleanup: what
  //      does the proxy watch, and so what must its stdin be?
  //   Where: Node's child_process (spawn, stdio); moby's daemon/libnetwork/portmapper
  //   (how dockerd starts docker-proxy and waits for it). Chapter text: "Published ports"
  //   and "The proxy".
  throw new NotImplementedError('08-network', 'startProxy')
}
// #endregion startProxy

// #region publishPorts
/**
 * Publish each mapping to the container at `containerIp`: a proxy and a DNAT rule per port, the
 * rule marked as `owner`'s (who that is: the text's "Rules a killed run left"). A port that is
 * taken fails before a rule exists for it. If one fails, whatever this call made is undone before the
 * error is thrown: no proxy runs and no rule stays.
 */
export async function publishPorts(mappings: PortMapping[], bridge: Bridge, containerIp: string, owner: Owner): Promise<Published> {
  // TODO(08): publish each mapping to the container at `containerIp`: a proxy and a DNAT
  //   rule per port (startProxy, dnatRule), each rule carrying its owner (ownedRule).
  //   1. A host port that is taken must fail before any rule exists for it: which of the two
  //      finds out that a port is free?
  //   2. If the third port fails, the first two are published already: nothing this call made
  //      may stay (no proxy running, no rule) when the error reaches the caller.
  //   3. What the caller gets back must let it undo exactly what was made, later.
  //   4. A run killed with SIGKILL loses its proxy, but its container may run on and keep its
  //      rule (and its port). A later run with the same -p: how does it find out, at which
  //      moment so that no other run can slip in between, and what does docker say then?
  //   Where: libnetwork's portmapper (MapRange) and portallocator (its errors), the bridge
  //   driver's port allocation.
  //   Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'publishPorts')
}
// #endregion publishPorts

// #region unpublishPorts
/**
 * Undo publishPorts: delete each DNAT rule and end each proxy. A rule that another run swept
 * already (its owner ended before this call) is no error.
 */
export async function unpublishPorts(published: Published): Promise<void> {
  // TODO(08): undo publishPorts: every DNAT rule deleted, every proxy ended, and the record
  //   emptied, so that undoing twice does nothing the second time.
  //   1. How does iptables delete a rule you can describe but whose position you do not know?
  //   2. Your container has ended, so its rules' owner is dead: another run's sweep may have
  //      deleted them before you get here. How does iptables say "no such rule", and how do
  //      you tell that from a failure that is one?
  //   3. A proxy ends when its stdin closes (stopProxy): why wait for it to exit before
  //      returning, when the caller may publish the same port again at once?
  //   Where: man 8 iptables (COMMANDS). Chapter text: "Published ports" and "Rules a killed
  //   run left".
  throw new NotImplementedError('08-network', 'unpublishPorts')
}
// #endregion unpublishPorts

// #region sweepStaleRules
/**
 * `rule` (the arguments that follow -A, chain first, as dnatRule gives them) marked as
 * `owner`'s, in a form iptables keeps and prints back with -S, so that sweepStaleRules can
 * tell whose it is.
 */
export function ownedRule(rule: string[], owner: Owner): string[] {
  // TODO(08): mark a rule with its owner, so that any later run can read the mark back.
  //   1. A rule holds only what iptables can match on or do: which match carries a text of
  //      your choosing and matches every packet?
  //   2. The owner is a process: what names it so that a PID reused by another process later
  //      does not count as the same owner (lib/net.ts, Owner)?
  //   3. Read your rule back with `iptables -t nat -S` in a throwaway namespace
  //      (unshare --net): what does iptables do to your text, and where does it put the match?
  //   Where: man 8 iptables-extensions (MATCH EXTENSIONS); man 8 iptables (-S).
  //   Chapter text: "Rules a killed run left".
  throw new NotImplementedError('08-network', 'ownedRule')
}

/**
 * Delete every rule of the nat chain CHAIN whose owner (ownedRule's mark) has ended, as
 * iptables lists it, and return those this call deleted. A rule without a mark is left alone,
 * and so is one whose owner still runs. A rule deleted meanwhile by someone else is no error,
 * and is not returned.
 */
export async function sweepStaleRules(): Promise<string[][]> {
  // TODO(08): remove what runs killed with SIGKILL left in CHAIN: their DNAT rules, which
  //   would send a port to whichever container gets their address next.
  //   1. Read the chain back as iptables prints it, and find each rule's owner in it. How does
  //      iptables print your mark, and what must your reading of a line cope with?
  //   2. Which owners are gone? A PID alone can name another process by now.
  //   3. Between your listing and your delete, other runs add and delete rules in CHAIN: how
  //      do you name the rule you delete so that it is still that rule when iptables acts?
  //   4. Another deleter may come first: the rule's own run, or another sweep. Which error is
  //      then no error, and which still is?
  //   5. Nothing to sweep, or a chain holding only rules of live runs, is no error either.
  //   Where you call it (attachNetwork) matters as much: before or after allocate, under which
  //   lock, before or after publishing? Where: man 8 iptables (-S, -D); libnetwork's iptables
  //   cleanup when dockerd starts (iptabler/cleaner.go). Chapter text: "Rules a killed run
  //   left".
  throw new NotImplementedError('08-network', 'sweepStaleRules')
}
// #endregion sweepStaleRules
