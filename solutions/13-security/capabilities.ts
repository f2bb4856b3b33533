/**
 * Chapter 13: capabilities. Root's power is some forty capabilities (capabilities(7)); a
 * container keeps a few of them. config.json's process.capabilities names five sets, and the
 * runtime makes them true just before exec, in an order the kernel dictates.
 *
 * Check your work with `npx workbook check 13`.
 */
import { readFileSync } from 'node:fs'
import { capabilityMask } from '../../lib/capabilities.ts'
import type { Capabilities, Spec } from '../../lib/oci.ts'
import { CAPABILITY_NUMBERS } from '../../lib/security-tables.ts'
import type { Helper } from '../../native/helper.ts'
import { encodeProgram } from '../../lib/seccomp.ts'
import { ContainerError } from '../../lib/errors.ts'
import { compileSeccomp } from './seccomp.ts'
import { switchUser } from '../../minidocker/container.ts'

// #region setCredentials
/**
 * Become process.user holding exactly the capability sets process.capabilities names, as runc's
 * finalizeNamespace does. The order is the kernel's: the bounding set shrinks first, while the
 * process is root with CAP_SETPCAP; PR_SET_KEEPCAPS keeps the permitted set across setuid() to a
 * non-zero uid (which would clear it); the user switch sets the groups too; after it, capset()
 * sets effective, permitted and inheritable; the ambient set, emptied of what the runtime itself
 * was started with once capset() is done, is raised last, each capability of
 * it being in both permitted and inheritable by then; one the kernel refuses is reported on
 * stderr and skipped: runc goes on too. A name this kernel does not have is left out of every
 * set, with a warning, as runc 1.1 leaves it. The umask is process.user.umask, or runc's own
 * when the spec has none, never the caller's.
 */
export async function setCredentials(helper: Helper, proc: Spec['process']): Promise<void> {
  // The file mode creation mask crosses fork and exec from whoever started the runtime, like
  // the groups; runc sets it for every container (finalizeRootfs): the spec's, or 0022.
  await helper.umask(proc.user?.umask ?? 0o022)
  const caps: Capabilities | undefined = proc.capabilities
  if (!caps) {
    if (proc.user) await switchUser(helper, proc.user)
    return
  }
  const last = lastCapability()
  const unknown = new Set<string>()
  const known = (names: string[] = []) => names.filter((name) => {
    const n = CAPABILITY_NUMBERS[name]
    if (n !== undefined && n <= last) return true
    unknown.add(name)
    return false
  })
  const [bounding, effective, permitted, inheritable] = [caps.bounding, caps.effective, caps.permitted, caps.inheritable].map((names) => capabilityMask(known(names)))
  const ambient = known(caps.ambient)
  if (unknown.size) process.stderr.write(`minirunc: ignoring unknown or unavailable capabilities: ${[...unknown].join(' ')}\n`)
  for (let n = 0; n <= last; n++) {
    if (!(bounding & (1n << BigInt(n)))) await helper.dropBoundingCapability(n)
  }
  if (proc.user) {
    await helper.setKeepCapabilities(true)
    await switchUser(helper, proc.user)
    await helper.setKeepCapabilities(false)
  }
  await helper.setCapabilities(effective, permitted, inheritable)
  for (const name of ambient) {
    try {
      await helper.raiseAmbientCapability(CAPABILITY_NUMBERS[name]!)
    } catch (error) {
      // the container goes on, as under runc (1.1.5 says nothing): `runc spec` itself asks for ambient capabilities it leaves out of inheritable.
      process.stderr.write(`minirunc: cannot raise ambient capability ${name}: ${(error as Error).message}\n`)
    }
  }
  // The ambient set is inherited like the others: a runtime started with ambient capabilities
  // (a service manager's AmbientCapabilities=, setpriv --ambient-caps) hands them to the helper,
  // and raising the spec's adds to them. runc clears the set (PR_CAP_AMBIENT_CLEAR_ALL) before
  // it raises the spec's; here what is left besides the spec's goes once they are raised. The
  // kernel keeps ambient within permitted and inheritable, so taking a capability out of
  // inheritable takes it out of ambient, and putting it back is allowed, since it is still
  // permitted. Emptying inheritable at the start instead would lose what the caller held there
  // beyond its permitted set, which a capset without CAP_SETPCAP cannot put back.
  const held = (set: string) => BigInt(`0x${new RegExp(`^${set}:\\s*([0-9a-f]+)$`, 'm').exec(readFileSync(`/proc/${helper.serving}/status`, 'utf8'))![1]}`)
  const stray = held('CapAmb') & ~capabilityMask(ambient)
  if (stray) {
    await helper.setCapabilities(effective, permitted, inheritable & ~stray)
    await helper.setCapabilities(effective, permitted, inheritable | stray)
  }
}
// #endregion setCredentials

/** The highest capability number the running kernel knows. */
function lastCapability(): number {
  return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'))
}

/** The most instructions one classic BPF program may have (linux/filter.h). */
const BPF_MAXINSNS = 4096

// #region secureProcess
/**
 * Apply process.noNewPrivileges, linux.seccomp and the user with process.capabilities to the
 * helper's process, the container's, once everything that needs privilege is done: after exec,
 * /proc/self/status must read as under runc for the same config.json, and every spec runc runs
 * must run. A filter is either loaded here or handed back as `lastFilter`, which the caller
 * loads as its last request before exec. A profile that cannot be compiled fails before
 * anything changes.
 */
export async function secureProcess(helper: Helper, spec: Spec): Promise<{ lastFilter?: Buffer }> {
  const program = spec.linux?.seccomp && compileSeccomp(spec.linux.seccomp)
  // The kernel refuses a filter longer than BPF_MAXINSNS (linux/filter.h) with EINVAL, whatever
  // it says. Under no_new_privs the load waits until after start, where create's caller is gone
  // (and a program that size cannot even be queued to the helper ahead of the exec.fifo): runc
  // loads it before create returns, so its create fails. Found out now, before anything changes.
  if (program && program.length > BPF_MAXINSNS)
    throw new ContainerError(`seccomp filter of ${program.length} instructions: the kernel loads at most ${BPF_MAXINSNS}`, 125)
  const filter = program && encodeProgram(program)
  // Without no_new_privs, loading takes CAP_SYS_ADMIN, which the credentials may take away: the
  // filter goes first, and judges the calls that follow (runc's first place). With it, loading
  // needs nothing held, and the filter can wait until the runtime makes no more calls of its own
  // (runc's second place, just before exec), so a profile may deny setuid, capset or prctl.
  if (spec.process.noNewPrivileges) await helper.setNoNewPrivs()
  if (filter && !spec.process.noNewPrivileges) await helper.loadSeccomp(filter)
  await setCredentials(helper, spec.process)
  return { lastFilter: spec.process.noNewPrivileges ? filter : undefined }
}
// #endregion secureProcess
