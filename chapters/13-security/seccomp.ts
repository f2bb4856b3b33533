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
  //   3. MASKED_EQ: a jump compares the accumulator as it is; what stands between a load and
  //      the comparison? Does runc's filter compare what config-linux.md says each operator
  //      means, for every value a profile may give? Read its instructions for a few rules.
  //   4. The same rule is judged in each ABI's section: what does runc's filter compare there,
  //      and with what? Ask it, at the edges of each value, before you decide.
  //   5. Labels are strings you choose; lib/seccomp.ts's assemble() places them. `id` makes
  //      this condition's own labels unique. An operator you do not know is refused, and so
  //      is every other condition runc refuses to build, and only those: which are they?
  //   Where to look: libseccomp's gen_bpf.c (_gen_bpf_node), the chapter's "Compiling a profile".
  throw new NotImplementedError('13-security', 'argumentCheck')
}
// #endregion argumentCheck

// #region compileSeccomp
/**
 * linux.seccomp as a BPF program for seccomp(SECCOMP_SET_MODE_FILTER) that gives every call,
 * from whatever ABI it comes, the verdict the filter runc loads for the same profile gives it
 * (runc's own additions to libseccomp's program included), with the system call tables this
 * chapter has (lib/seccomp.ts's ARCHITECTURES). A name an ABI's table does not know is skipped,
 * as runc skips it. lib/seccomp.ts's seccompAction gives each action's return value.
 *
 * The kernel runs the program on every system call the container makes, so its cost is part of
 * the contract: under Docker's default profile (lib/docker-security.ts), and under any profile,
 * every call number of each ABI reaches its own rules' conditions, or its verdict when it has
 * none, after at most 20 executed instructions; what its conditions take comes on top. Whatever
 * one call's rules take (a call allowed for seventy argument values has hundreds of
 * instructions of its own), every other call stays within that.
 */
export function compileSeccomp(config: Seccomp): BpfInstruction[] {
  // TODO(13): the profile as a program, built with lib/seccomp.ts's small assembler, that the
  //   kernel's checker accepts at any size of profile (Docker's compiles to hundreds of
  //   instructions), that gives every call runc's verdict, from whatever ABI it comes, and that
  //   keeps within the doc comment's budget. Its layout is yours to draw; what must never happen:
  //   1. A call judged by another ABI's numbers, x32's included (seccomp(2), "Caveats"), or a
  //      call from an ABI you have no section for answered otherwise than runc's filter answers
  //      it: ask that filter itself (native/filters.c says how to read it out of runc's init).
  //   2. A rule no call reaches, or one reached with something other than the call's number
  //      in the accumulator; a jump assemble() cannot encode (linux/filter.h).
  //   3. A verdict other than runc's for a call the profile does not name. runc adds to
  //      libseccomp's program: what, and for which profiles? Read the filter runc loads for a
  //      few profiles (different default actions, errnos, lists of architectures) before you
  //      decide, then runc's libcontainer/seccomp/patchbpf.
  //   4. Under a default of ERRNO, the profile's highest call is named only by a rule with
  //      argument conditions. What do that call with arguments the rule refuses, and the call
  //      one above it, get under runc? And a name one ABI's table does not have: what does it do
  //      to that ABI's highest, and to the others'?
  //   5. The cost. How many comparisons does a call meet before its own rules in your layout,
  //      and what does that grow with? Docker's profile names some 300 calls. Jumps only go
  //      forward and reach no further than they can, and one call's rules may be long.
  //   6. A profile is not always taken as written, and a number is not always a call. Write
  //      profiles whose rules meet (one call named by several rules, under either default) and
  //      calls whose numbers name no call, and read what runc's filter does with each.
  //   Where to look: seccomp(2), "Filter program"; libseccomp's gen_bpf.c; runc's
  //   libcontainer/seccomp/patchbpf; the chapter's "seccomp: compiling a profile" and
  //   "A verdict in a few steps".
  throw new NotImplementedError('13-security', 'compileSeccomp')
}
// #endregion compileSeccomp
