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
 * (lib/security-tables.ts), for every capability the table has. A name the table does not
 * know is refused: `unknown capability "NAME"`.
 */
export function capabilityMask(names: string[] = []): bigint {
  // TODO(13): from names to the bits the kernel reads.
  //   1. The numbers are given: lib/security-tables.ts, generated from linux/capability.h.
  //   2. Which is the highest capability number, and which JavaScript types and operators keep
  //      that bit?
  //   3. A typo in config.json must not silently give the container fewer, or more, capabilities:
  //      refuse it with the words of the doc comment (a ContainerError, as other chapters throw).
  throw new NotImplementedError('13-security', 'capabilityMask')
}
// #endregion capabilityMask

// #region setCredentials
/**
 * Become process.user holding exactly the capability sets process.capabilities names, as runc's
 * finalizeNamespace does: after exec, /proc/self/status must show the same five sets as under
 * runc. An ambient capability the kernel refuses must not stop the container (runc 1.1.5 goes on
 * without a word); report it on stderr in a line of your own: no test reads its wording.
 */
export async function setCredentials(helper: Helper, proc: Spec['process']): Promise<void> {
  // TODO(13): the five capability sets, and the user, in the one order that works.
  //   1. Without process.capabilities this is chapter 09's user switch (switchUser in
  //      minidocker/container.ts), nothing more.
  //   2. Each set is changed by its own call (native/helper.ts). For each call, what must the
  //      process hold for the kernel to accept it? capabilities(7), prctl(2), capset(2).
  //   3. What does changing the uid from 0 to another do to the sets? capabilities(7), "Effect of
  //      user ID changes on capabilities": how is that undone, or avoided?
  //   4. From 2 and 3, which orders work? Check yours against runc's finalizeNamespace and
  //      libcontainer/capabilities (ApplyBoundingSet, ApplyCaps).
  //   5. Can every capability the table names be dropped on this kernel
  //      (/proc/sys/kernel/cap_last_cap)? And what becomes of an ambient capability that is not
  //      also inheritable, as `runc spec` asks for?
  throw new NotImplementedError('13-security', 'setCredentials')
}
// #endregion setCredentials
