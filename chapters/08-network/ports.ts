/**
 * Chapter 08: the host's rules around published ports and the bridge. A packet for a published
 * port that arrives from outside the host is rewritten by a DNAT rule in the nat table to the
 * container's address; that rule and the rest of publishing (the proxy for the host's own
 * loopback, marking each rule with its owner, sweeping the rules of dead owners) are given in
 * lib/publish.ts.
 *
 * Rules are made with iptables (its nf_tables backend, iptables-nft): the chains Docker makes
 * (DOCKER, DOCKER-USER) are iptables chains, and `iptables -t nat -L` shows ours beside them.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Bridge } from '../../lib/net.ts'

// #region ensureChains
/**
 * Make the host's rules that the bridge's containers and their published ports need, with the
 * nat chain CHAIN (the DNAT rules of lib/publish.ts go in it) and the filter chain USER_CHAIN (the
 * administrator's own rules about containers). Every run calls it.
 */
export async function ensureChains(bridge: Bridge): Promise<void> {
  // TODO(08): the host's rules around the DNAT rules, made so that every run can call this.
  //   1. Which packets must reach CHAIN, and at which hooks do they pass? What does the proxy
  //      serve instead?
  //   2. A container's packet leaves the host with which source address, by which of its links
  //      (it may have several, and gain one after your first run), and can the machine it
  //      reaches answer that?
  //   3. What must the host forward, to and from the bridge, and what never? The host is not
  //      yours: it may drop forwarded packets, its administrator's rules are there before
  //      yours, and FORWARD's policy is not yours either.
  //   4. Other runs' containers have their rules in CHAIN right now, and the rules you make
  //      may all be there already. What may a run do to what it finds?
  //   5. The administrator's own rules about containers go in the filter chain USER_CHAIN
  //      (lib/net.ts; Docker's DOCKER-USER), once a run has made it. Their rules must decide
  //      before yours, for every run after they added them: on a first run and on a later one.
  //   Where: man 8 iptables (COMMANDS), man 8 iptables-extensions; lib/publish.ts and lib/net.ts
  //   for what is given; libnetwork's internal/iptabler. Chapter text: "Published ports".
  throw new NotImplementedError('08-network', 'ensureChains')
}
// #endregion ensureChains
