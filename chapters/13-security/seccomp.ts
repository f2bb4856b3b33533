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
 * when it does not, judging the argument as libseccomp's filter judges it in an ABI whose
 * arguments are `bits` wide.
 */
function argumentCheck(condition: NonNullable<SeccompRule['args']>[number], bits: 32 | 64, fail: string, id: string): Pending[] {
  // TODO(13): one condition (SCMP_CMP_EQ, NE, LT, LE, GT, GE, MASKED_EQ) as instructions.
  //   1. How wide is an argument in struct seccomp_data (SECCOMP_DATA.argLow, argHigh), and how
  //      much does one BPF load bring into the accumulator? Which calls would a check of one
  //      load alone let through?
  //   2. For an ordering (GT, GE, LT, LE): when do the high words decide alone, and when must
  //      the low words be compared?
  //   3. MASKED_EQ is (arg & value) == valueTwo, and a jump compares the accumulator as it
  //      is: what stands between a load and that comparison?
  //   4. A profile's value may be 2^32 or more, and the rule may be judged in i386's section:
  //      what does runc's filter compare there, and with what? Ask it before you decide.
  //   5. Labels are strings you choose; lib/seccomp.ts's assemble() places them. `id` makes
  //      this condition's own labels unique. An operator you do not know is refused.
  //   Where to look: libseccomp's gen_bpf.c (_gen_bpf_node), the chapter's "Compiling a profile".
  throw new NotImplementedError('13-security', 'argumentCheck')
}
// #endregion argumentCheck

// #region compileSeccomp
/**
 * linux.seccomp as a BPF program for seccomp(SECCOMP_SET_MODE_FILTER) that gives every call,
 * from whatever ABI it comes, the verdict runc's filter (libseccomp's) gives it under the same
 * profile; x32 alone is judged otherwise: with no x32 table here (lib/seccomp.ts's
 * ARCHITECTURES), an x32 call gets what runc's filter gives one under a profile that does not
 * list SCMP_ARCH_X32, whatever this profile lists. A name an ABI's table does not know is
 * skipped, as runc does (the call does not exist there). A profile without `architectures` (or with an empty list) names the native
 * ABI alone, SCMP_ARCH_X86_64 here, as libseccomp reads it. A call the profile cannot know
 * about, newer than it, fails with ENOSYS rather than the default, as under runc, so that a
 * program falls back to the older call it replaces (glibc's clone3 to clone).
 *
 * The kernel runs the program on every system call the container makes, so its cost is part of
 * the contract: under Docker's default profile (lib/docker-security.ts), every call number of
 * each listed ABI, whatever its arguments, gets its verdict after at most 35 executed
 * instructions, the return included, and so does a call from x32 or from an ABI the profile does
 * not list. Whatever one call's rules take (a call allowed for seventy argument values has
 * hundreds of instructions of its own), every other call stays reachable.
 */
export function compileSeccomp(config: Seccomp): BpfInstruction[] {
  // TODO(13): the profile as a program, built with lib/seccomp.ts's small assembler, that the
  //   kernel's checker accepts at any size of profile (Docker's compiles to over a thousand
  //   instructions), that gives every call runc's verdict, from whatever ABI it comes, and that
  //   keeps within the doc comment's budget. Its layout is yours to draw; what must never happen:
  //   1. A call judged by another ABI's numbers, x32's included (seccomp(2), "Caveats"), or a
  //      call from an ABI you have no section for answered otherwise than runc's filter answers
  //      it: ask that filter itself (native/filters.c says how to read it out of runc's init).
  //   2. A rule no call reaches, or one reached with something other than the call's number
  //      in the accumulator; a jump assemble() cannot encode (linux/filter.h).
  //   3. A call the profile names, or forbids by not naming it, answered ENOSYS; a call newer
  //      than the profile answered with the default.
  //   4. Decide before you write: under a default of ERRNO, the profile's highest call is named
  //      only by a rule with argument conditions. What do that call with arguments the rule
  //      refuses, and the call one above it, get under runc? And a name one ABI's table does
  //      not have: what does it do to that ABI's highest, and to the others'? Try the calls
  //      under runc (the probe's syscall:NR:ARG0 step) before you decide.
  //   5. The cost. In your layout, what does a call meet before its own rules, and what does
  //      that grow with? The doc comment's budget holds for every number of every listed ABI,
  //      with jumps that only go forward and reach no further than they can, and one call's
  //      rules may be long. Where does each path end, for a number the profile names and one
  //      it does not, and for a named call whose rules all fail?
  //   6. A profile is not always taken as written, and a number is not always a call. What
  //      does runc's filter make of a rule whose action is the default's, of a call with rules
  //      with and without conditions in either order, of x86_64 numbers with the top bit set
  //      (0x80000000, and -1, which a tracer leaves), under a denying and an allowing default?
  //   Where to look: seccomp(2), "Filter program"; libseccomp's gen_bpf.c (_gen_bpf_syscalls,
  //   and what SCMP_FLTATR_CTL_OPTIMIZE changes in it); runc's libcontainer/seccomp/patchbpf
  //   (generatePatch, findLastSyscalls); the chapter's "seccomp: compiling a profile" and
  //   "A verdict in a few steps".
  throw new NotImplementedError('13-security', 'compileSeccomp')
}
// #endregion compileSeccomp
