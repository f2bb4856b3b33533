/**
 * Chapter 13: capabilities. Root's power is some forty capabilities (capabilities(7)); a
 * container keeps a few of them. config.json's process.capabilities names five sets, and the
 * runtime makes them true just before exec, in an order the kernel dictates.
 *
 * Check your work with `npx workbook check 13`.
 */
import { readFileSync } from 'node:fs'
import { ContainerError } from '../../lib/errors.ts'
import type { Capabilities, Spec } from '../../lib/oci.ts'
import { CAPABILITY_NUMBERS } from '../../lib/security-tables.ts'
import type { Helper } from '../../native/helper.ts'
import { switchUser } from '../../minidocker/container.ts'

// #region capabilityMask
/**
 * The kernel's mask for a list of capability names: bit N set for capability number N
 * (lib/security-tables.ts), for every capability the table has. A name the table does not
 * know is refused: `unknown capability "NAME"`.
 */
export function capabilityMask(names: string[] = []): bigint {
  let mask = 0n
  for (const name of names) {
    const n = CAPABILITY_NUMBERS[name]
    if (n === undefined) throw new ContainerError(`unknown capability ${JSON.stringify(name)}`, 125)
    mask |= 1n << BigInt(n)
  }
  return mask
}
// #endregion capabilityMask

// #region setCredentials
/**
 * Become process.user with exactly the capability sets of process.capabilities, as runc's
 * finalizeNamespace does. The order is the kernel's:
 * the bounding set shrinks first, while the process is root with CAP_SETPCAP; PR_SET_KEEPCAPS
 * keeps the permitted set across setuid() to a non-zero uid (which would clear it); after the
 * user switch, capset() sets effective, permitted and inheritable; the ambient set is raised
 * last, each capability of it being in both permitted and inheritable by then; one the kernel
 * refuses is reported on stderr and skipped: runc goes on too.
 */
export async function setCredentials(helper: Helper, proc: Spec['process']): Promise<void> {
  const caps: Capabilities | undefined = proc.capabilities
  if (!caps) {
    if (proc.user) await switchUser(helper, proc.user)
    return
  }
  const bounding = capabilityMask(caps.bounding)
  const [effective, permitted, inheritable] = [capabilityMask(caps.effective), capabilityMask(caps.permitted), capabilityMask(caps.inheritable)]
  capabilityMask(caps.ambient) // refused before anything changes
  for (const n of Object.values(CAPABILITY_NUMBERS)) {
    // A capability this kernel does not have cannot be dropped, and is not there to keep.
    if (!(bounding & (1n << BigInt(n))) && n <= lastCapability()) await helper.dropBoundingCapability(n)
  }
  if (proc.user) {
    await helper.setKeepCapabilities(true)
    await switchUser(helper, proc.user)
    await helper.setKeepCapabilities(false)
  }
  await helper.setCapabilities(effective, permitted, inheritable)
  for (const name of caps.ambient ?? []) {
    try {
      await helper.raiseAmbientCapability(CAPABILITY_NUMBERS[name]!)
    } catch (error) {
      // the container goes on, as under runc (1.1.5 says nothing): `runc spec` itself asks for ambient capabilities it leaves out of inheritable.
      process.stderr.write(`minirunc: cannot raise ambient capability ${name}: ${(error as Error).message}\n`)
    }
  }
}
// #endregion setCredentials

/** The highest capability number the running kernel knows. */
function lastCapability(): number {
  return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'))
}
