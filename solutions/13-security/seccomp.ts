/**
 * Chapter 13: seccomp. config.json's linux.seccomp says, for each system call by name, what
 * happens when the container makes it. The kernel does not read names: it runs a classic BPF
 * program on every system call, over the call's number, ABI and arguments. This module compiles
 * the one into the other; the helper only loads the result.
 *
 * Check your work with `npx workbook check 13`.
 */
import { constants } from 'node:os'
import { ContainerError } from '../../lib/errors.ts'
import type { Seccomp, SeccompRule } from '../../lib/oci.ts'
import { always, and, ARCHITECTURES, assemble, BPF, jump, load, ret, SECCOMP_DATA, SECCOMP_RET, seccompAction, X32_SYSCALL_BIT, type BpfInstruction, type Pending } from '../../lib/seccomp.ts'

// #region argumentCheck
const unsupported = (op: string) => new ContainerError(`unsupported seccomp operator ${JSON.stringify(op)}`, 125)

/**
 * One argument condition as instructions that fall through when it holds and jump to `fail`
 * when it does not, judging the argument as libseccomp's filter judges it in an ABI whose
 * arguments are `bits` wide.
 */
function argumentCheck(condition: NonNullable<SeccompRule['args']>[number], bits: 32 | 64, fail: string, id: string): Pending[] {
  const { index, op } = condition
  const split = (n: number) => [Math.floor(n / 2 ** 32) >>> 0, n >>> 0] as const
  const [hi, lo] = split(condition.value)
  const pass = `${id}:pass`
  // A 32-bit ABI's argument is its low word: libseccomp compares that alone, with the low word
  // of the profile's value, so a value of 2^32 or more is taken modulo 2^32 there.
  const wide = bits === 64
  const high = load(SECCOMP_DATA.argHigh(index))
  const low = load(SECCOMP_DATA.argLow(index))
  /** arg > value (or >= with `orEqual`): the high words decide unless equal */
  const above = (orEqual: boolean, yes: string, no: string) => [
    ...(wide ? [high, jump(BPF.JGT, hi, yes), jump(BPF.JEQ, hi, undefined, no)] : []),
    low, jump(orEqual ? BPF.JGE : BPF.JGT, lo, yes, no),
  ]
  const body = (() => {
    switch (op) {
      case 'SCMP_CMP_EQ': return [...(wide ? [high, jump(BPF.JEQ, hi, undefined, fail)] : []), low, jump(BPF.JEQ, lo, undefined, fail)]
      case 'SCMP_CMP_NE': return [...(wide ? [high, jump(BPF.JEQ, hi, undefined, pass)] : []), low, jump(BPF.JEQ, lo, fail, pass)]
      case 'SCMP_CMP_GT': return above(false, pass, fail)
      case 'SCMP_CMP_GE': return above(true, pass, fail)
      case 'SCMP_CMP_LE': return above(false, fail, pass)
      case 'SCMP_CMP_LT': return above(true, fail, pass)
      case 'SCMP_CMP_MASKED_EQ': {
        // libseccomp compares the masked argument with valueTwo masked the same way (its db.c
        // masks the datum as it adds the rule), so a bit the mask leaves out of valueTwo counts
        // for nothing, and a word the mask leaves out is no comparison at all.
        const [dhi, dlo] = split(condition.valueTwo ?? 0).map((word, i) => (word & [hi, lo][i]!) >>> 0) as [number, number]
        return [
          ...(wide && hi !== 0 ? [high, and(hi), jump(BPF.JEQ, dhi, undefined, fail)] : []),
          ...(lo !== 0 ? [low, and(lo), jump(BPF.JEQ, dlo, undefined, fail)] : []),
        ]
      }
    }
    throw unsupported(op)
  })()
  return [...body, { label: pass }]
}
// #endregion argumentCheck

// #region compileSeccomp
/**
 * The verdict for a call from an ABI the filter was not given: libseccomp's SCMP_FLTATR_ACT_BADARCH,
 * SCMP_ACT_KILL unless set otherwise (its db.c), which runc never sets: the thread is killed.
 */
const BAD_ARCH = SECCOMP_RET.KILL_THREAD

/** How many instructions `code` assembles to: labels take none. */
const size = (code: Pending[]) => code.filter((p) => !('label' in p)).length

/**
 * `body` unless (accumulator `op` k) holds, else on past it. A conditional jump reaches 255
 * instructions; past a longer body it reaches a BPF_JA instead, one more step on that path.
 */
function unless(op: number, k: number, body: Pending[], id: string): Pending[] {
  const past = `${id}:past`
  if (size(body) <= 255) return [jump(op, k, past), ...body, { label: past }]
  const into = `${id}:into`
  return [jump(op, k, undefined, into), always(past), { label: into }, ...body, { label: past }]
}

/** A run of consecutive call numbers from `start` on that share their rules (none: the default). */
interface Segment { start: number; rules: SeccompRule[] }

/**
 * The call numbers as runs of equal rules, from 0 up: a number no rule names is in a run of
 * the default, and neighbours with the same rules share one run, so one leaf serves them all.
 */
function segments(byNumber: Map<number, SeccompRule[]>, last: number): Segment[] {
  const key = (rules: SeccompRule[]) => JSON.stringify(rules.map(({ names: _, ...rule }) => rule))
  const runs: Segment[] = []
  for (let nr = 0; nr <= last + 1; nr++) {
    const rules = byNumber.get(nr) ?? []
    if (runs.length === 0 || key(runs.at(-1)!.rules) !== key(rules)) runs.push({ start: nr, rules })
  }
  return runs
}

/**
 * A binary search over `runs` (the accumulator holding the call's number): each comparison
 * halves what is left, and a run's own rules need no test of the number. Every path ends in a
 * return; a run whose rules all fail, or that has none, gets `fallback`.
 */
function searchTree(runs: Segment[], rules: (run: Segment) => Pending[], fallback: number, id: string): Pending[] {
  if (runs.length === 1) return [...rules(runs[0]!), ret(fallback)]
  const mid = Math.floor(runs.length / 2)
  const below = searchTree(runs.slice(0, mid), rules, fallback, id)
  return [...unless(BPF.JGE, runs[mid]!.start, below, `${id}:<${runs[mid]!.start}`), ...searchTree(runs.slice(mid), rules, fallback, id)]
}

/**
 * Where libseccomp's filter decides a conditional rule among the same call's others. It merges
 * a call's rules into one tree whose every level is kept sorted (db.c's _db_chain_lt) and tests
 * a level from its greatest node down; a rule enters the tree at its condition on the lowest
 * argument index, so that condition alone places it: a higher index is tested first; on one
 * index, an equality (EQ, NE, MASKED_EQ) before a bound from above (LE, LT) before one from
 * below (GE, GT); among those, the larger value first, the smaller first for LE and LT, as the
 * ABI sees the value (a 32-bit ABI its low word), MASKED_EQ's being valueTwo under its mask. A
 * tie keeps the profile's order. Rules whose conditions cannot both hold are not affected.
 */
function rank(rule: SeccompRule, bits: 32 | 64): bigint[] {
  const [first] = [...(rule.args ?? [])].sort((a, b) => a.index - b.index)
  if (!first) return []
  const width = BigInt.asUintN(bits, BigInt(first.value))
  const datum = first.op === 'SCMP_CMP_MASKED_EQ' ? width & BigInt.asUintN(bits, BigInt(first.valueTwo ?? 0)) : width
  const kind = { SCMP_CMP_GE: 1n, SCMP_CMP_GT: 1n, SCMP_CMP_LE: 2n, SCMP_CMP_LT: 2n }[first.op] ?? 3n
  return [BigInt(first.index), kind, kind === 2n ? -datum : datum]
}

/** Greater first, word by word; equal ranks compare 0, so a stable sort keeps their order. */
function byRank(a: bigint[], b: bigint[]): number {
  for (const [i, x] of a.entries()) if (x !== b[i]) return x > b[i]! ? -1 : 1
  return 0
}

/**
 * One number's rules in the order libseccomp's filter tests them (see `rank`), the first whose
 * conditions hold deciding; when none does, it falls through (the accumulator then holding an
 * argument, not the number).
 */
function callRules(rules: SeccompRule[], bits: 32 | 64, id: string): Pending[] {
  const code: Pending[] = []
  const ordered = rules.map((rule) => ({ rule, key: rank(rule, bits) })).sort((a, b) => byRank(a.key, b.key)).map(({ rule }) => rule)
  for (const [r, rule] of ordered.entries()) {
    const fail = `${id}:${r}:fail`
    ;(rule.args ?? []).forEach((condition, c) => code.push(...argumentCheck(condition, bits, fail, `${id}:${r}:${c}`)))
    code.push(ret(seccompAction(rule.action, rule.errnoRet)), { label: fail })
  }
  return code
}

/**
 * The rules of one number that runc's filter acts on: runc adds no rule whose action is the
 * default's (libseccomp would refuse it), and a rule without conditions decides the call
 * whatever its conditional rules say, before or after it.
 */
function decisive(rules: SeccompRule[], fallback: number): SeccompRule[] {
  const acting = rules.filter((rule) => seccompAction(rule.action, rule.errnoRet) !== fallback)
  const always = acting.find((rule) => !rule.args?.length)
  return always ? [always] : acting
}

/**
 * The rules of one number as libseccomp keeps them once it has merged their trees (db.c's
 * _db_tree_add, _db_tree_prune). A rule is a chain of nodes, and on a 64-bit ABI a comparison
 * GE or GT on an argument begins with a node on its high word alone, the same for every value
 * with that high word, whose "greater" branch decides the rest of the rule. Two rules whose
 * first nodes are such a node, equal, share it: when the one kept first ends there (its only
 * condition) and the later one goes on, the later one is redundant to libseccomp and left out
 * of the program; the other way round, libseccomp refuses the later rule (EEXIST) and runc
 * refuses the profile. A 32-bit ABI has no high word, and so no such merge.
 */
function merged(rules: SeccompRule[], bits: 32 | 64, name: string): SeccompRule[] {
  if (bits === 32) return rules
  const head = (rule: SeccompRule) => {
    const lowest = (rule.args ?? []).reduce<NonNullable<SeccompRule['args']>[number] | undefined>((low, c) => (low && low.index <= c.index ? low : c), undefined)
    return lowest && (lowest.op === 'SCMP_CMP_GE' || lowest.op === 'SCMP_CMP_GT') ? `${lowest.index}:${Math.floor(lowest.value / 2 ** 32)}` : undefined
  }
  const kept: SeccompRule[] = []
  for (const rule of rules) {
    const at = head(rule)
    const other = at === undefined ? undefined : kept.find((k) => head(k) === at)
    const ends = (r: SeccompRule) => r.args!.length === 1
    if (other && ends(other) && !ends(rule)) continue
    if (other && !ends(other) && ends(rule)) throw new ContainerError(`seccomp: a rule of ${name} cannot be added beside an earlier one that compares the same argument: libseccomp refuses it (EEXIST), and so does runc`, 125)
    kept.push(rule)
  }
  return kept
}

/**
 * A rule as runc's matchCall hands it to libseccomp, which takes one comparison per argument in
 * a rule: when two of its conditions look at the same argument, runc adds each of its conditions
 * as a rule of its own, so that any one of them holding is enough (a range written as GE and LE
 * on one argument holds for every value).
 */
function asAdded(rule: SeccompRule): SeccompRule[] {
  const indexes = (rule.args ?? []).map((condition) => condition.index)
  return new Set(indexes).size < indexes.length ? rule.args!.map((condition) => ({ ...rule, args: [condition] })) : [rule]
}

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
  const fallback = seccompAction(config.defaultAction, config.defaultErrnoRet)
  // Every rule is read, as runc reads the spec, before any is left out of the program.
  for (const rule of config.syscalls ?? []) {
    const action = seccompAction(rule.action, rule.errnoRet)
    for (const { op } of rule.args ?? []) if (!/^SCMP_CMP_(EQ|NE|LT|LE|GT|GE|MASKED_EQ)$/.test(op)) throw unsupported(op)
    // struct seccomp_data holds six arguments; a load past them is one the kernel's checker
    // refuses when the filter is loaded, long after. runc reads an index as an unsigned number
    // (a negative one is no config.json at all), and builds a rule's conditions only for a rule
    // it adds: one whose action is not the default's, naming a call libseccomp knows.
    const known = rule.names.some((name) => Object.values(ARCHITECTURES).some((abi) => abi.syscalls[name] !== undefined))
    for (const { index } of rule.args ?? []) {
      if (!Number.isInteger(index) || index < 0 || (index >= 6 && action !== fallback && known)) throw new ContainerError(`seccomp: a condition of ${rule.names.join(', ')} on argument ${index}: a system call has arguments 0 to 5`, 125)
    }
  }
  // runc's patchbpf: no stub under a permissive default (a tracer handles new calls itself), and
  // none for an ABI the profile does not list: without `architectures`, none at all, though
  // libseccomp still judges the native ABI's calls by the rules.
  const patched = !['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(config.defaultAction)
  const listed = config.architectures ?? []
  const arches = (listed.length ? listed : ['SCMP_ARCH_X86_64']).filter((a) => ARCHITECTURES[a])
  // The ABI once, at the top: each but the last reaches its section through a BPF_JA (sections
  // are longer than a conditional jump reaches), the last falls into its own, anything else
  // gets libseccomp's answer to an ABI it was not given.
  const [last, ...others] = [...arches].reverse()
  const code: Pending[] = [load(SECCOMP_DATA.arch)]
  for (const arch of others.reverse()) code.push(jump(BPF.JEQ, ARCHITECTURES[arch]!.audit, undefined, `${arch}:next`), always(`${arch}:in`), { label: `${arch}:next` })
  if (last) code.push(jump(BPF.JEQ, ARCHITECTURES[last]!.audit, `${last}:in`), ret(BAD_ARCH), ...section(last))
  else code.push(ret(BAD_ARCH))
  for (const arch of others) code.push(...section(arch))
  return assemble(code)

  /** One ABI's section: its numbers, then the search over them, every path ending in a return. */
  function section(arch: string): Pending[] {
    const table = ARCHITECTURES[arch]!.syscalls
    const code: Pending[] = [{ label: `${arch}:in` }, load(SECCOMP_DATA.nr)]
    // x32 calls share AUDIT_ARCH_X86_64 and are told apart by a bit in the number; with no x32
    // table here, x32 is an ABI this filter was not given, whatever the profile lists. -1, which
    // a tracer leaves to skip a call, has that bit too: libseccomp lets it on, to no rule.
    const native = arch === 'SCMP_ARCH_X86_64'
    if (native) code.push(jump(BPF.JSET, X32_SYSCALL_BIT, undefined, `${arch}:native`), jump(BPF.JEQ, 0xffffffff, undefined, `${arch}:x32`), ret(fallback), { label: `${arch}:x32` }, ret(BAD_ARCH), { label: `${arch}:native` })
    // The rules of each number, in the profile's order.
    const byNumber = new Map<number, SeccompRule[]>()
    for (const rule of (config.syscalls ?? []).flatMap(asAdded)) {
      for (const name of rule.names) {
        const nr = table[name]
        if (nr !== undefined) byNumber.set(nr, [...(byNumber.get(nr) ?? []), rule])
      }
    }
    // Newer than the profile: above the largest number it names in this ABI's table, by any rule.
    const highest = Math.max(0, ...byNumber.keys())
    const newest = listed.includes(arch) ? highest : 0
    if (patched && newest > 0) code.push(jump(BPF.JGT, newest, undefined, `${arch}:known`), ret(SECCOMP_RET.ERRNO | constants.errno.ENOSYS), { label: `${arch}:known` })
    // Without that answer, a number with the top bit (no x86_64 call) meets libseccomp's own x32
    // check, a comparison rather than the bit: it refuses it as it refuses x32.
    if (native && !(patched && newest > 0)) code.push(jump(BPF.JGE, X32_SYSCALL_BIT, undefined, `${arch}:low`), ret(BAD_ARCH), { label: `${arch}:low` })
    // Rules the filter acts on, each number's (the newest above counts every rule's names).
    const bits = arch === 'SCMP_ARCH_X86' ? 32 : 64
    for (const [nr, rules] of byNumber) byNumber.set(nr, merged(decisive(rules, fallback), bits, Object.keys(table).find((name) => table[name] === nr)!))
    return [...code, ...searchTree(segments(byNumber, highest), (run) => callRules(run.rules, bits, `${arch}:${run.start}`), fallback, arch)]
  }
}
// #endregion compileSeccomp
