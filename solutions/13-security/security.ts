/**
 * Chapter 13: the last steps before exec, as runc's standard_init_linux.go takes them: the user
 * with its capabilities, no_new_privs and the seccomp filter, in the one order that works.
 *
 * Check your work with `npx workbook check 13`.
 */
import type { Spec } from '../../lib/oci.ts'
import { encodeProgram } from '../../lib/seccomp.ts'
import type { Helper } from '../../native/helper.ts'
import { setCredentials } from './capabilities.ts'
import { compileSeccomp } from './seccomp.ts'

// #region secureProcess
/**
 * Apply process.noNewPrivileges, linux.seccomp and the user with process.capabilities to the
 * helper's process, the container's, once everything that needs privilege is done. Loading a
 * filter takes no_new_privs or CAP_SYS_ADMIN: with no_new_privs the filter is left for the
 * caller to load last before exec (returned as `lastFilter`), so that it judges the program's
 * calls and none of the runtime's; without, it is loaded here, before the capabilities go.
 */
export async function secureProcess(helper: Helper, spec: Spec): Promise<{ lastFilter?: Buffer }> {
  const filter = spec.linux?.seccomp && encodeProgram(compileSeccomp(spec.linux.seccomp))
  if (spec.process.noNewPrivileges) await helper.setNoNewPrivs()
  if (filter && !spec.process.noNewPrivileges) await helper.loadSeccomp(filter)
  await setCredentials(helper, spec.process)
  return { lastFilter: spec.process.noNewPrivileges ? filter : undefined }
}
// #endregion secureProcess
