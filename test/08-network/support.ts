/** What chapter 08's test files share: reading minidocker's runs in the stand-in host. */
import { execa } from 'execa'
import { expect } from 'vitest'
import { NotImplementedError } from '../../lib/errors.ts'
import { processStart, type Owner } from '../../lib/net.ts'
import { startHelper } from '../support/helper.ts'
import type { StandIn, useStandInHost } from '../support/netns.ts'
import { probeLines } from '../support/probe.ts'

export type Run = ReturnType<ReturnType<ReturnType<typeof useStandInHost>>['minidocker']>

/** A starter's step, named by minidocker's stderr ("not written yet", or the note it ran without chapter 08). */
export function unwritten(stderr: string): NotImplementedError | undefined {
  const missing = /(\w+)\(\) is not written yet: follow the TODO in it, in chapters\/08-network\//.exec(stderr)
  if (missing) return new NotImplementedError('08-network', missing[1]!)
  if (/chapter 08-network is not done yet/.test(stderr)) return new NotImplementedError('08-network', 'attachNetwork')
  return undefined
}

/** The run's result once it has ended; a starter's NotImplementedError is thrown as such. */
export async function done(run: Run): Promise<Awaited<Run>> {
  const result = await run
  const error = unwritten(String(result.stderr))
  if (error) throw error
  return result
}

/** Resolve once `run` has printed a line matching `pattern`; fail with what it said if it ends first. */
export async function printed(run: Run, pattern: RegExp, what: string): Promise<string> {
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matching ${pattern} within 60 s; it printed: ${out}`)), 60_000)
    run.stderr!.on('data', (chunk: Buffer) => {
      const error = unwritten(chunk.toString())
      if (error) clearTimeout(timer), reject(error)
    })
    run.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (pattern.test(out)) clearTimeout(timer), resolve(out)
    })
    void run.then((result) => {
      clearTimeout(timer)
      reject(unwritten(String(result.stderr)) ?? new Error(`${what}: minidocker exited (${result.exitCode}) before printing ${pattern}: ${result.stderr || result.stdout}`))
    })
  })
}

/** The container's address: the last line of its /etc/hosts, as the probe printed it. */
export function addressIn(stdout: string): string {
  const hosts = probeLines(stdout).find((l) => typeof l.cat === 'string' && (l.cat as string).includes('localhost'))?.cat as string | undefined
  const address = hosts?.trim().split('\n').at(-1)?.split('\t')[0]
  if (!address || !/^\d+\.\d+\.\d+\.\d+$/.test(address)) throw new Error(`the container's /etc/hosts names no address for it: ${hosts ?? stdout}`)
  return address
}

/** The interfaces /proc/net/dev lists, as the probe printed it. */
export function interfaces(stdout: string): string[] {
  const dev = probeLines(stdout).find((l) => typeof l.cat === 'string' && (l.cat as string).startsWith('Inter-'))?.cat as string
  return dev.split('\n').slice(2).filter(Boolean).map((line) => line.split(':')[0]!.trim()).sort()
}

export const hosts = 'cat:/etc/hosts'
export const netdev = 'cat:/proc/net/dev'

let outsides = 0

/**
 * Another machine: a network namespace of its own (its holder goes after the test), wired to the
 * stand-in host by a veth on `net`.0/24, the host at `net`.1, the machine at `net`.2, with
 * `routes` (each the words after `ip route add`) through the host. Each call takes its own link
 * names: a namespace ended by the test before may still be going away.
 */
export async function outsideMachine(host: StandIn, net: string, routes: string[][] = []) {
  const outside = startHelper()
  await outside.unshare(['network'])
  const inside = `ext${outsides}b`
  const ours = `ext${outsides++}a`
  const run = (...argv: string[]) => host.run(['nsenter', `--net=/proc/${outside.pid}/ns/net`, '--', ...argv])
  for (const argv of [['ip', 'link', 'add', ours, 'type', 'veth', 'peer', 'name', inside], ['ip', 'link', 'set', inside, 'netns', String(outside.pid)], ['ip', 'addr', 'add', `${net}.1/24`, 'dev', ours], ['ip', 'link', 'set', ours, 'up']])
    expect((await host.run(argv)).exitCode, argv.join(' ')).toBe(0)
  for (const argv of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'addr', 'add', `${net}.2/24`, 'dev', inside], ['ip', 'link', 'set', inside, 'up'], ...routes.map((route) => ['ip', 'route', 'add', ...route])])
    expect((await run(...argv)).exitCode, argv.join(' ')).toBe(0)
  return { pid: outside.pid, run, address: `${net}.2`, hostAddress: `${net}.1` }
}

/** The owner of a process that has ended: a PID and the start time it had. */
export async function deadOwner(): Promise<Owner> {
  const child = execa('sleep', ['60'], { reject: false })
  const owner = { pid: child.pid!, start: processStart(child.pid!)! }
  child.kill('SIGKILL')
  await child
  return owner
}

/** The rules of the stand-in's MINIDOCKER chain, as iptables itself prints them. */
export const natChain = async (host: StandIn): Promise<string[]> => String((await host.run(['iptables', '-w', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout).split('\n').filter((line) => line.startsWith('-A '))

/** An empty MINIDOCKER chain in the stand-in, then `rules` (each the arguments after -A) appended to it. */
export async function plantRules(host: StandIn, rules: string[][]): Promise<void> {
  await host.run(['iptables', '-w', '-t', 'nat', '-N', 'MINIDOCKER'])
  expect((await host.run(['iptables', '-w', '-t', 'nat', '-F', 'MINIDOCKER'])).exitCode, 'iptables -t nat -F MINIDOCKER in the stand-in host').toBe(0)
  for (const rule of rules) {
    const added = await host.run(['iptables', '-w', '-t', 'nat', '-A', ...rule])
    expect(added.exitCode, `iptables refused the rule -A ${rule.join(' ')}: ${added.stderr} — is the DNAT rule in it one iptables takes? (iptables-extensions(8))`).toBe(0)
  }
}

/** `listener` (a process running the probe's listen:PORT), once it says it listens; `what` names it if it ends first. */
export async function listening(listener: { stdout: NodeJS.ReadableStream | null } & PromiseLike<{ stderr: unknown }>, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let said = ''
    listener.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()).includes('listening') && resolve())
    void listener.then((result) => reject(new Error(`${what} ended: ${String(result.stderr)}`)))
  })
}
