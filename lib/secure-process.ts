/**
 * The last steps before exec, as runc's standard_init_linux.go takes them: no_new_privs, the
 * seccomp filter, and the user with its capabilities (chapter 13's setCredentials and
 * compileSeccomp do the work; this is the order they are called in).
 */
import { setCredentials } from '#ch/13-security/capabilities.ts'
import { compileSeccomp } from '#ch/13-security/seccomp.ts'
import type { Spec } from './oci.ts'
import { encodeProgram } from './seccomp.ts'
import type { Helper } from '../native/helper.ts'

// #region secureProcess
/**
 * Apply process.noNewPrivileges, linux.seccomp and the user with process.capabilities to the
 * helper's process, the container's, once everything that needs privilege is done. A filter is
 * either loaded here or handed back as `lastFilter`, which the caller loads as the last request
 * before exec. A profile that cannot be compiled fails before anything changes.
 */
export async function secureProcess(helper: Helper, spec: Spec): Promise<{ lastFilter?: Buffer }> {
  const filter = spec.linux?.seccomp && encodeProgram(compileSeccomp(spec.linux.seccomp))
  if (spec.process.noNewPrivileges) await helper.setNoNewPrivs()
  if (filter && !spec.process.noNewPrivileges) await helper.loadSeccomp(filter)
  await setCredentials(helper, spec.process)
  return { lastFilter: spec.process.noNewPrivileges ? filter : undefined }
}
// #endregion secureProcess
