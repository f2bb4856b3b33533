/**
 * The seccomp compiler's cost: the kernel runs the filter on every system call of the container,
 * so the number of instructions a call executes before its verdict is paid on each one. Every
 * call number of Docker's profile, in each ABI, is run through test/support/bpf.ts and must get
 * the verdict of the filter runc itself loads for the profile (read back from the kernel, run by
 * the same interpreter) within compileSeccomp's budget, and so must calls from x32 and from ABIs
 * the profile does not list; a call whose rules alone pass a conditional jump's reach must still
 * be reachable, and so must every call after it.
 */
import { describe, expect, it } from 'vitest'
import { constants } from 'node:os'
import { compileSeccomp } from '#ch/13-security/seccomp.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Seccomp, SeccompRule } from '../../lib/oci.ts'
import { ARCHITECTURES, SECCOMP_RET, X32_SYSCALL_BIT, type BpfInstruction } from '../../lib/seccomp.ts'
import { dockerDefaultProfile } from '../../lib/docker-security.ts'
import { DEFAULT_CAPABILITIES } from '../../lib/engine.ts'
import { traceFilter, type SyscallData } from '../support/bpf.ts'
import { runcFilters } from '../support/security.ts'

/**
 * compileSeccomp's contract: the most instructions a call may execute before it reaches its own
 * rules' conditions, or its verdict when it has none (see `allowance`). The reference reaches
 * every call of Docker's profile in at most 13 (the chapter's "A verdict in a few steps").
 */
const BUDGET = 20
/** The most a condition of a call's own rules may add: a 64-bit comparison of both words, with a mask. */
const PER_CONDITION = 6
const SECTION = 'the chapter\'s "A verdict in a few steps"'
/** What runc's init (Go) calls between loading the filter and its exec. */
const RUNC_INIT = ['close', 'futex', 'fcntl', 'epoll_pwait', 'epoll_ctl', 'rt_sigprocmask', 'rt_sigreturn', 'sigaltstack', 'mmap', 'munmap', 'madvise', 'nanosleep', 'sched_yield', 'gettid', 'tgkill', 'exit', 'exit_group', 'newfstatat', 'fstat', 'execve']
const ABIS = [['x86_64', 'SCMP_ARCH_X86_64', 64n], ['i386', 'SCMP_ARCH_X86', 32n]] as const

/** A verdict's action, signed as the kernel compares them: the lower, the higher its precedence. */
const precedence = (verdict: number) => (verdict & 0xffff0000) | 0

/**
 * What runc's filters decide together: the kernel runs every filter and keeps the verdict of the
 * highest precedence, of the newest filter among equals (seccomp(2), "the return value with the
 * highest precedence").
 */
function runcVerdict(filters: BpfInstruction[][], call: SyscallData): number {
  return filters.map((filter) => traceFilter(filter, call).verdict).reduce((kept, v) => (precedence(v) < precedence(kept) ? v : kept))
}

/**
 * The argument vectors worth trying for a call: none, and each condition's value met, missed and
 * shifted past 2^32; an i386 call's arguments reach the filter as 32-bit values, zero-extended.
 */
function argumentSets(rules: SeccompRule[], width: bigint): bigint[][] {
  const sets: bigint[][] = [[]]
  for (const { index, value, valueTwo } of rules.flatMap((rule) => rule.args ?? [])) {
    for (const v of [BigInt(value), BigInt(value) + 1n, BigInt(value) | (1n << 32n), BigInt(valueTwo ?? 0)]) {
      const args = [0n, 0n, 0n, 0n, 0n, 0n]
      args[index] = BigInt.asUintN(Number(width), v)
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

/**
 * `profile` as far as this chapter's tables know it: lib/security-tables.ts comes from this
 * machine's kernel headers, and runc's libseccomp may know newer names, whose numbers no
 * compiler built on those tables can use.
 */
function knownHere(profile: Seccomp): Seccomp {
  const known = (name: string) => ABIS.some(([, arch]) => ARCHITECTURES[arch]!.syscalls[name] !== undefined)
  return { ...profile, syscalls: (profile.syscalls ?? []).map((rule) => ({ ...rule, names: rule.names.filter(known) })).filter((rule) => rule.names.length) }
}

/** Numbers no table has, with the top bit set: what a filter meets when a program passes one. */
const TOP = [0x80000000, 0x80000001, 0x80000101, 0xbfffffff, 0xc0000001, 0xffffffff]

/**
 * Every call number 0..highest+8 of each ABI, with the arguments its rules look at, and the
 * numbers of TOP: runc's verdict, and the cost when `budget` is set. An x86_64 number with the
 * x32 bit is judged by runc's filter for the profile without SCMP_ARCH_X32. Returns runc's
 * filters, and those without x32.
 */
async function sweep(profile: Seccomp, program: BpfInstruction[], budget?: number, question: (ours: number, runc: number) => string = () => ''): Promise<{ filters: BpfInstruction[][]; withoutX32: BpfInstruction[][] }> {
  const filters = await runcFilters(knownHere(profile))
  const withoutX32 = profile.architectures?.includes('SCMP_ARCH_X32') ? await runcFilters(knownHere({ ...profile, architectures: profile.architectures.filter((arch) => arch !== 'SCMP_ARCH_X32') })) : filters
  for (const [abi, arch, width] of ABIS) {
    const { audit, syscalls } = ARCHITECTURES[arch]!
    const names = Object.fromEntries(Object.entries(syscalls).map(([name, nr]) => [nr, name]))
    const rulesOf = (nr: number) => (profile.syscalls ?? []).filter((rule) => rule.names.some((name) => syscalls[name] === nr))
    const numbers = [...Array(Math.max(...Object.values(syscalls)) + 9).keys(), ...TOP]
    for (const nr of numbers) {
      for (const args of argumentSets(rulesOf(nr), width)) {
        const call = { nr, arch: audit, args }
        const { verdict, executed } = traceFilter(program, call)
        const what = `${abi}'s ${names[nr] ?? 'call'} (${nr < 0x10000 ? nr : shown(nr)})${hex(args)}`
        const rules = rulesOf(nr)
        const allowance = budget === undefined ? undefined : budget + rules.reduce((sum, rule) => sum + 1 + PER_CONDITION * (rule.args?.length ?? 0), 0)
        const x32 = width === 64n && (nr & X32_SYSCALL_BIT) !== 0
        const runc = runcVerdict(x32 ? withoutX32 : filters, call)
        const ask = (x32 ? ' Which ABI does this number come from, and what does runc\'s filter answer a call from an ABI it was not given?' : '')
          + (nr > 0xffff ? ' Which of your checks meets this number first, and which check of runc\'s filter does?' : '')
          + (rules.length > 1 ? ' Which of this call\'s rules does runc\'s filter act on, and which decides first?' : '')
          + (width === 32n && args.some((a) => a !== 0n) ? ' What does runc\'s filter compare an i386 argument with?' : '')
        if (verdict !== runc) expect.fail(`${what} got ${shown(verdict)}, runc's filter answers ${shown(runc)} (after ${executed} instructions): what is in the accumulator where your program decides it, and which comparisons led there?${ask}${question(verdict, runc)} (${SECTION})`)
        if (allowance !== undefined && executed > allowance) expect.fail(`${what} executed ${executed} instructions before its verdict, more than ${allowance} (${budget} to reach its own rules${rules.length ? `, ${allowance - budget!} for what its ${rules.length} rule(s) may take` : ''}): how many comparisons does a call meet before its own rules, and how does that number grow with the profile's length? (${SECTION})`)
      }
    }
  }
  return { filters, withoutX32 }
}

/** One condition as the tests write it: [index, op, value, valueTwo]. */
type Condition = [number, string, number, number?]

/** A rule of one call under conditions. */
function conditional(name: string, action: string, errnoRet: number | undefined, args: Condition[]): SeccompRule {
  return { names: [name], action, ...(errnoRet === undefined ? {} : { errnoRet }), args: args.map(([index, op, value, valueTwo]) => ({ index, op, value, ...(valueTwo === undefined ? {} : { valueTwo }) })) }
}

/**
 * Calls (a name, its rules, the argument vectors to try) compiled in one profile beside what
 * runc's init needs, each vector in both ABIs judged against the filter runc loads for it;
 * `question` words a difference from the call, its rules, our verdict and runc's.
 */
async function besideRunc(what: string, calls: [string, SeccompRule[], bigint[][]][], question: (call: string, rules: string, ours: string, runc: string) => string): Promise<void> {
  const profile: Seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [{ names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' }, ...calls.flatMap(([, rules]) => rules)],
  }
  const program = compiled(profile, what)
  const filters = await runcFilters(profile)
  for (const [abi, arch, width] of ABIS) {
    const { audit, syscalls } = ARCHITECTURES[arch]!
    for (const [name, rules, vectors] of calls) {
      const listed = rules.map((r) => `${r.args!.map((c) => `arg${c.index} ${c.op.slice(9)} ${shown(c.value)}${c.valueTwo === undefined ? '' : ` ${shown(c.valueTwo)}`}`).join(' && ')} → ${r.action === 'SCMP_ACT_ERRNO' ? `errno ${r.errnoRet}` : r.action.slice(9)}`).join('; ')
      for (const vector of vectors) {
        const args = [...vector, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6).map((a) => BigInt.asUintN(Number(width), a))
        const call = { nr: syscalls[name]!, arch: audit, args }
        const ours = traceFilter(program, call).verdict
        const runc = runcVerdict(filters, call)
        if (ours !== runc) expect.fail(question(`${abi}'s ${name}${hex(args)}`, listed, shown(ours), shown(runc)))
      }
    }
  }
}

describe('seccomp: a verdict in a few steps', () => {
  it('every call of Docker\'s profile, in each ABI, gets its verdict within the budget', async () => {
    const docker = dockerDefaultProfile(DEFAULT_CAPABILITIES)
    const program = compiled(docker, 'Docker\'s default profile')
    // x32 has no table here: its calls get what runc gives them under the profile without x32.
    const { filters, withoutX32 } = await sweep(docker, program, BUDGET)
    const x86_64 = ARCHITECTURES.SCMP_ARCH_X86_64!.audit
    const calls = [
      ['an x32 write', { nr: X32_SYSCALL_BIT | 1, arch: x86_64 }, withoutX32, 'runc\'s filter for the profile without SCMP_ARCH_X32'],
      ['an x32 call past every number', { nr: X32_SYSCALL_BIT | 0xfff, arch: x86_64 }, withoutX32, 'runc\'s filter for the profile without SCMP_ARCH_X32'],
      ['a write from aarch64, an ABI the profile does not list', { nr: 64, arch: 0xc00000b7 }, filters, 'runc\'s filter'],
      ['a write from 32-bit arm, another ABI the profile does not list', { nr: 4, arch: 0x40000028 }, filters, 'runc\'s filter'],
    ] as const
    for (const [what, call, theirs, whose] of calls) {
      const { verdict, executed } = traceFilter(program, call)
      const runc = runcVerdict(theirs as BpfInstruction[][], call)
      expect(shown(verdict), `${what} got ${shown(verdict)} where ${whose} answers ${shown(runc)}: which ABIs can your filter tell apart, and what does libseccomp's filter answer a call from any other? (seccomp(2), "Filter return values"; the chapter's "seccomp: compiling a profile")`).toBe(shown(runc))
      expect(executed, `${what} executed ${executed} instructions before its verdict: what must a filter know before a number means anything, and how soon can it know it? (${SECTION})`).toBeLessThanOrEqual(BUDGET)
    }
  })

  it('a call whose rules alone are longer than a conditional jump reaches, among others', async () => {
    // personality allowed for 70 values: five instructions a rule, 350 for the call alone. The
    // first rule also lets runc's own init run on, under the filter, until it would exec.
    const values = Array.from({ length: 70 }, (_, i) => 8 * i)
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' },
        ...values.map((value) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value }] })),
        { names: ['umount2', 'uname'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EACCES },
      ],
    }
    await sweep(profile, compiled(profile, 'a profile whose personality rules take 350 instructions'), BUDGET)
  })

  it('a profile whose allowed calls are hundreds of ranges, with a few conditional rules', async () => {
    // Every even x86_64 number's call allowed (and what runc's init needs): in each ABI the
    // allowed and the refused numbers alternate. Then rules under conditions, on odd numbers.
    const x86_64 = ARCHITECTURES.SCMP_ARCH_X86_64!.syscalls
    const even = Object.keys(x86_64).filter((name) => x86_64[name]! % 2 === 0)
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: [...even, 'read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' },
        conditional('personality', 'SCMP_ACT_ALLOW', undefined, [[0, 'SCMP_CMP_EQ', 8]]),
        conditional('umask', 'SCMP_ACT_ERRNO', constants.errno.EACCES, [[0, 'SCMP_CMP_GT', 0o77]]),
        conditional('setpgid', 'SCMP_ACT_ALLOW', undefined, [[0, 'SCMP_CMP_EQ', 0], [1, 'SCMP_CMP_LE', 2 ** 32 + 4]]),
      ],
    }
    await sweep(profile, compiled(profile, 'a profile whose allowed calls alternate with refused ones'), BUDGET)
  })

  it('profiles with a rule of the default\'s action, a call with conditional and unconditional rules, conditions on values of 2^32 and more', async () => {
    const big = 2 ** 32
    const rules: SeccompRule[] = [
      { names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' },
      // A rule with the default's action, then one that allows a value.
      { names: ['personality'], action: 'SCMP_ACT_ERRNO' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }] },
      // The same under conditions, the default's errno written out.
      { names: ['uname'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, op: 'SCMP_CMP_LE', value: 16 }] },
      { names: ['uname'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }] },
      // A conditional refusal, then the call allowed without conditions.
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EACCES, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }] },
      { names: ['umask'], action: 'SCMP_ACT_ALLOW' },
      // Values of 2^32 and more, under every kind of comparison.
      { names: ['setpgid'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: big + 8 }] },
      { names: ['setpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EACCES, args: [{ index: 0, op: 'SCMP_CMP_GT', value: big + 100 }] },
      { names: ['setpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EINVAL, args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: big + 0xf, valueTwo: big + 1 }] },
      { names: ['getpriority'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, op: 'SCMP_CMP_LT', value: big + 3 }] },
      { names: ['setpriority'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, op: 'SCMP_CMP_NE', value: big + 7 }] },
    ]
    const denying: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: rules }
    await sweep(denying, compiled(denying, 'a profile with a rule of the default\'s action and values past 2^32'), BUDGET)
    // Under a default of ALLOW.
    const allowing: Seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['umask'], action: 'SCMP_ACT_ALLOW' },
        { names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EACCES, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }] },
        { names: ['setpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EPERM, args: [{ index: 0, op: 'SCMP_CMP_GE', value: big + 100 }] },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_LE', value: big + 9 }] },
      ],
    }
    await sweep(allowing, compiled(allowing, 'a profile under a default of ALLOW'), BUDGET)
  })
  it('every operator at its boundaries, MASKED_EQ with masks and values of every shape, beside runc\'s filter', async () => {
    const big = 0x1_0000_0008n
    // One call per condition, so that each is judged alone: [call, op, value, valueTwo].
    const conditions: [string, string, bigint, bigint?][] = [
      ['personality', 'SCMP_CMP_GT', big], ['umask', 'SCMP_CMP_GE', big], ['setpgid', 'SCMP_CMP_LT', big], ['getpriority', 'SCMP_CMP_LE', big],
      ['setpriority', 'SCMP_CMP_NE', big], ['setfsuid', 'SCMP_CMP_EQ', big], ['getsid', 'SCMP_CMP_GT', 0xffff_ffffn], ['sched_getscheduler', 'SCMP_CMP_LE', 0x1_0000_0000n],
      ['alarm', 'SCMP_CMP_LT', 0n], ['getpgrp', 'SCMP_CMP_GE', 0n],
      ['setfsgid', 'SCMP_CMP_MASKED_EQ', 0xffff_0000_00ffn, 0x1_0000_0008n], ['getpgid', 'SCMP_CMP_MASKED_EQ', 0xffn, 0x1_0000_0008n],
      ['sched_get_priority_max', 'SCMP_CMP_MASKED_EQ', 0xf_0000_0000n, 0x1_0000_0001n], ['sched_get_priority_min', 'SCMP_CMP_MASKED_EQ', 0n, 5n],
      ['sched_rr_get_interval', 'SCMP_CMP_MASKED_EQ', 0xffn, 0x108n], ['getuid', 'SCMP_CMP_MASKED_EQ', 0xf0n, 0x8n],
    ]
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' },
        ...conditions.map(([name, op, value, valueTwo]): SeccompRule => ({ names: [name], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op, value: Number(value), ...(valueTwo === undefined ? {} : { valueTwo: Number(valueTwo) }) }] })),
      ],
    }
    const program = compiled(profile, 'a profile with every operator')
    const filters = await runcFilters(profile)
    for (const [abi, arch, width] of ABIS) {
      const { audit, syscalls } = ARCHITECTURES[arch]!
      for (const [name, op, value, valueTwo] of conditions) {
        // Each word of each number the rule holds, met, missed by one either way, and at its ends.
        const tried = new Set<bigint>()
        for (const v of [value, valueTwo ?? 0n]) {
          for (const dh of [-1n, 0n, 1n]) {
            for (const low of [(v & 0xffff_ffffn) - 1n, v & 0xffff_ffffn, (v & 0xffff_ffffn) + 1n, 0n, 0xffff_ffffn]) {
              const high = (v >> 32n) + dh
              if (high >= 0n && high <= 0xffff_ffffn && low >= 0n && low <= 0xffff_ffffn) tried.add(BigInt.asUintN(Number(width), (high << 32n) | low))
            }
          }
        }
        for (const arg of tried) {
          const call = { nr: syscalls[name]!, arch: audit, args: [arg, 0n, 0n, 0n, 0n, 0n] }
          const ours = traceFilter(program, call).verdict
          const runc = runcVerdict(filters, call)
          const rule = `${op} ${shown(Number(value))}${valueTwo === undefined ? '' : ` ${shown(Number(valueTwo))}`}`
          if (ours !== runc) expect.fail(`${abi}'s ${name}(0x${arg.toString(16)}) under a rule allowing it for arg0 ${rule} got ${shown(ours)}, runc's filter answers ${shown(runc)}: which words of the argument does runc's filter compare for this rule, and with what exactly? Read its instructions for this call (test/support/bpf.ts runs them) before you read libseccomp's db.c`)
        }
      }
    }
  })

  it('one call\'s conditional rules that hold together, on different arguments and under different comparisons, beside runc\'s filter', async () => {
    const { EACCES, ECHILD, EINVAL, ENOENT, ESRCH } = constants.errno
    const rule = (name: string, errnoRet: number, args: Condition[]) => conditional(name, 'SCMP_ACT_ERRNO', errnoRet, args)
    const NEWUSER = 0x10000000
    // Each call's rules, and the argument vectors to try: every vector meets two rules or more.
    await besideRunc('a profile whose calls have rules that hold together', [
      ['clone', [rule('clone', EACCES, [[0, 'SCMP_CMP_MASKED_EQ', NEWUSER, NEWUSER]]), rule('clone', EINVAL, [[1, 'SCMP_CMP_EQ', 0]])], [[BigInt(NEWUSER), 0n], [BigInt(NEWUSER | 0x11), 0n]]],
      ['personality', [rule('personality', EINVAL, [[0, 'SCMP_CMP_GE', 4]]), rule('personality', EACCES, [[0, 'SCMP_CMP_EQ', 8]]), rule('personality', ENOENT, [[0, 'SCMP_CMP_GE', 0x20]])], [[8n], [0x20n], [0x28n]]],
      ['umask', [rule('umask', EINVAL, [[0, 'SCMP_CMP_LT', 0o100]]), rule('umask', EACCES, [[0, 'SCMP_CMP_NE', 0o22]]), rule('umask', ENOENT, [[0, 'SCMP_CMP_GT', 0o20]])], [[0o77n], [0o21n], [0o200n]]],
      ['setpgid', [rule('setpgid', EACCES, [[0, 'SCMP_CMP_EQ', 8], [1, 'SCMP_CMP_EQ', 3]]), rule('setpgid', EINVAL, [[0, 'SCMP_CMP_GE', 4]]), rule('setpgid', ESRCH, [[1, 'SCMP_CMP_LE', 5]]), rule('setpgid', ECHILD, [[2, 'SCMP_CMP_EQ', 6], [0, 'SCMP_CMP_GE', 2]])], [[8n, 3n], [8n, 4n], [9n, 7n], [8n, 9n, 6n]]],
      ['getpriority', [rule('getpriority', EINVAL, [[1, 'SCMP_CMP_GE', 8]]), rule('getpriority', EACCES, [[1, 'SCMP_CMP_GE', 2 ** 32 + 1]])], [[0n, 2n ** 32n + 9n], [0n, 9n]]],
    ], (call, rules, ours, runc) => `${call} under the rules, in the profile's order, ${rules} got ${ours}, runc's filter answers ${runc}: more than one of these rules holds for it. Which one does runc's filter test first, and is that the one the profile lists first? Read the instructions it runs for this call (test/support/bpf.ts's traceFilter), then how libseccomp's db.c keeps a call's rules (${SECTION})`)
  })

  it('rules whose conditions look at one argument twice, beside runc\'s filter', async () => {
    const { EACCES, EINVAL } = constants.errno
    // Each call's one rule, and the argument vectors to try.
    await besideRunc('a profile whose rules compare one argument twice', [
      ['personality', [conditional('personality', 'SCMP_ACT_ALLOW', undefined, [[0, 'SCMP_CMP_GE', 4], [0, 'SCMP_CMP_LE', 8]])], [[0n], [3n], [4n], [6n], [8n], [9n], [0x100n], [(1n << 32n) | 6n]]],
      ['setpgid', [conditional('setpgid', 'SCMP_ACT_ERRNO', EACCES, [[0, 'SCMP_CMP_GE', 0x100], [0, 'SCMP_CMP_MASKED_EQ', 0xff, 0x10], [1, 'SCMP_CMP_EQ', 3]])], [[0n, 3n], [0x10n, 0n], [0x10n, 3n], [5n, 0n], [0x200n, 0n], [0x210n, 3n]]],
      ['getpriority', [conditional('getpriority', 'SCMP_ACT_ERRNO', EINVAL, [[0, 'SCMP_CMP_EQ', 1], [1, 'SCMP_CMP_GE', 8]])], [[1n, 9n], [1n, 2n], [0n, 9n]]],
    ], (call, rules, ours, runc) => `${call} under its one rule, ${rules}, got ${ours}, runc's filter answers ${runc}: is the rule runc's filter tests for this call the rule the profile wrote? Read the instructions it runs for this call (test/support/bpf.ts's traceFilter), then how runc's libcontainer/seccomp/seccomp_linux.go hands a rule's conditions to libseccomp, and what libseccomp accepts in one rule (${SECTION})`)
  })

  it('one call\'s rules whose first comparisons look at the same argument, every value around them, beside runc\'s filter', async () => {
    const { EACCES, ECHILD, EINVAL, ESRCH } = constants.errno
    const rule = (errnoRet: number, args: Condition[]) => conditional('setpgid', 'SCMP_ACT_ERRNO', errnoRet, args)
    // Every value each condition's own value meets, misses by one either way, or passes by 2^32.
    const around = (values: number[]) => [...new Set(values.flatMap((v) => [v - 1, v, v + 1]).filter((v) => v >= 0).flatMap((v) => [BigInt(v), (1n << 32n) | BigInt(v)]))]
    const grid = (a: bigint[], b: bigint[], c: bigint[]) => a.flatMap((x) => b.flatMap((y) => c.map((z) => [x, y, z])))
    const rules = [rule(EACCES, [[0, 'SCMP_CMP_EQ', 8], [1, 'SCMP_CMP_EQ', 3]]), rule(EINVAL, [[0, 'SCMP_CMP_GE', 4]]), rule(ESRCH, [[1, 'SCMP_CMP_LE', 5]]), rule(ECHILD, [[2, 'SCMP_CMP_EQ', 6], [0, 'SCMP_CMP_GE', 2]])]
    await besideRunc('a profile whose setpgid rules compare its first argument in three of four', [
      ['setpgid', rules, grid(around([2, 4, 8]), around([3, 5]), around([6]))],
    ], (call, listed, ours, runc) => `${call} under the rules, in the profile's order, ${listed} got ${ours}, runc's filter answers ${runc}: does runc's filter still hold every rule the profile wrote for this call, in each ABI? Read the instructions it runs for this call (test/support/bpf.ts's traceFilter), then how libseccomp's db.c adds a rule to a call's tree (${SECTION})`)
    // The same two comparisons on the first argument, the rule that goes on first this time.
    const reversed: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' }, rules[3]!, rules[1]!] }
    const refused = await runcFilters(reversed).then(() => '', (error: Error) => error.message)
    expect(refused, 'runc must refuse this profile').toMatch(/setpgid/)
    let ours = ''
    try {
      compileSeccomp(reversed)
    } catch (error) {
      if (error instanceof NotImplementedError) throw error
      ours = (error as Error).message
    }
    expect(ours, `setpgid's rules, arg2 EQ 6 && arg0 GE 2 → errno ${ECHILD}, then arg0 GE 4 → errno ${EINVAL}: runc refuses to load this profile (${refused.trim()}); your compiler took it. Where do these two rules meet in libseccomp's tree of the call on x86_64, and why could it not add the second? (libseccomp's db.c)`).toMatch(/setpgid/)
  }, 120_000)

  it('conditions on argument 5 and argument 6, in a rule runc adds and in one it does not, beside runc\'s filter', async () => {
    const base = { names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' }
    const profile = (rule: SeccompRule): Seccomp => ({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [base, rule] })
    const cases: [string, SeccompRule][] = [
      ['setpgid allowed when its argument 5 is 1', conditional('setpgid', 'SCMP_ACT_ALLOW', undefined, [[5, 'SCMP_CMP_EQ', 1]])],
      ['setpgid allowed when its argument 6 is 1', conditional('setpgid', 'SCMP_ACT_ALLOW', undefined, [[6, 'SCMP_CMP_EQ', 1]])],
      ['setpgid refused with the default\'s errno when its argument 6 is 1', conditional('setpgid', 'SCMP_ACT_ERRNO', 1, [[6, 'SCMP_CMP_EQ', 1]])],
    ]
    for (const [what, rule] of cases) {
      const theirs = await runcFilters(profile(rule)).then((filters) => ({ filters, refused: '' }), (error: Error) => ({ filters: [], refused: error.message.trim() }))
      let ours: BpfInstruction[] | undefined
      let refused = ''
      try {
        ours = compileSeccomp(profile(rule))
      } catch (error) {
        if (error instanceof NotImplementedError) throw error
        refused = (error as Error).message
      }
      if (theirs.refused) {
        expect(refused, `${what}: runc refuses to load this profile (${theirs.refused}); your compiler took it, and the kernel would meet what it made only at the load, after the container's set-up. Which arguments does a filter have to compare, and which rules' conditions does runc read? (seccomp(2), struct seccomp_data; runc's libcontainer/seccomp/seccomp_linux.go)`).not.toBe('')
        continue
      }
      expect(refused, `${what}: runc loads this profile; your compiler refused it: which of a profile's rules does runc build conditions for? (runc's libcontainer/seccomp/seccomp_linux.go)`).toBe('')
      for (const [abi, arch] of ABIS) {
        const { audit, syscalls } = ARCHITECTURES[arch]!
        for (const value of [0n, 1n]) {
          const call = { nr: syscalls.setpgid!, arch: audit, args: [0n, 0n, 0n, 0n, 0n, value] }
          expect(shown(traceFilter(ours!, call).verdict), `${abi}'s setpgid with argument 5 ${value}, ${what}`).toBe(shown(runcVerdict(theirs.filters, call)))
        }
      }
    }
  }, 120_000)

  it('the same rules under defaults of KILL, KILL_PROCESS, TRAP, LOG and TRACE, of ERRNO with ENOSYS, and with no architectures listed', async () => {
    // What runc's own init calls once the filter is loaded is allowed, so that each runs on to
    // where its filter can be read; the rest is the same small profile each time.
    const rules: SeccompRule[] = [
      { names: ['read', 'write', 'openat', 'getpid', 'prctl', 'clone3', 'mount', ...RUNC_INIT], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }] },
      { names: ['umask', 'uname'], action: 'SCMP_ACT_ERRNO', errnoRet: constants.errno.EACCES },
    ]
    const both = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']
    const profiles: [string, Seccomp][] = [
      ['a default of SCMP_ACT_KILL', { defaultAction: 'SCMP_ACT_KILL', architectures: both, syscalls: rules }],
      ['a default of SCMP_ACT_KILL_PROCESS', { defaultAction: 'SCMP_ACT_KILL_PROCESS', architectures: both, syscalls: rules }],
      ['a default of SCMP_ACT_TRAP', { defaultAction: 'SCMP_ACT_TRAP', architectures: both, syscalls: rules }],
      ['a default of SCMP_ACT_LOG', { defaultAction: 'SCMP_ACT_LOG', architectures: both, syscalls: rules }],
      ['a default of SCMP_ACT_TRACE', { defaultAction: 'SCMP_ACT_TRACE', architectures: both, syscalls: rules }],
      ['a default of SCMP_ACT_ERRNO with defaultErrnoRet 38 (ENOSYS)', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: constants.errno.ENOSYS, architectures: both, syscalls: rules }],
      ['a default of SCMP_ACT_ERRNO and an empty list of architectures', { defaultAction: 'SCMP_ACT_ERRNO', architectures: [], syscalls: rules }],
      ['a default of SCMP_ACT_ERRNO and no architectures at all', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: rules }],
    ]
    const enosys = SECCOMP_RET.ERRNO | constants.errno.ENOSYS
    for (const [what, profile] of profiles) {
      const question = (ours: number, runc: number) => (ours === enosys) !== (runc === enosys)
        ? ` Under ${what}, does runc's filter answer any call ENOSYS, and which calls? Read the filter runc loaded for this profile (test/support/security.ts's runcFilters), and the code in runc that decides whether to add that answer at all.`
        : ''
      await sweep(profile, compiled(profile, `a profile with ${what}`), BUDGET, question)
    }
  }, 120_000)
})
