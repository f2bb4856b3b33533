/**
 * The seccomp compiler on its own: profiles compiled into BPF and run, instruction by
 * instruction, by test/support/bpf.ts over calls described in TypeScript, including those no
 * container could safely make (another ABI, an x32 call, 64-bit arguments). No kernel needed.
 */
import { describe, expect, it } from 'vitest'
import { constants } from 'node:os'
import { compileSeccomp } from '#ch/13-security/seccomp.ts'
import type { Seccomp, SeccompRule } from '../../lib/oci.ts'
import { ARCHITECTURES, SECCOMP_RET, X32_SYSCALL_BIT } from '../../lib/seccomp.ts'
import { SYSCALLS_I386, SYSCALLS_X86_64 } from '../../lib/security-tables.ts'
import { dockerDefaultProfile } from '../../lib/docker-security.ts'
import { DEFAULT_CAPABILITIES } from '../../lib/engine.ts'
import { runFilter } from '../support/bpf.ts'

const X86_64 = ARCHITECTURES.SCMP_ARCH_X86_64!.audit
const I386 = ARCHITECTURES.SCMP_ARCH_X86!.audit
const names: Record<number, string> = { [SECCOMP_RET.ALLOW]: 'ALLOW', [SECCOMP_RET.KILL_PROCESS]: 'KILL_PROCESS', [SECCOMP_RET.KILL_THREAD]: 'KILL_THREAD' }
/** A call killed, thread or process: which of the two runc's filter gives is search.test.ts's to judge. */
const KILLED = ['KILL_THREAD', 'KILL_PROCESS']
const verdict = (v: number) => names[v] ?? ((v & 0xffff0000) >>> 0 === SECCOMP_RET.ERRNO ? `ERRNO(${v & 0xffff})` : `0x${v.toString(16)}`)

/** What the compiled `profile` decides for `name` (x86_64 unless `arch`) called with `args`. */
function decide(profile: Seccomp, name: string, args: bigint[] = [], arch = X86_64): string {
  const table = arch === X86_64 ? SYSCALLS_X86_64 : SYSCALLS_I386
  return verdict(runFilter(compileSeccomp(profile), { nr: table[name]!, arch, args }))
}

const allow = (names: string[], args?: SeccompRule['args']): SeccompRule => ({ names, action: 'SCMP_ACT_ALLOW', ...(args ? { args } : {}) })
const deny = (names: string[], errnoRet?: number, args?: SeccompRule['args']): SeccompRule => ({ names, action: 'SCMP_ACT_ERRNO', errnoRet, ...(args ? { args } : {}) })
const ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']

describe('seccomp: a profile compiled to BPF', () => {
  it('a default of ERRNO, read and write allowed, clone3 denied with 38', () => {
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [allow(['read', 'write']), deny(['clone3'], 38)] }
    expect(decide(profile, 'read'), 'read is on the allow list: expected ALLOW — were the rules reached? (the chapter\'s "seccomp: compiling a profile")').toBe('ALLOW')
    expect(decide(profile, 'write')).toBe('ALLOW')
    expect(decide(profile, 'openat'), 'openat, named by no rule, under a default of SCMP_ACT_ERRNO without errnoRet: which errno does runc return then?').toBe('ERRNO(1)')
    expect(decide(profile, 'clone3'), 'clone3, denied with errnoRet 38 (as docker\'s profile does)').toBe('ERRNO(38)')
    expect(decide({ ...profile, defaultErrnoRet: 13 }, 'openat'), 'openat under a defaultErrnoRet of 13').toBe('ERRNO(13)')
    expect(decide({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['mount'])] }, 'mount'), 'mount under a default of ALLOW and a rule denying it').toBe('ERRNO(1)')
  })

  it('calls from i386, from x32, and from an ABI the profile does not list', () => {
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHES, syscalls: [deny(['unshare'])] }
    expect(decide(profile, 'unshare', [], I386), `i386's unshare (number ${SYSCALLS_I386.unshare}, through int 0x80) under a profile denying unshare: how does a filter know which ABI's numbers it is looking at? (seccomp(2), "Caveats")`).toBe('ERRNO(1)')
    const same = Object.keys(SYSCALLS_I386).find((n) => SYSCALLS_I386[n] === SYSCALLS_X86_64.unshare)!
    expect(decide(profile, same, [], I386), `i386's ${same}, which has x86_64's number for unshare: whose rules judge it, i386's or x86_64's?`).toBe('ALLOW')
    const only64: Seccomp = { ...profile, architectures: ['SCMP_ARCH_X86_64'] }
    // Which kill runc's filter gives is judged beside runc's own filter (search.test.ts).
    expect(KILLED, 'read from i386 under a profile listing SCMP_ARCH_X86_64 alone: which verdict does libseccomp\'s filter give a call from an ABI it was not given?').toContain(decide(only64, 'read', [], I386))
    expect(KILLED, 'an x32 unshare (x86_64\'s arch, X32_SYSCALL_BIT in the number): which ABIs can your filter tell apart, and what happens to a call from any other? (the chapter\'s "seccomp: compiling a profile")').toContain(verdict(runFilter(compileSeccomp(profile), { nr: X32_SYSCALL_BIT | SYSCALLS_X86_64.unshare!, arch: X86_64 })))
  })

  it('personality under each operator, with arguments and values on both sides of 2^32', () => {
    const rule = (op: string, value: number, valueTwo?: number) => ({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow(['personality'], [{ index: 0, op, value, ...(valueTwo === undefined ? {} : { valueTwo }) }])] })
    const high = 1n << 32n
    const cases: [string, number, bigint, string, number?][] = [
      ['SCMP_CMP_EQ', 8, 8n, 'ALLOW'], ['SCMP_CMP_EQ', 8, high | 8n, 'ERRNO(1)'], ['SCMP_CMP_EQ', 2 ** 32 + 8, 8n, 'ERRNO(1)'], ['SCMP_CMP_EQ', 0xffffffff, 0xffffffffn, 'ALLOW'],
      ['SCMP_CMP_NE', 8, 8n, 'ERRNO(1)'], ['SCMP_CMP_NE', 8, high | 8n, 'ALLOW'], ['SCMP_CMP_NE', 8, 9n, 'ALLOW'],
      ['SCMP_CMP_GT', 5, high, 'ALLOW'], ['SCMP_CMP_GT', 5, 5n, 'ERRNO(1)'], ['SCMP_CMP_GT', 5, 6n, 'ALLOW'], ['SCMP_CMP_GT', 2 ** 32, 7n, 'ERRNO(1)'],
      ['SCMP_CMP_GE', 5, 5n, 'ALLOW'], ['SCMP_CMP_GE', 5, 4n, 'ERRNO(1)'], ['SCMP_CMP_GE', 5, high, 'ALLOW'],
      ['SCMP_CMP_LT', 2 ** 32 + 5, 7n, 'ALLOW'], ['SCMP_CMP_LT', 5, 5n, 'ERRNO(1)'], ['SCMP_CMP_LT', 5, high | 1n, 'ERRNO(1)'],
      ['SCMP_CMP_LE', 5, 5n, 'ALLOW'], ['SCMP_CMP_LE', 5, 6n, 'ERRNO(1)'], ['SCMP_CMP_LE', 5, high, 'ERRNO(1)'],
      ['SCMP_CMP_MASKED_EQ', 0x10000000, 0n, 'ALLOW', 0], ['SCMP_CMP_MASKED_EQ', 0x10000000, 0x10000011n, 'ERRNO(1)', 0], ['SCMP_CMP_MASKED_EQ', 0xff, high | 0x12n, 'ALLOW', 0x12],
    ]
    for (const [op, value, arg, expected, valueTwo] of cases)
      expect(decide(rule(op, value, valueTwo), 'personality', [arg]), `personality(0x${arg.toString(16)}) against ${op} 0x${value.toString(16)}${valueTwo === undefined ? '' : ` (valueTwo 0x${valueTwo.toString(16)})`}: how wide is the argument, and how much of it does your check look at? (seccomp(2), struct seccomp_data)`).toBe(expected)
  })

  it('socket under a rule with two conditions, personality under two rules', () => {
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        allow(['socket'], [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }, { index: 1, op: 'SCMP_CMP_EQ', value: 2 }]),
        allow(['personality'], [{ index: 0, op: 'SCMP_CMP_EQ', value: 0 }]), allow(['personality'], [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }]),
      ],
    }
    expect(decide(profile, 'socket', [1n, 2n])).toBe('ALLOW')
    expect(decide(profile, 'socket', [1n, 1n]), 'socket(1, 1), whose second argument fails the rule\'s second condition').toBe('ERRNO(1)')
    expect(decide(profile, 'socket', [2n, 2n])).toBe('ERRNO(1)')
    expect(decide(profile, 'personality', [0n])).toBe('ALLOW')
    expect(decide(profile, 'personality', [8n]), 'personality(8), allowed by the second rule naming personality').toBe('ALLOW')
    expect(decide(profile, 'personality', [9n])).toBe('ERRNO(1)')
  })

  it('a name no ABI has, an unknown action and operator, and a profile allowing every call', () => {
    expect(decide({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow(['no_such_call', 'read'])] }, 'read'), 'read, allowed by a rule that also names a call no table has: what does runc do with a name an ABI does not know?').toBe('ALLOW')
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_BOGUS' }), 'an unknown action must be refused').toThrow(/SCMP_ACT_BOGUS/)
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [allow(['read'], [{ index: 0, op: 'SCMP_CMP_BOGUS', value: 1 }])] }), 'an unknown operator must be refused').toThrow(/SCMP_CMP_BOGUS/)
    const every: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [allow([...new Set([...Object.keys(SYSCALLS_X86_64), ...Object.keys(SYSCALLS_I386)])])] }
    const program = compileSeccomp(every)
    expect(program.length, 'the kernel takes at most 4096 instructions').toBeLessThanOrEqual(4096)
    expect(decide(every, 'io_pgetevents'), 'a call at the end of a long allow list').toBe('ALLOW')
    expect(decide(every, 'waitpid', [], I386), 'waitpid from i386, whose section lies past a whole x86_64 section: how far can a conditional jump reach? (the chapter\'s "seccomp: compiling a profile")').toBe('ALLOW')
  })
  it('calls newer than the profile, older calls it does not name, in each ABI', () => {
    const ENOSYS = `ERRNO(${constants.errno.ENOSYS})`
    const EACCES = constants.errno.EACCES
    const byNumber = (nr: number, arch: number) => verdict(runFilter(compileSeccomp(profile), { nr, arch }))
    // Three old calls whose numbers differ between the ABIs, the last one denied with an errno of its own.
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [allow(['read', 'write']), deny(['openat'], EACCES)] }
    const highest = (table: Record<string, number>) => Math.max(...['read', 'write', 'openat'].map((n) => table[n]!))
    for (const [abi, arch, table] of [['x86_64', X86_64, SYSCALLS_X86_64], ['i386', I386, SYSCALLS_I386]] as const) {
      const top = highest(table)
      const newer = Object.keys(table).find((n) => table[n]! > top)!
      expect(byNumber(top + 1, arch), `${abi} call number ${top + 1}, one above the highest the profile names in ${abi}'s table, under a default of SCMP_ACT_ERRNO: glibc falls back only on ENOSYS — which calls is the profile too old to know, in this ABI? (the chapter's "seccomp: compiling a profile"; runc's patchbpf)`).toBe(ENOSYS)
      expect(decide(profile, newer, [], arch), `${abi}'s ${newer} (${table[newer]}), newer than every call the profile names in ${abi}`).toBe(ENOSYS)
      const older = Object.keys(table).find((n) => table[n]! < top && !['read', 'write', 'openat'].includes(n))!
      expect(decide(profile, older, [], arch), `${abi}'s ${older} (${table[older]}), older than the profile's highest call and named by no rule: did the profile know of it? (runc's findLastSyscalls)`).toBe('ERRNO(1)')
      expect(decide(profile, 'openat', [], arch), `${abi}'s openat (${table.openat}), the highest call the profile names, denied with errnoRet ${EACCES}: which comes first for it in your program, its rule or your check for newer calls?`).toBe(`ERRNO(${EACCES})`)
      expect(decide(profile, 'read', [], arch)).toBe('ALLOW')
    }
    expect(KILLED, 'an x32 call above the profile\'s highest number: to a filter with no x32 tables, which ABI\'s call is it, and can it be newer than the profile?').toContain(byNumber(X32_SYSCALL_BIT | (highest(SYSCALLS_X86_64) + 1), X86_64))
    expect(KILLED, 'an i386 call above i386\'s highest named number, under a profile listing SCMP_ARCH_X86_64 alone: which ABIs\' calls does the profile know of at all?').toContain(verdict(runFilter(compileSeccomp({ ...profile, architectures: ['SCMP_ARCH_X86_64'] }), { nr: highest(SYSCALLS_I386) + 1, arch: I386 })))
    const permissive = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHES, syscalls: [deny(['read', 'write'])] }
    expect(verdict(runFilter(compileSeccomp(permissive), { nr: SYSCALLS_X86_64.write! + 1, arch: X86_64 })), `a call above the highest named under a default of SCMP_ACT_ALLOW: does runc add anything when the default already lets every call through? (runc's generatePatch)`).toBe('ALLOW')
    const docker = dockerDefaultProfile(DEFAULT_CAPABILITIES)
    expect(decide(docker, 'clone3'), 'clone3 under Docker\'s default profile, which names it with a rule of its own').toBe(`ERRNO(${docker.syscalls!.find((r) => r.names.includes('clone3') && r.names.length === 1)!.errnoRet})`)
    expect(decide(docker, 'clone', [0x7e020000n]), 'clone with namespace flags under Docker\'s default profile: its rule\'s conditions do not hold — what decides then?').toBe(`ERRNO(${docker.defaultErrnoRet})`)
  })
})
