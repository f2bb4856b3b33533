/**
 * A stand-in host for chapter 08: a network namespace and a mount namespace held open by a
 * helper, in which minidocker runs. Its bridge, veths, iptables rules, sysctls and proxies all
 * land in the stand-in, never in the machine's own namespace, even when the code under test is
 * wrong (an `ip link add` without nsenter makes a link in the stand-in). Nothing outlives it:
 * after each test every process started in it is killed, with its descendants (containers
 * included) and their cgroups; after the file the namespaces go with their holder, and every
 * link and rule with them.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { Helper } from '../../native/helper.ts'
import { processState } from './container.ts'
import { removeCgroupParent } from './daemons.ts'
import { thawAndKill } from './hierarchies.ts'
import { testName } from './names.ts'

const MINIDOCKER = fileURLToPath(new URL('../../bin/minidocker.cjs', import.meta.url))

export interface StandIn {
  /** the holder's PID: /proc/PID/ns/net is the stand-in's network namespace */
  pid: number
  /** `argv` run inside the stand-in (its network and mount namespaces) */
  run(argv: string[]): ResultPromise<{ reject: false; stdin: 'ignore' }>
  /** `minidocker ARGS` run inside the stand-in, with its own MINIDOCKER_ROOT and Docker's default network, and `extra` in its environment */
  minidocker(args: string[], extra?: NodeJS.ProcessEnv): ResultPromise<{ reject: false; stdin: 'ignore'; env: NodeJS.ProcessEnv; extendEnv: false }>
  /** minidocker's root for this file's runs */
  root: string
  /** the PIDs of the processes in the stand-in's network namespace, the holder left out */
  processes(): number[]
  /** SIGKILL every process started in the stand-in and their descendants; remove their cgroups */
  killAll(): Promise<void>
}

const netnsOf = (pid: number | string) => {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`)
  } catch {
    return undefined
  }
}

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

/** The processes whose line of parents, up to init, passes through one of `roots`. */
export function descendantsOf(roots: Iterable<number>): number[] {
  const ancestors = new Set(roots)
  const below = (p: number): boolean => {
    for (let q = parentOf(p); q !== undefined && q > 1; q = parentOf(q)) if (ancestors.has(q)) return true
    return false
  }
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter(below)
}

/** Register a stand-in host for the describe block it is called in; the getter is valid from beforeAll on. */
export function useStandInHost(): () => StandIn {
  let holder: Helper | undefined
  let standIn: StandIn | undefined
  let root_: string | undefined
  beforeAll(async () => {
    holder = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
    await holder.unshare(['network', 'mount'])
    // Mounts made in the stand-in (none are expected) must not reach the machine's table.
    await holder.mount(null, '/', null, ['rec', 'private'])
    // A new network namespace takes IPv4 forwarding from the machine's (devconf_inherit_init_net 0):
    // the stand-in starts as a fresh host does, not forwarding, whatever this machine does.
    await holder.writeFile('/proc/sys/net/ipv4/ip_forward', '0')
    const pid = holder.pid
    const enter = ['nsenter', `--net=/proc/${pid}/ns/net`, `--mount=/proc/${pid}/ns/mnt`, '--']
    // One root for the file, so that its IPAM state carries from test to test.
    const root = (root_ = mkdtempSync(join(tmpdir(), 'minidocker-netroot-')))
    const env = { ...process.env }
    delete env.MINIDOCKER_NETWORK
    env.MINIDOCKER_ROOT = root
    // Its runs' cgroups under a parent of its own, removed whole after each test: a run killed
    // between making its cgroups and joining them names them nowhere else.
    const cgroupParent = testName('standin')
    env.MINIDOCKER_CGROUP_PARENT = cgroupParent
    // killAll ends runs with SIGKILL, which leaves them no time to remove the rootfs copies
    // they unpacked: those go in the root too, and with it after the file.
    env.TMPDIR = join(root, 'tmp')
    mkdirSync(env.TMPDIR)
    const processes = () => {
      const ns = netnsOf(pid)
      return readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== pid && netnsOf(p) === ns).map(Number)
    }
    standIn = {
      pid,
      root,
      run: (argv) => execa(enter[0]!, [...enter.slice(1), ...argv], { reject: false, stdin: 'ignore' }),
      minidocker: (args, extra = {}) => execa(enter[0]!, [...enter.slice(1), process.execPath, MINIDOCKER, ...args], { reject: false, stdin: 'ignore', env: { ...env, ...extra }, extendEnv: false }),
      processes,
      killAll: async () => {
        // The whole tree at once: a relay whose minidocker died first would be reparented out of sight.
        const inside = processes()
        const doomed = [...inside, ...descendantsOf(inside)]
        for (const p of doomed) thawAndKill(p) // a paused container thawed first: v1's freezer holds off SIGKILL
        const deadline = Date.now() + 10_000
        // gone, not only dead: a zombie still holds what the next run checks (its PID in the address book)
        while (doomed.some((p) => processState(p) !== undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
        // A killed run cannot remove its cgroups: they go with the stand-in's parent.
        removeCgroupParent(cgroupParent)
      },
    }
    await standIn.run(['ip', 'link', 'set', 'lo', 'up'])
  })
  afterEach(async () => {
    await standIn?.killAll()
  })
  afterAll(async () => {
    await standIn?.killAll()
    holder?.kill()
    await holder?.exited
    if (root_) rmSync(root_, { recursive: true, force: true })
  })
  return () => {
    if (!standIn) throw new Error('the stand-in host is made in beforeAll: use it inside a test')
    return standIn
  }
}
