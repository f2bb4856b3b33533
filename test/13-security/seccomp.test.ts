/**
 * The seccomp compiler on its own: profiles compiled into BPF and run, instruction by
 * instruction, by test/support/bpf.ts over calls described in TypeScript, including those no
 * container could safely make (another ABI, an x32 call, 64-bit arguments). No kernel needed.
 */
import { describe, expect, it } from 'vitest'
import { compileSeccomp } from '#ch/13-security/seccomp.ts'
import type { Seccomp, SeccompRule } from '../../lib/oci.ts'
import { ARCHITECTURES, SECCOMP_RET, X32_SYSCALL_BIT } from '../../lib/seccomp.ts'
import { SYSCALLS_I386, SYSCALLS_X86_64 } from '../../lib/security-tables.ts'
import { runFilter } from '../support/bpf.ts'

const X86_64 = ARCHITECTURES.SCMP_ARCH_X86_64!.audit
const I386 = ARCHITECTURES.SCMP_ARCH_X86!.audit
const ERRNO = (errno: number) => SECCOMP_RET.ERRNO | errno
const names: Record<number, string> = { [SECCOMP_RET.ALLOW]: 'ALLOW', [SECCOMP_RET.KILL_PROCESS]: 'KILL_PROCESS', [SECCOMP_RET.KILL_THREAD]: 'KILL_THREAD' }
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
  it('the allow list is reached, and every other call gets the default action with its errno', () => {
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [allow(['read', 'write']), deny(['clone3'], 38)] }
    expect(decide(profile, 'read'), 'read is on the allow list: did the default action come before the rules?').toBe('ALLOW')
    expect(decide(profile, 'write')).toBe('ALLOW')
    expect(decide(profile, 'openat'), 'a call no rule names gets defaultAction, SCMP_ACT_ERRNO without errnoRet being EPERM (1)').toBe('ERRNO(1)')
    expect(decide(profile, 'clone3'), 'a rule\'s errnoRet is the errno it returns (ENOSYS, 38, as docker\'s profile does for clone3)').toBe('ERRNO(38)')
    expect(decide({ ...profile, defaultErrnoRet: 13 }, 'openat'), 'defaultErrnoRet is the default action\'s errno').toBe('ERRNO(13)')
    expect(decide({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['mount'])] }, 'mount'), 'with a default of ALLOW, a deny rule must still deny').toBe('ERRNO(1)')
  })

  it('checks the ABI first: a listed ABI is judged by its own numbers, another one is killed', () => {
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHES, syscalls: [deny(['unshare'])] }
    expect(decide(profile, 'unshare', [], I386), `i386's unshare is number ${SYSCALLS_I386.unshare} (int 0x80): it must be denied too — does the filter check seccomp_data.arch and use each ABI's own table?`).toBe('ERRNO(1)')
    const same = Object.keys(SYSCALLS_I386).find((n) => SYSCALLS_I386[n] === SYSCALLS_X86_64.unshare)!
    expect(decide(profile, same, [], I386), `i386's ${same} has x86_64's number for unshare: a filter that does not check the ABI denies it by mistake`).toBe('ALLOW')
    const only64: Seccomp = { ...profile, architectures: ['SCMP_ARCH_X86_64'] }
    expect(decide(only64, 'read', [], I386), 'a call from an ABI the profile does not list must kill the process (the numbers mean other calls there)').toBe('KILL_PROCESS')
    expect(verdict(runFilter(compileSeccomp(profile), { nr: X32_SYSCALL_BIT | SYSCALLS_X86_64.unshare!, arch: X86_64 })), 'an x32 call (x86_64 ABI, bit 30 in the number) must not pass as another call').toBe('KILL_PROCESS')
  })

  it('compares arguments on all 64 bits, with every operator', () => {
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
      expect(decide(rule(op, value, valueTwo), 'personality', [arg]), `personality(0x${arg.toString(16)}) against ${op} 0x${value.toString(16)}${valueTwo === undefined ? '' : ` (valueTwo 0x${valueTwo.toString(16)})`}: are both 32-bit halves of the argument compared?`).toBe(expected)
  })

  it('a rule holds only when all its conditions do; any of the rules naming a call may allow it', () => {
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        allow(['socket'], [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }, { index: 1, op: 'SCMP_CMP_EQ', value: 2 }]),
        allow(['personality'], [{ index: 0, op: 'SCMP_CMP_EQ', value: 0 }]), allow(['personality'], [{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }]),
      ],
    }
    expect(decide(profile, 'socket', [1n, 2n])).toBe('ALLOW')
    expect(decide(profile, 'socket', [1n, 1n]), 'the second condition fails: the rule must not match (conditions are and-ed)').toBe('ERRNO(1)')
    expect(decide(profile, 'socket', [2n, 2n])).toBe('ERRNO(1)')
    expect(decide(profile, 'personality', [0n])).toBe('ALLOW')
    expect(decide(profile, 'personality', [8n]), 'a second rule for the same call must be tried when the first does not match').toBe('ALLOW')
    expect(decide(profile, 'personality', [9n])).toBe('ERRNO(1)')
  })

  it('skips names this ABI does not have, refuses actions and operators it does not know, and fits a profile of every call', () => {
    expect(decide({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow(['no_such_call', 'read'])] }, 'read'), 'an unknown name is skipped, as runc does, not fatal').toBe('ALLOW')
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_BOGUS' }), 'an unknown action must be refused').toThrow(/SCMP_ACT_BOGUS/)
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [allow(['read'], [{ index: 0, op: 'SCMP_CMP_BOGUS', value: 1 }])] }), 'an unknown operator must be refused').toThrow(/SCMP_CMP_BOGUS/)
    const every: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [allow([...new Set([...Object.keys(SYSCALLS_X86_64), ...Object.keys(SYSCALLS_I386)])])] }
    const program = compileSeccomp(every)
    expect(program.length, 'the kernel takes at most 4096 instructions').toBeLessThanOrEqual(4096)
    expect(decide(every, 'io_pgetevents'), 'a call at the end of a long allow list').toBe('ALLOW')
    expect(decide(every, 'waitpid', [], I386), 'the i386 section lies past a whole x86_64 section: a jump that long needs BPF_JA').toBe('ALLOW')
  })
})
