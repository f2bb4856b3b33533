/**
 * Chapter 13: the last steps before exec, as runc's standard_init_linux.go takes them: the user
 * with its capabilities, no_new_privs and the seccomp filter, in the one order that works.
 *
 * Check your work with `npx workbook check 13`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

// #region secureProcess
/**
 * Apply process.noNewPrivileges, linux.seccomp and the user with process.capabilities to the
 * helper's process, the container's, once everything that needs privilege is done. A filter
 * may be loaded here or handed back as `lastFilter`, which the caller loads as the last request
 * before exec. The profile must judge every call of the container's program, and it must not
 * stop the runtime from finishing what runc would finish under the same profile; a profile that
 * cannot be compiled fails before anything changes.
 */
export async function secureProcess(helper: Helper, spec: Spec): Promise<{ lastFilter?: Buffer }> {
  // TODO(13): put no_new_privs, the filter and the capabilities in order.
  //   1. The helper loads bytes; how does linux.seccomp become them? (This chapter's seccomp.ts
  //      and lib/seccomp.ts.)
  //   2. seccomp(2), "EACCES": what must the process hold, or have set, at the moment it loads
  //      a filter? Docker's default keeps no_new_privs off and drops CAP_SYS_ADMIN: where does
  //      that leave the load?
  //   3. Every request the helper serves after the load is a system call the profile judges.
  //      When the rule of 2 leaves you the choice, where does the load belong, and why?
  //   4. Is your rule one that holds for every profile and every set of capabilities, or only
  //      for the ones the tests try? Which facts does it depend on, and does runc look at them?
  //   Where to look: runc's standard_init_linux.go (Init), the chapter's "The order inside the runtime".
  throw new NotImplementedError('13-security', 'secureProcess')
}
// #endregion secureProcess
