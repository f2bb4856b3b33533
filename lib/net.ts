/**
 * Chapter 08's given plumbing, which the starter and the reference share: IPv4 numbers and
 * subnets, who holds an address (a process, by PID and start time), the IPAM file, the host's
 * resolv.conf, running `ip` in one process and `iptables`, ending a port's
 * proxy, and the chapter's types (a bridge, a published port, what `run` asks for and what it
 * gets back). What the chapter teaches (the MAC of a veth, the host's rules, a port's DNAT rule)
 * is the learner's, in chapters/08-network/.
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { command } from './command.ts'
import { ContainerError } from './errors.ts'
import type { Mount } from './oci.ts'

/** Who holds an address: a process, named by PID and start time so a reused PID does not count. */
export interface Owner {
  pid: number
  start: string
}

/** ipam.json: address → its owner. */
export type Allocations = Record<string, Owner>

/** The fields of /proc/PID/stat after the command name (field 3 first), or undefined if it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** The start time of process `pid` (field 22 of /proc/PID/stat), or undefined if it is gone. */
export function processStart(pid: number): string | undefined {
  return statFields(pid)?.[19]
}

/**
 * Whether `owner` still runs, and so may still hold what it took; false once it has ended.
 * (How to tell from /proc: proc(5), /proc/PID/stat.)
 */
export function alive(owner: Owner): boolean {
  const fields = statFields(owner.pid)
  return fields !== undefined && fields[19] === owner.start && !/^[ZX]$/.test(fields[0]!)
}

/** A dotted quad as a 32-bit number, and back. */
export const toNumber = (address: string): number => address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
export const toAddress = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')

/** The subnet "a.b.c.d/N": its network number and prefix length. */
export function parseSubnet(cidr: string): { network: number; prefix: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr)
  const prefix = Number(match?.[2])
  if (!match || prefix > 30 || match[1]!.split('.').some((o) => Number(o) > 255))
    throw new ContainerError(`invalid subnet "${cidr}": expected a.b.c.d/N with N at most 30`, 125)
  const size = 2 ** (32 - prefix)
  return { network: toNumber(match[1]!) - (toNumber(match[1]!) % size), prefix }
}

/** The allocations in `dir/ipam.json` (none when there is no file yet). */
export async function loadAllocations(dir: string): Promise<Allocations> {
  const text = await readFile(join(dir, 'ipam.json'), 'utf8').catch(() => '{}')
  return JSON.parse(text) as Allocations
}

/** Replace ipam.json whole (write a temp file, rename it), so a crash never leaves half a file. */
export async function saveAllocations(dir: string, allocations: Allocations): Promise<void> {
  await writeFile(join(dir, 'ipam.json.tmp'), JSON.stringify(allocations, null, 1))
  await rename(join(dir, 'ipam.json.tmp'), join(dir, 'ipam.json'))
}

/** The host's /etc/resolv.conf, or undefined when it has none. */
export function hostResolvConf(): string | undefined {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** `argv` run by nsenter in the network namespace of process `pid`. */
export function inNetns(pid: number, argv: string[]): string[] {
  return ['nsenter', `--net=/proc/${pid}/ns/net`, '--', ...argv]
}

/**
 * Run several `ip` commands (one per line, without the leading "ip") in one process, `prefix`
 * (such as nsenter's) before it, stopping at the first failure, which is named in the error.
 */
export async function ipBatch(lines: string[], prefix: string[] = []): Promise<string> {
  try {
    return await command([...prefix, 'ip', '-batch', '-'], lines.join('\n') + '\n')
  } catch (error) {
    const failed = /Command failed -:(\d+)/.exec(String(error))
    if (!failed || !(error instanceof ContainerError)) throw error
    const why = error.message.slice(error.message.indexOf(': ') + 2).replace(/;?\s*Command failed -:\d+/, '')
    throw new ContainerError(`${[...prefix, 'ip', lines[Number(failed[1]) - 1]].join(' ')}: ${why}`, 125)
  }
}

/** docker-proxy's words when the host port is taken. */
export function bindError(target: { hostIp: string; hostPort: number }, error: NodeJS.ErrnoException): Error {
  const why = error.code === 'EADDRINUSE' ? 'port is already allocated' : `${error.code ?? error.message}`
  return new ContainerError(`Bind for ${target.hostIp}:${target.hostPort} failed: ${why}`, 125)
}

/** The nat chain holding the DNAT rules, as Docker's is DOCKER. */
export const CHAIN = 'MINIDOCKER'

/** The filter chain for the administrator's own rules about containers, as Docker's is DOCKER-USER. */
export const USER_CHAIN = 'MINIDOCKER-USER'

/** The proxy's command; it prints "ready" once it listens, and exits when its stdin closes. */
export const PROXY_PATH = fileURLToPath(new URL('../bin/minidocker-proxy.cjs', import.meta.url))

/** iptables, waiting for the xtables lock rather than failing when another iptables holds it. */
export const iptables = (args: string[]) => command(['iptables', '-w', ...args])

/** End a proxy: close its stdin and wait until it has exited. */
export async function stopProxy(proxy: ChildProcess): Promise<void> {
  if (proxy.exitCode !== null || proxy.signalCode !== null) return
  const exited = once(proxy, 'exit')
  proxy.stdin!.end()
  await exited
}

// ---------- the chapter's types: a request, a bridge, a published port, an attachment ----------

/** A bridge network: the bridge's name and the subnet its containers take addresses from. */
export interface Bridge {
  name: string
  subnet: string
}

export type Protocol = 'tcp' | 'udp'

/** One `-p`: HOST_IP:HOST_PORT on the host to CONTAINER_PORT in the container. */
export interface PortMapping {
  /** 0.0.0.0 when the flag names none: every address of the host */
  hostIp: string
  hostPort: number
  containerPort: number
  proto: Protocol
}

/** What publishing made, to be undone when the container ends. */
export interface Published {
  /** each DNAT rule as the iptables arguments that follow -A or -D */
  rules: string[][]
  /** one minidocker-proxy per port */
  proxies: ChildProcess[]
}

export type NetworkMode = 'none' | 'host' | 'bridge'
export const NETWORK_MODES: NetworkMode[] = ['none', 'host', 'bridge']

/** What `run` asks for: Docker's HostConfig.NetworkMode and PortBindings, and where the files go. */
export interface NetworkRequest {
  mode: NetworkMode
  ports: PortMapping[]
  /** minidocker's root (DEFAULT_ROOT): IPAM state under network/, the container's files under containers/ID/ */
  root: string
  /** the container's ID */
  id: string
  /** the name /etc/hostname and /etc/hosts give the container */
  hostname: string
  /** whether the container has a root filesystem of its own to mount the /etc files into */
  files: boolean
  bridge?: Bridge
}

/** A container's network: the bind mounts of its /etc files, its address, and how to undo it all. */
export interface Attachment {
  mounts: Mount[]
  address?: string
  detach(): Promise<void>
}
