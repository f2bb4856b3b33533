/**
 * Chapter 13: capabilities. Root's power is some forty capabilities (capabilities(7)); a
 * container keeps a few of them. config.json's process.capabilities names five sets, and the
 * runtime makes them true just before exec, in an order the kernel dictates.
 *
 * Check your work with `npx workbook check 13`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

// #region capabilityMask
/**
 * The kernel's mask for a list of capability names: bit N set for capability number N
 * (lib/security-tables.ts). A 64-bit mask, so a bigint: capabilities 32 and up exist. A name
 * the table does not know is refused: `unknown capability "NAME"`.
 */
export function capabilityMask(names: string[] = []): bigint {
  // TODO(13): from names to the bits the kernel reads.
  //   1. The numbers are given: lib/security-tables.ts, generated from linux/capability.h.
  //   2. Why can a JavaScript number not hold this mask safely with bit operators? (They work on 32 bits.)
  //   3. A typo in config.json must not silently give the container fewer, or more, capabilities:
  //      refuse it with the words of the doc comment (a ContainerError, as other chapters throw).
  throw new NotImplementedError('13-security', 'capabilityMask')
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
 * refuses is reported on stderr and skipped, as runc does.
 */
export async function setCredentials(helper: Helper, proc: Spec['process']): Promise<void> {
  // TODO(13): the five capability sets, and the user, in the one order that works.
  //   1. Without process.capabilities this is chapter 09's user switch (switchUser in
  //      minidocker/container.ts), nothing more.
  //   2. The bounding set: every capability NOT listed must go, one prctl at a time, and only a
  //      process with CAP_SETPCAP may drop one. When does the process still have it? A
  //      capability this kernel does not have (above /proc/sys/kernel/cap_last_cap) cannot be dropped.
  //   3. setuid(2) from 0 to non-zero empties the permitted and effective sets (capabilities(7),
  //      "Effect of user ID changes on capabilities"). Which prctl keeps the permitted set, and
  //      why must effective be set again afterwards anyway?
  //   4. capset(2) takes three sets at once; what does it refuse (a capability not permitted)?
  //   5. The ambient set (a non-root program keeps it across exec): prctl(2), PR_CAP_AMBIENT. What
  //      must already be true of each capability before it can be raised? runc warns and goes on
  //      when the kernel refuses one (`runc spec` asks for ambient capabilities it leaves out of inheritable).
  //   Where to look: the helper's capability methods (native/helper.ts), runc's
  //   libcontainer/capabilities and finalizeNamespace, the chapter's "Capabilities" section.
  throw new NotImplementedError('13-security', 'setCredentials')
}
// #endregion setCredentials
