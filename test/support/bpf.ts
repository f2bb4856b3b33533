/**
 * A classic BPF interpreter for seccomp filters, the kernel's in a few lines: it runs a compiled
 * filter over a system call described in TypeScript, so a test can ask what the filter decides
 * for a call no container can safely make (another ABI, a 64-bit argument).
 */
import { BPF, type BpfInstruction } from '../../lib/seccomp.ts'

/** The call as struct seccomp_data describes it; arguments are 64-bit, as bigints. */
export interface SyscallData {
  nr: number
  arch: number
  args?: bigint[]
}

/** The 32-bit word at `offset` in struct seccomp_data (little-endian). */
function word(data: SyscallData, offset: number): number {
  if (offset === 0) return data.nr >>> 0
  if (offset === 4) return data.arch >>> 0
  if (offset >= 16 && offset < 64 && offset % 4 === 0) {
    const arg = data.args?.[Math.floor((offset - 16) / 8)] ?? 0n
    return Number((offset % 8 === 0 ? arg : arg >> 32n) & 0xffffffffn)
  }
  throw new Error(`the filter loads seccomp_data at offset ${offset}, which is not a field the kernel lets it read`)
}

/** Run `program` over `data` and return its verdict (SECCOMP_RET_*), as the kernel would. */
export function runFilter(program: BpfInstruction[], data: SyscallData): number {
  return traceFilter(program, data).verdict
}

/** The verdict and how many instructions the kernel executed to reach it, the return included. */
export function traceFilter(program: BpfInstruction[], data: SyscallData): { verdict: number; executed: number } {
  let a = 0
  let executed = 0
  for (let pc = 0; pc < program.length; pc++) {
    executed++
    const { code, jt, jf, k } = program[pc]!
    const cls = code & 0x07
    if (cls === BPF.LD) {
      if (code !== (BPF.LD | BPF.W | BPF.ABS)) throw new Error(`instruction ${pc}: only 32-bit absolute loads read seccomp_data, not code 0x${code.toString(16)}`)
      a = word(data, k)
    } else if (cls === BPF.ALU) {
      if ((code & 0xf0) !== BPF.AND) throw new Error(`instruction ${pc}: ALU code 0x${code.toString(16)} is not interpreted here`)
      a = (a & k) >>> 0
    } else if (cls === BPF.JMP) {
      const op = code & 0xf0
      if (op === BPF.JA) pc += k
      else {
        const taken = op === BPF.JEQ ? a === k >>> 0 : op === BPF.JGT ? a > k >>> 0 : op === BPF.JGE ? a >= k >>> 0 : op === BPF.JSET ? (a & k) !== 0 : undefined
        if (taken === undefined) throw new Error(`instruction ${pc}: jump code 0x${code.toString(16)} is not interpreted here`)
        pc += taken ? jt : jf
      }
    } else if (cls === BPF.RET) return { verdict: k >>> 0, executed }
    else throw new Error(`instruction ${pc}: code 0x${code.toString(16)} is not interpreted here`)
  }
  throw new Error('the filter ran off its end without returning: the kernel refuses such a program')
}
