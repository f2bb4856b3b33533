/**
 * Chapter 13: seccomp. config.json's linux.seccomp says, for each system call by name, what
 * happens when the container makes it. The kernel does not read names: it runs a classic BPF
 * program on every system call, over the call's number, ABI and arguments. This module compiles
 * the one into the other; the helper only loads the result.
 *
 * Check your work with `npx workbook check 13`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Seccomp, SeccompRule } from '../../lib/oci.ts'
import type { BpfInstruction, Pending } from '../../lib/seccomp.ts'

// #region seccompAction
/**
 * The filter's return value for a spec action, as runc's filter returns it: SCMP_ACT_ALLOW,
 * SCMP_ACT_ERRNO (with `errnoRet`), SCMP_ACT_KILL (the thread, as libseccomp means it),
 * SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE (errnoRet being
 * the message the tracer reads), SCMP_ACT_LOG; an ERRNO or TRACE without `errnoRet` as runc has it.
 * Anything else: `unsupported seccomp action "NAME"`.
 */
export function seccompAction(action: string, errnoRet?: number): number {
  // TODO(13): the 32-bit value a filter returns for each action.
  //   1. seccomp(2), "Filter return values": the action sits in the high 16 bits, its data (an
  //      errno, a trace message) in the low 16. lib/seccomp.ts has the values.
  //   2. What errno does an ERRNO action without errnoRet give under runc (DEFAULT_ERRNO)?
  //   3. An action you do not know must stop the container, not be guessed at.
  throw new NotImplementedError('13-security', 'seccompAction')
}
// #endregion seccompAction

// #region argumentCheck
/**
 * One argument condition as instructions that fall through when it holds and jump to `fail`
 * when it does not, judging the argument as libseccomp's filter judges it.
 */
function argumentCheck(condition: NonNullable<SeccompRule['args']>[number], fail: string, id: string): Pending[] {
  // TODO(13): one condition (SCMP_CMP_EQ, NE, LT, LE, GT, GE, MASKED_EQ) as instructions.
  //   1. How wide is an argument in struct seccomp_data (SECCOMP_DATA.argLow, argHigh), and how
  //      much does one BPF load bring into the accumulator? Which calls would a check of one
  //      load alone let through?
  //   2. For an ordering (GT, GE, LT, LE): when do the high words decide alone, and when must
  //      the low words be compared? Two of them are the negation of the other two.
  //   3. MASKED_EQ is (arg & value) == valueTwo, and a jump compares the accumulator as it
  //      is: what must happen to the accumulator before the comparison? (lib/seccomp.ts)
  //   4. Labels are strings you choose; lib/seccomp.ts's assemble() places them. `id` makes
  //      this condition's own labels unique. An operator you do not know is refused.
  //   Where to look: libseccomp's gen_bpf.c (_gen_bpf_node), the chapter's "Compiling a profile".
  throw new NotImplementedError('13-security', 'argumentCheck')
}
// #endregion argumentCheck

// #region compileSeccomp
/**
 * linux.seccomp as a BPF program for seccomp(SECCOMP_SET_MODE_FILTER) that gives every call,
 * from whatever ABI it comes, the verdict runc's filter (libseccomp's) gives it under the same
 * profile. A name an ABI's table does not know is skipped, as runc does (the call does not
 * exist there). A profile without `architectures` (or with an empty list) names the native
 * ABI alone, SCMP_ARCH_X86_64 here, as libseccomp reads it. A call the profile cannot know
 * about, newer than it, fails with ENOSYS rather than the default, as under runc, so that a
 * program falls back to the older call it replaces (glibc's clone3 to clone).
 */
export function compileSeccomp(config: Seccomp): BpfInstruction[] {
  // TODO(13): the profile as a program, built with lib/seccomp.ts's small assembler.
  //   1. The first thing a filter reads is the ABI (seccomp_data.arch): why would checking
  //      numbers alone let an i386 call through int 0x80 past an x86_64 rule? (seccomp(2),
  //      "Caveats"). ARCHITECTURES maps the spec's names to AUDIT_ARCH values and tables.
  //   2. x32 calls come with the x86_64 arch and a bit set in the number (X32_SYSCALL_BIT): which
  //      ABI's numbers are they, for a filter that has no x32 tables?
  //   3. A conditional jump reaches 255 instructions at most; an ABI's section is longer. Which
  //      jump is not limited?
  //   4. For each call number: its rules in the profile's order, each one's conditions
  //      (argumentCheck) and then its action; when no rule matched, the default. Where must
  //      the default come, for the rules to be reached at all?
  //   5. The accumulator holds what was last loaded: after argument checks it is no longer
  //      the call's number.
  //   6. A program built after the profile calls what the profile has never heard of: under an
  //      EPERM default it takes the refusal as final, where ENOSYS ("this kernel has no such
  //      call") makes it fall back. From the profile alone, what tells a call newer than the
  //      profile from an old one it simply does not name, in each ABI? Which calls must keep
  //      their verdict whatever you add (a named one, an x32 one, an unlisted ABI's)? Is there
  //      a default under which runc adds nothing (its generatePatch), and why?
  //   Where to look: seccomp(2), "Filter program", runc's libcontainer/seccomp (and its patchbpf),
  //   the chapter's "Compiling a profile".
  throw new NotImplementedError('13-security', 'compileSeccomp')
}
// #endregion compileSeccomp
