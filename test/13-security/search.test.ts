/**
 * The seccomp compiler's cost: the kernel runs the filter on every system call of the container,
 * so the number of instructions a call executes before its verdict is paid on each one. Every
 * call number of Docker's profile, in each ABI, is run through test/support/bpf.ts and must get
 * the profile's verdict (worked out here from the profile alone, as the other tests of this
 * chapter define it) within compileSeccomp's budget; a call whose rules alone pass a conditional
 * jump's reach must still be reachable, and so must every call after it.
 */
import { describe, expect, it } from 'vitest'
import { constants } from 'node:os'
import { compileSeccomp } from '#ch/13-security/seccomp.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Seccomp, SeccompRule } from '../../lib/oci.ts'
import { ARCHITECTURES, DEFAULT_ERRNO, SECCOMP_RET, X32_SYSCALL_BIT, type BpfInstruction } from '../../lib/seccomp.ts'
import { dockerDefaultProfile } from '../../lib/docker-security.ts'
import { DEFAULT_CAPABILITIES } from '../../lib/engine.ts'
import { traceFilter, type SyscallData } from '../support/bpf.ts'

/** compileSeccomp's contract: the most instructions any call of Docker's profile may execute. */
const BUDGET = 35
const SECTION = 'the chapter\'s "A verdict in a few steps"'
const ABIS = [['x86_64', 'SCMP_ARCH_X86_64'], ['i386', 'SCMP_ARCH_X86']] as const

/** The verdicts these profiles use, as runc's filter returns them. */
function action(name: string, errnoRet?: number): number {
  if (name === 'SCMP_ACT_ALLOW') return SECCOMP_RET.ALLOW
  if (name === 'SCMP_ACT_ERRNO') return SECCOMP_RET.ERRNO | (errnoRet ?? DEFAULT_ERRNO)
  throw new Error(`this test does not model ${name}`)
}

/** Whether one condition holds for the call's 64-bit arguments. */
function holds({ index, op, value, valueTwo }: NonNullable<SeccompRule['args']>[number], args: bigint[]): boolean {
  const arg = args[index] ?? 0n
  const v = BigInt(value)
  switch (op) {
    case 'SCMP_CMP_EQ': return arg === v
    case 'SCMP_CMP_NE': return arg !== v
    case 'SCMP_CMP_LT': return arg < v
    case 'SCMP_CMP_LE': return arg <= v
    case 'SCMP_CMP_GT': return arg > v
    case 'SCMP_CMP_GE': return arg >= v
    case 'SCMP_CMP_MASKED_EQ': return (arg & v) === BigInt(valueTwo ?? 0)
  }
  throw new Error(`this test does not model ${op}`)
}

/** The profile's verdict for a call, from the profile alone: the semantics the other tests check. */
function expected(profile: Seccomp, { nr, arch, args = [] }: SyscallData): number {
  const listed = profile.architectures?.length ? profile.architectures : ['SCMP_ARCH_X86_64']
  const abi = listed.map((name) => ARCHITECTURES[name]).find((a) => a?.audit === arch)
  if (!abi || (abi === ARCHITECTURES.SCMP_ARCH_X86_64 && nr >= X32_SYSCALL_BIT)) return SECCOMP_RET.KILL_PROCESS
  const named = (profile.syscalls ?? []).flatMap((rule) => rule.names.map((name) => ({ rule, nr: abi.syscalls[name] }))).filter((r) => r.nr !== undefined)
  const newest = Math.max(0, ...named.map((r) => r.nr!))
  if (!['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(profile.defaultAction) && newest > 0 && nr > newest) return SECCOMP_RET.ERRNO | constants.errno.ENOSYS
  const rule = named.find((r) => r.nr === nr && (r.rule.args ?? []).every((c) => holds(c, args)))?.rule
  return rule ? action(rule.action, rule.errnoRet) : action(profile.defaultAction, profile.defaultErrnoRet)
}

/** The argument vectors worth trying for a call: none, and each condition's value met, missed and shifted past 2^32. */
function argumentSets(rules: SeccompRule[]): bigint[][] {
  const sets: bigint[][] = [[]]
  for (const { index, value, valueTwo } of rules.flatMap((rule) => rule.args ?? [])) {
    for (const v of [BigInt(value), BigInt(value) + 1n, BigInt(value) | (1n << 32n), BigInt(valueTwo ?? 0)]) {
      const args = [0n, 0n, 0n, 0n, 0n, 0n]
      args[index] = v
      sets.push(args)
    }
  }
  return sets
}

/** compileSeccomp's program, its refusals turned into an assertion that says what to look at. */
function compiled(profile: Seccomp, what: string): BpfInstruction[] {
  try {
    return compileSeccomp(profile)
  } catch (error) {
    if (error instanceof NotImplementedError) throw error
    return expect.fail(`compiling ${what} failed: ${(error as Error).message} — which of your jumps pass over what, and how far can a conditional one reach? (linux/filter.h; ${SECTION})`)
  }
}

const hex = (args: bigint[]) => args.length ? ` with arguments (${args.map((a) => `0x${a.toString(16)}`).join(', ')})` : ''
const shown = (v: number) => `0x${v.toString(16)}`

/** Every call number 0..highest+8 of each ABI, with the arguments its rules look at: the profile's verdict, and the cost when `budget` is set. */
function sweep(profile: Seccomp, program: BpfInstruction[], budget?: number) {
  for (const [abi, arch] of ABIS) {
    const { audit, syscalls } = ARCHITECTURES[arch]!
    const names = Object.fromEntries(Object.entries(syscalls).map(([name, nr]) => [nr, name]))
    const rulesOf = (nr: number) => (profile.syscalls ?? []).filter((rule) => rule.names.some((name) => syscalls[name] === nr))
    for (let nr = 0; nr <= Math.max(...Object.values(syscalls)) + 8; nr++) {
      for (const args of argumentSets(rulesOf(nr))) {
        const call = { nr, arch: audit, args }
        const { verdict, executed } = traceFilter(program, call)
        const what = `${abi}'s ${names[nr] ?? 'call'} (${nr})${hex(args)}`
        if (verdict !== expected(profile, call)) expect.fail(`${what} got ${shown(verdict)}, the profile says ${shown(expected(profile, call))} (after ${executed} instructions): what is in the accumulator where your program decides it, and which comparisons led there? (${SECTION})`)
        if (budget !== undefined && executed > budget) expect.fail(`${what} executed ${executed} instructions before its verdict, more than ${budget}: how many comparisons does a call meet before its own rules, and how does that number grow with the profile's length? (${SECTION})`)
      }
    }
  }
}

describe('seccomp: a verdict in a few steps', () => {
  it('every call of Docker\'s profile, in each ABI, gets its verdict within the budget', () => {
    const docker = dockerDefaultProfile(DEFAULT_CAPABILITIES)
    const program = compiled(docker, 'Docker\'s default profile')
    sweep(docker, program, BUDGET)
    const x86_64 = ARCHITECTURES.SCMP_ARCH_X86_64!.audit
    for (const [what, call] of [['an x32 call', { nr: X32_SYSCALL_BIT | 1, arch: x86_64 }], ['a call from aarch64, an ABI the profile does not list', { nr: 1, arch: 0xc00000b7 }]] as const) {
      const { verdict, executed } = traceFilter(program, call)
      expect(verdict, `${what}: which ABIs can your filter tell apart, and what happens to a call from any other?`).toBe(SECCOMP_RET.KILL_PROCESS)
      expect(executed, `${what} executed ${executed} instructions before it was killed: what must a filter know before a number means anything, and how soon can it know it? (${SECTION})`).toBeLessThanOrEqual(BUDGET)
    }
  })

  it('a call whose rules alone are longer than a conditional jump reaches, among others', () => {
    // personality allowed for 70 values: five instructions a rule, 350 for the call alone.
    const values = Array.from({ length: 70 }, (_, i) => 8 * i)
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount'], action: 'SCMP_ACT_ALLOW' },
        ...values.map((value) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value }] })),
        { names: ['umount2', 'uname'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EACCES },
      ],
    }
    sweep(profile, compiled(profile, 'a profile whose personality rules take 350 instructions'))
  })
})
