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
import { encodeProgram } from '../../lib/seccomp.ts'
import { compileSeccomp } from './seccomp.ts'

// #region setCredentials
/**
 * Become process.user holding exactly the capability sets process.capabilities names, as runc's
 * finalizeNamespace does: after exec, /proc/self/status and the process's groups must be what
 * they are under runc for the same config.json, whoever started the runtime, and a spec runc
 * runs must run.
 */
export async function setCredentials(helper: Helper, proc: Spec['process']): Promise<void> {
  // TODO(13): the five capability sets, and the user, in an order the kernel accepts.
  //   1. Without process.capabilities this is chapter 09's user switch (minidocker/container.ts).
  //   2. Each set is changed by its own call (native/helper.ts; lib/capabilities.ts turns names
  //      into a mask). For each call, what must the process hold for the kernel to accept it?
  //      capabilities(7), prctl(2), capset(2).
  //   3. What does a change of uid from 0 do to the sets? capabilities(7), "Effect of user ID
  //      changes on capabilities". Try it: print /proc/self/status before and after.
  //   4. From 2 and 3, which orders work? Check yours against runc's finalizeNamespace and
  //      libcontainer/capabilities.
  //   5. A config.json is written on one machine and run on another. Which of its names can
  //      this kernel not act on (/proc/sys/kernel/cap_last_cap), and what does runc 1.1 do
  //      with them? And with an ambient capability that is not also inheritable, as `runc spec`
  //      asks for? Run such specs under runc before you decide.
  //   6. The runtime is started by someone: a daemon, a service manager, a shell. What of its
  //      caller's credentials, and of what else a process inherits, does the container's process
  //      still hold that none of your steps sets? Start both runtimes under setpriv(1), and from
  //      shells set up otherwise, and compare /proc/self/status line by line.
  throw new NotImplementedError('13-security', 'setCredentials')
}
// #endregion setCredentials

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
  // TODO(13): no_new_privs, the filter and the credentials, in an order that works for every spec.
  //   1. What must a process hold, or have set, for the kernel to let it load a filter
  //      (seccomp(2), EACCES)? Will it still hold that once setCredentials has run, under
  //      Docker's defaults, and under --cap-drop ALL?
  //   2. Once loaded, whose system calls does the filter judge? Which of the runtime's own calls
  //      come after your load, and what if the profile denies them?
  //   3. From 1 and 2: is there one place for the load that works for every spec? runc's
  //      standard_init_linux.go (Init) has more than one: which does it take when?
  //   4. Some filters the kernel refuses to load whatever they say (seccomp(2), EINVAL). When
  //      does runc's create find that out, with no_new_privs and without, and when would yours?
  //   lib/seccomp.ts's encodeProgram turns compileSeccomp's program into the helper's bytes.
  throw new NotImplementedError('13-security', 'secureProcess')
}
// #endregion secureProcess
