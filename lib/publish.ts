/**
 * Chapter 08's given port publishing, `-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`, the two
 * ways Docker does it: a DNAT rule in the nat table for traffic that arrives from outside the
 * host, and a userland proxy (minidocker-proxy, the workbook's docker-proxy) for traffic from the
 * host's own loopback, which DNAT does not see. Each rule is marked with its owner, and every run
 * sweeps the rules of owners that have died. The host's rules around them (ensureChains) are the
 * learner's (chapters/08-network/ports.ts).
 *
 * Rules are made with iptables (its nf_tables backend, iptables-nft): the chains Docker makes
 * (DOCKER, DOCKER-USER) are iptables chains, and `iptables -t nat -L` shows ours beside them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { ContainerError } from './errors.ts'
import { alive, CHAIN, iptables, PROXY_PATH, stopProxy, type Bridge, type Owner, type PortMapping, type Published } from './net.ts'

/**
 * One `-p` value as a PortMapping. Ports are whole numbers from 1 to 65535, the protocol tcp
 * (the default) or udp, the host IP a dotted quad. Anything else is a ContainerError (125) that
 * quotes the flag and names what is wrong with it, before anything is created.
 */
export function parsePublish(text: string): PortMapping {
  const usage = `invalid -p "${text}": expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`
  const [ports, proto = 'tcp', ...extra] = text.split('/')
  if (extra.length > 0) throw new ContainerError(usage, 125)
  if (proto !== 'tcp' && proto !== 'udp') throw new ContainerError(`invalid -p "${text}": unsupported protocol "${proto}": expected tcp or udp`, 125)
  const parts = ports!.split(':')
  if (parts.length < 2 || parts.length > 3) throw new ContainerError(usage, 125)
  const [hostIp = '0.0.0.0', hostPort, containerPort] = parts.length === 3 ? parts : [undefined, ...parts]
  const octets = hostIp.split('.')
  if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255))
    throw new ContainerError(`invalid -p "${text}": host IP "${hostIp}" is not an IPv4 address`, 125)
  const port = (value: string | undefined, which: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value ?? '') || n < 1 || n > 65535) throw new ContainerError(`invalid -p "${text}": ${which} port "${value}" is out of range 1-65535`, 125)
    return n
  }
  return { hostIp, hostPort: port(hostPort, 'host'), containerPort: port(containerPort, 'container'), proto }
}

/**
 * The DNAT rule that sends what arrives for `mapping`'s host side to `containerIp`, as the
 * arguments that follow -A or -D, chain (CHAIN) first: dockerd's rule (internal/iptabler/port.go).
 * A hostIp of 0.0.0.0 means any of the host's addresses, as in `docker run -p`.
 */
export function dnatRule(mapping: PortMapping, bridge: Bridge, containerIp: string): string[] {
  // nat's PREROUTING rewrites the destination before the kernel routes the packet, so before it
  // drops a packet for 127.0.0.0/8 that came in on a link: a rule for a loopback host address
  // would hand the port to any machine on the host's link. The host's own connections to it come
  // in on lo, or never pass PREROUTING at all (the proxy serves them).
  const from = /^127\./.test(mapping.hostIp) ? ['-i', 'lo'] : ['!', '-i', bridge.name]
  return [
    CHAIN, '-p', mapping.proto, ...(mapping.hostIp === '0.0.0.0' ? [] : ['-d', mapping.hostIp]), '--dport', String(mapping.hostPort),
    // What comes from the bridge itself is container-to-container traffic: leave it alone.
    ...from, '-j', 'DNAT', '--to-destination', `${containerIp}:${mapping.containerPort}`,
  ]
}

/**
 * Add the rule `args` (a chain and what follows it) to `table`, unless an identical rule is
 * there already: every run calls this, and a rule added twice stays twice.
 */
export async function ensureRule(table: string, args: string[]): Promise<void> {
  // -C compares the parsed rule, not its spelling: it fails when no such rule exists.
  const present = await iptables(['-t', table, '-C', ...args]).then(() => true, () => false)
  if (!present) await iptables(['-t', table, '-A', ...args])
}

/**
 * Start one minidocker-proxy for `mapping` to `containerIp`, and resolve once it listens. A proxy
 * that cannot listen (the port is taken) exits: that is a ContainerError (125) carrying what it
 * said. Its stdin stays a pipe from this process, so the proxy ends when the run does, even a
 * run that was killed.
 */
export async function startProxy(mapping: PortMapping, containerIp: string): Promise<ChildProcess> {
  const proxy = spawn(process.execPath, [
    PROXY_PATH, '-proto', mapping.proto, '-host-ip', mapping.hostIp, '-host-port', String(mapping.hostPort),
    '-container-ip', containerIp, '-container-port', String(mapping.containerPort),
  ], { stdio: ['pipe', 'pipe', 'pipe'] })
  let said = ''
  proxy.stdout!.setEncoding('utf8').on('data', (chunk: string) => (said += chunk))
  proxy.stderr!.setEncoding('utf8').on('data', (chunk: string) => (said += chunk))
  const ready = new Promise<boolean>((resolve) => {
    proxy.stdout!.on('data', () => said.includes('ready\n') && resolve(true))
    proxy.once('exit', () => resolve(false))
  })
  if (!(await ready)) throw new ContainerError(`cannot publish ${mapping.hostIp}:${mapping.hostPort}/${mapping.proto}: ${said.trim() || 'the proxy exited'}`, 125)
  return proxy
}

/**
 * Publish each mapping to the container at `containerIp`: a proxy and a DNAT rule per port, the
 * rule marked as `owner`'s (ownedRule), which sweepStaleRules judges by alive(). A port that is
 * taken fails before a rule exists for it. If one fails, whatever this call made is undone before the
 * error is thrown: no proxy runs and no rule stays.
 */
export async function publishPorts(mappings: PortMapping[], bridge: Bridge, containerIp: string, owner: Owner): Promise<Published> {
  const published: Published = { rules: [], proxies: [] }
  try {
    for (const mapping of mappings) {
      published.proxies.push(await startProxy(mapping, containerIp))
      // The proxy listening proves that no program holds the port, and keeps every other run
      // from passing this point for it until we are done. A port can also be held by a rule
      // alone, with no proxy listening: a rule of ours would go below that one and never match.
      if (await publishedElsewhere(mapping))
        throw new ContainerError(`Bind for ${mapping.hostIp}:${mapping.hostPort} failed: port is already allocated`, 125)
      const rule = ownedRule(dnatRule(mapping, bridge, containerIp), owner)
      await iptables(['-t', 'nat', '-A', ...rule])
      published.rules.push(rule)
    }
    return published
  } catch (error) {
    await unpublishPorts(published)
    throw error
  }
}

/** Whether a rule in CHAIN of an owner that runs (or of nobody we know) publishes `mapping`'s host port. */
async function publishedElsewhere(mapping: PortMapping): Promise<boolean> {
  const listed = (await iptables(['-t', 'nat', '-S', CHAIN])).split('\n').filter((line) => line.startsWith('-A '))
  return listed.some((line) => {
    const rule = words(line)
    const after = (flag: string) => (rule.includes(flag) ? rule[rule.indexOf(flag) + 1] : undefined)
    if (after('-j') !== 'DNAT' || after('-p') !== mapping.proto || after('--dport') !== String(mapping.hostPort)) return false
    // 0.0.0.0 is every address of the host: it overlaps any other, as in docker's port allocator.
    const address = after('-d')?.replace(/\/32$/, '') ?? '0.0.0.0'
    if (address !== mapping.hostIp && address !== '0.0.0.0' && mapping.hostIp !== '0.0.0.0') return false
    const owner = ownerOf(rule)
    return owner === undefined || alive(owner)
  })
}

/**
 * Undo publishPorts: delete each DNAT rule and end each proxy. A rule that another run swept
 * already (its owner ended before this call) is no error.
 */
export async function unpublishPorts(published: Published): Promise<void> {
  for (const rule of published.rules.splice(0)) await deleteRule('nat', rule)
  await Promise.all(published.proxies.splice(0).map(stopProxy))
}

/** The comment that names a rule's owner: its PID and its start time, which iptables keeps as text. */
const OWNER = /^owner (\d+) (\d+)$/

/**
 * `rule` (the arguments that follow -A, chain first, as dnatRule gives them) marked as
 * `owner`'s, in a form iptables keeps and prints back with -S, so that sweepStaleRules can
 * tell whose it is.
 */
export function ownedRule(rule: string[], owner: Owner): string[] {
  // A match goes before the target: what follows -j are the target's options.
  const target = rule.indexOf('-j')
  return [...rule.slice(0, target), '-m', 'comment', '--comment', `owner ${owner.pid} ${owner.start}`, ...rule.slice(target)]
}

/**
 * Delete every rule of the nat chain CHAIN whose owner (ownedRule's mark) has ended, as
 * iptables lists it, and return those this call deleted. A rule without a mark is left alone,
 * and so is one whose owner still runs. A rule deleted meanwhile by someone else is no error,
 * and is not returned.
 */
export async function sweepStaleRules(): Promise<string[][]> {
  const listed = (await iptables(['-t', 'nat', '-S', CHAIN])).split('\n').filter((line) => line.startsWith('-A '))
  const swept: string[][] = []
  for (const line of listed) {
    // -S prints each rule as the -A that would add it, in iptables' spelling: the same words after -D delete it.
    const rule = words(line).slice(1)
    const owner = ownerOf(rule)
    if (owner === undefined || alive(owner)) continue
    if (await deleteRule('nat', rule)) swept.push(rule)
  }
  return swept
}

/** One line of `iptables -S` as its words: iptables quotes a comment ("...", with \" inside). */
function words(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map(([, quoted, bare]) => bare ?? quoted!.replace(/\\(.)/g, '$1'))
}

/** The owner a rule's comment names, or undefined for a rule without ownedRule's mark. */
function ownerOf(rule: string[]): Owner | undefined {
  const comment = rule.indexOf('--comment')
  const mark = comment < 0 ? null : OWNER.exec(rule[comment + 1] ?? '')
  return mark ? { pid: Number(mark[1]), start: mark[2]! } : undefined
}

/**
 * Delete `rule` from `table` by its spec; false when it is not there: its own run and a sweep
 * may both delete one rule, and whichever comes second finds it gone.
 */
async function deleteRule(table: string, rule: string[]): Promise<boolean> {
  try {
    await iptables(['-t', table, '-D', ...rule])
    return true
  } catch (error) {
    // iptables' words for "no such rule": gone before iptables looked it up, or between its
    // lookup and the delete (nf_tables' ENOENT); a rule it cannot parse is another failure.
    if (/does a matching rule exist|RULE_DELETE failed \(No such file or directory\)/.test(String(error))) return false
    throw error
  }
}
