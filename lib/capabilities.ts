/**
 * Capability names as the kernel reads them, for chapter 13: a list of names (config.json's
 * process.capabilities) as the 64-bit mask that capset(2) and /proc/PID/status speak.
 */
import { ContainerError } from './errors.ts'
import { CAPABILITY_NUMBERS } from './security-tables.ts'

// #region capabilityMask
/**
 * The kernel's mask for a list of capability names: bit N set for capability number N
 * (lib/security-tables.ts, generated from linux/capability.h). A name the table does not know
 * is refused: `unknown capability "NAME"`.
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
