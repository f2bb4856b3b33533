/**
 * Chapter 13: the last steps before exec, in the order runc's standard_init_linux.go takes them:
 * no_new_privs, the seccomp filter, and the user with its capabilities.
 *
 * Check your work with `npx workbook check 13`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

// #region secureProcess
/**
 * Apply process.noNewPrivileges, linux.seccomp and the user with process.capabilities to the
 * helper's process, the container's, once everything that needs privilege is done. Loading a
 * filter takes no_new_privs or CAP_SYS_ADMIN: with no_new_privs the filter is left for the
 * caller to load last before exec (returned as `lastFilter`), so that it judges the program's
 * calls and none of the runtime's; without, it is loaded here, before the capabilities go.
 */
export async function secureProcess(helper: Helper, spec: Spec): Promise<{ lastFilter?: Buffer }> {
  // TODO(13): put no_new_privs, the filter and the capabilities in order.
  //   1. Compile the filter first (compileSeccomp, then lib/seccomp.ts's encodeProgram): a
  //      profile that cannot be compiled must fail before anything changes.
  //   2. seccomp(2), "EACCES": who may load a filter? Docker's default keeps
  //      no_new_privs off and drops CAP_SYS_ADMIN: when must the filter go in then?
  //   3. With no_new_privs on, the filter can wait: every request the helper serves after the
  //      load is a system call the profile judges. Why is later better?
  //   4. setCredentials does the user and the capabilities.
  //   Where to look: runc's standard_init_linux.go (Init), the chapter's "The order inside the runtime".
  throw new NotImplementedError('13-security', 'secureProcess')
}
// #endregion secureProcess
