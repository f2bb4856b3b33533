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
import { CHAIN, iptables, USER_CHAIN, type Bridge } from '../../lib/net.ts'
import { ensureRule } from '../../lib/publish.ts'

// #region ensureChains
/**
 * Make the host's rules that the bridge's containers and their published ports need, with the
 * nat chain CHAIN (the DNAT rules of lib/publish.ts go in it) and the filter chain USER_CHAIN (the
 * administrator's own rules about containers). Every run calls it.
 */
export async function ensureChains(bridge: Bridge): Promise<void> {
  const exists = await iptables(['-t', 'nat', '-n', '-L', CHAIN]).then(() => true, () => false)
  if (!exists) await iptables(['-t', 'nat', '-N', CHAIN])
  await ensureRule('nat', ['PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', CHAIN])
  await ensureRule('nat', ['OUTPUT', '!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', CHAIN])
  await ensureRule('nat', ['POSTROUTING', '-s', bridge.subnet, '!', '-o', bridge.name, '-j', 'MASQUERADE'])
  // Into the bridge: only the replies of connections a container made, and what a published
  // port's DNAT sent there; a machine with a route to the subnet reaches nothing else. At the
  // top of FORWARD, as Docker puts its jumps: a host's own rules (a final REJECT, as ufw and
  // firewalld leave) would otherwise see these packets first. And what none of them accepts is
  // dropped here, below them, rather than left to FORWARD's policy: on a host that forwarded
  // nothing before the first run turned ip_forward on, that policy is still the kernel's ACCEPT.
  await ensureFirst('filter', ['FORWARD', '!', '-i', bridge.name, '-o', bridge.name, '-j', 'DROP'])
  await ensureFirst('filter', ['FORWARD', '-o', bridge.name, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'])
  await ensureFirst('filter', ['FORWARD', '-o', bridge.name, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'])
  await ensureFirst('filter', ['FORWARD', '-i', bridge.name, '-j', 'ACCEPT'])
  // The administrator's chain, Docker's DOCKER-USER: made once and never emptied (what is in it
  // is theirs, added since), jumped to before any rule of ours, so its rules decide first.
  const user = await iptables(['-n', '-L', USER_CHAIN]).then(() => true, () => false)
  if (!user) await iptables(['-N', USER_CHAIN])
  await ensureFirst('filter', ['FORWARD', '-j', USER_CHAIN])
}

/** Insert the rule `args` (chain first) at the top of its chain in `table`, unless it is there already. */
async function ensureFirst(table: string, args: string[]): Promise<void> {
  const present = await iptables(['-t', table, '-C', ...args]).then(() => true, () => false)
  if (!present) await iptables(['-t', table, '-I', ...args])
}
// #endregion ensureChains
