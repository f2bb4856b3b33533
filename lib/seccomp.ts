/**
 * The kernel's side of seccomp, for chapter 13: classic BPF's instruction encoding
 * (linux/filter.h, linux/bpf_common.h), what a filter returns (linux/seccomp.h), the layout of
 * the struct seccomp_data a filter reads, and the ABIs by their audit numbers (linux/audit.h).
 */
import { ContainerError } from './errors.ts'
import { SYSCALLS_I386, SYSCALLS_X86_64 } from './security-tables.ts'

/** One classic BPF instruction (struct sock_filter, linux/filter.h). */
export interface BpfInstruction {
  code: number
  jt: number
  jf: number
  k: number
}

/** Opcodes: the class, size, mode, operation and source bits OR-ed together, e.g. BPF.LD | BPF.W | BPF.ABS. */
export const BPF = {
  LD: 0x00, ALU: 0x04, JMP: 0x05, RET: 0x06,
  W: 0x00, ABS: 0x20,
  AND: 0x50, JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40,
  K: 0x00,
} as const

/** The verdicts a filter returns (SECCOMP_RET_*); an errno or a trace message goes in the low 16 bits. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0x00000000, TRAP: 0x00030000, ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000, TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000,
} as const

/** Offsets in struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian on x86_64 and aarch64). */
export const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  /** the low 32 bits of argument `i` */
  argLow: (i: number) => 16 + 8 * i,
  /** the high 32 bits of argument `i` */
  argHigh: (i: number) => 20 + 8 * i,
}

/** The ABIs a filter can tell apart on this machine: the spec's name, the kernel's AUDIT_ARCH_* value, the system call table. */
export const ARCHITECTURES: Record<string, { audit: number; syscalls: Record<string, number> }> = {
  SCMP_ARCH_X86_64: { audit: 0xc000003e, syscalls: SYSCALLS_X86_64 },
  SCMP_ARCH_X86: { audit: 0x40000003, syscalls: SYSCALLS_I386 },
}

/** x32 system calls come with AUDIT_ARCH_X86_64 and this bit set in their number. */
export const X32_SYSCALL_BIT = 0x40000000

/** The errno of an ERRNO verdict whose rule and profile give no errnoRet (see `getAction` in runc's libcontainer/seccomp/seccomp_linux.go). */
export const DEFAULT_ERRNO = 1

/** The program as the kernel takes it (struct sock_filter[]): 8 bytes per instruction, little-endian. */
export function encodeProgram(program: BpfInstruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8)
  program.forEach(({ code, jt, jf, k }, i) => {
    bytes.writeUInt16LE(code, i * 8)
    bytes.writeUInt8(jt, i * 8 + 2)
    bytes.writeUInt8(jf, i * 8 + 3)
    bytes.writeUInt32LE(k >>> 0, i * 8 + 4)
  })
  return bytes
}

/** encodeProgram's inverse: a program as the kernel hands it out (PTRACE_SECCOMP_GET_FILTER). */
export function decodeProgram(bytes: Buffer): BpfInstruction[] {
  return Array.from({ length: bytes.length / 8 }, (_, i) => ({ code: bytes.readUInt16LE(i * 8), jt: bytes[i * 8 + 2]!, jf: bytes[i * 8 + 3]!, k: bytes.readUInt32LE(i * 8 + 4) }))
}

/**
 * A small assembler for filters: an instruction whose jumps name labels (`{ label }` entries
 * placed in the list) instead of distances; assemble() turns the list into a program.
 */
export type Pending = { code: number; k: number; jt?: string; jf?: string; ja?: string } | { label: string }

export const load = (offset: number): Pending => ({ code: BPF.LD | BPF.W | BPF.ABS, k: offset })
export const ret = (k: number): Pending => ({ code: BPF.RET | BPF.K, k })
/** A conditional jump on the accumulator against k: to label `jt` when true, `jf` when false (left out: the next instruction). */
export const jump = (op: number, k: number, jt?: string, jf?: string): Pending => ({ code: BPF.JMP | op | BPF.K, k, jt, jf })
/** BPF_JA: an unconditional jump to `label`. */
export const always = (label: string): Pending => ({ code: BPF.JMP | BPF.JA, k: 0, ja: label })
/** The ALU's AND: the accumulator becomes accumulator & k. */
export const and = (k: number): Pending => ({ code: BPF.ALU | BPF.AND | BPF.K, k })

/** Resolve labels into forward offsets; a jump cBPF cannot encode is refused. */
export function assemble(pending: Pending[]): BpfInstruction[] {
  const at = new Map<string, number>()
  const program: Extract<Pending, { code: number }>[] = []
  for (const p of pending) {
    if ('label' in p) at.set(p.label, program.length)
    else program.push(p)
  }
  return program.map(({ code, k, jt, jf, ja }, i) => {
    const offset = (label?: string, max = 255) => {
      if (label === undefined) return 0
      const target = at.get(label)
      if (target === undefined) throw new Error(`seccomp filter: a jump to label ${JSON.stringify(label)}, which is not placed`)
      const distance = target - (i + 1)
      if (distance < 0 || distance > max) throw new ContainerError(`seccomp filter too large: a jump of ${distance} instructions cannot be encoded`, 125)
      return distance
    }
    return { code, k: ja === undefined ? k >>> 0 : offset(ja, 2 ** 32 - 1), jt: offset(jt), jf: offset(jf) }
  })
}

// #region seccompAction
/**
 * The filter's return value for a spec action, as runc's filter returns it: SCMP_ACT_ALLOW,
 * SCMP_ACT_ERRNO (with `errnoRet`), SCMP_ACT_KILL (the thread, as libseccomp means it),
 * SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE (errnoRet being
 * the message the tracer reads), SCMP_ACT_LOG; an ERRNO or TRACE without `errnoRet` as runc has it.
 * Anything else: `unsupported seccomp action "NAME"`.
 */
export function seccompAction(action: string, errnoRet?: number): number {
  const data = (errnoRet ?? DEFAULT_ERRNO) & 0xffff
  switch (action) {
    case 'SCMP_ACT_ALLOW': return SECCOMP_RET.ALLOW
    case 'SCMP_ACT_ERRNO': return SECCOMP_RET.ERRNO | data
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return SECCOMP_RET.KILL_THREAD
    case 'SCMP_ACT_KILL_PROCESS': return SECCOMP_RET.KILL_PROCESS
    case 'SCMP_ACT_TRAP': return SECCOMP_RET.TRAP
    case 'SCMP_ACT_TRACE': return SECCOMP_RET.TRACE | data
    case 'SCMP_ACT_LOG': return SECCOMP_RET.LOG
  }
  throw new ContainerError(`unsupported seccomp action ${JSON.stringify(action)}`, 125)
}
// #endregion seccompAction
