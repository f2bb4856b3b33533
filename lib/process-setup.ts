/**
 * Chapter 09's given code for the container's process: the program it will exec, looked up as
 * the container sees its files; its rlimits and OOM score; the sysctls of its own namespaces;
 * and its terminal. Chapter 09's create and exec call them, each at the moment it needs.
 */
import { type Stats, statSync, writeFileSync } from 'node:fs'
import { posix } from 'node:path'
import { searchPath } from '#ch/01-process/process.ts'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import type { Spec } from './oci.ts'
import { RuntimeError } from './runtime.ts'
import type { Helper } from '../native/helper.ts'

/**
 * The file to exec for process.args[0] in the container whose process is `pid`, as the
 * container will see it once its root is `/`: checked before the container waits for `start`,
 * so that `create` can still report a missing program (runc's init looks it up there too). A
 * relative path is relative to process.cwd. Errors are chapter 01's words: `exec: "NAME":
 * executable file not found in $PATH`, `exec: "PATH": stat PATH: no such file or directory`,
 * `exec: "PATH": permission denied` (Go's LookPath says which is which).
 */
export function findExecutable(pid: number, process: Spec['process']): string {
  const [file] = process.args
  const root = `/proc/${pid}/root`
  for (const candidate of searchPath(file!, process.env)) {
    const path = posix.resolve(process.cwd, candidate)
    let stat: Stats
    try {
      stat = statSync(secureJoin(root, path, true))
    } catch {
      continue
    }
    if (stat.isFile() && stat.mode & 0o111) {
      // Go's LookPath stops here, and refuses a program found relative to the working directory.
      if (!file!.includes('/') && !candidate.startsWith('/')) throw new RuntimeError(`exec: "${file}": cannot run executable found relative to current directory`)
      return path
    }
    // A path that is there but no executable file, a directory included: Go's LookPath's words.
    if (file!.includes('/')) throw new RuntimeError(`exec: "${file}": permission denied`)
  }
  if (file!.includes('/')) throw new RuntimeError(`exec: "${file}": stat ${file}: no such file or directory`)
  throw new RuntimeError(`exec: "${file}": executable file not found in $PATH`)
}

/**
 * process.rlimits and process.oomScoreAdj, in force for the container's process before it runs
 * its program, hard limits that go up included. A limit of 2^64-1 is RLIM_INFINITY, unlimited.
 */
export async function applyProcessLimits(helper: Helper, pid: number, process: Spec['process']): Promise<void> {
  const exact = (n: number) => (Number.isSafeInteger(n) ? BigInt(n) : 2n ** 64n - 1n)
  for (const { type, soft, hard } of process.rlimits ?? []) await helper.setrlimit(type, exact(soft), exact(hard))
  if (process.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(process.oomScoreAdj))
}

/**
 * linux.sysctl: each key written under /proc/sys (dots become slashes) so that it lands in the
 * container's namespaces, never the host's (proc(5), /proc/sys/net). Only a key that belongs
 * to a namespace the container does not share with the host is allowed, as
 * runc's validator allows it (libcontainer/configs/validate, its sysctl check; which keys each
 * namespace owns: network_namespaces(7), ipc_namespaces(7)); the tests write a net.* key with a
 * network namespace of the container's own. Anything else would change the host and is refused
 * before anything is written: `sysctl "KEY" is not in a separate kernel namespace`.
 */
export async function applySysctl(helper: Helper, spec: Spec): Promise<void> {
  const own = new Set((spec.linux?.namespaces ?? []).filter((n) => !n.path).map((n) => n.type))
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    const ipc = /^(kernel\.(shm|msg)|kernel\.sem$|fs\.mqueue\.)/.test(key)
    const net = key.startsWith('net.')
    if (!(ipc && own.has('ipc')) && !(net && own.has('network'))) throw new RuntimeError(`sysctl "${key}" is not in a separate kernel namespace`)
    await helper.writeFile(`/proc/sys/${key.replaceAll('.', '/')}`, value)
  }
}

/**
 * process.terminal: a pseudo-terminal for the container's process, whose master goes to the
 * caller through the console socket (`socket`, the helper's connected fd of --console-socket). The pty belongs
 * to the container's own devpts (/dev/pts/0 inside), and the slave becomes the process's stdin,
 * stdout, stderr and controlling terminal. The master is sent with the name runc sends,
 * `/dev/ptmx` (runc's setupConsole and utils.SendFile).
 */
export async function setupConsole(helper: Helper, socket: number): Promise<void> {
  const master = await helper.openpt('/dev/ptmx')
  // A controlling terminal is a session's: the process leaves the runtime's session first.
  await helper.setsid()
  await helper.setControllingTerminal(master)
  // The master is close-on-exec: once the program runs, the caller holds the only copy.
  await helper.sendFd(socket, master, '/dev/ptmx')
}
