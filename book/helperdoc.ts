/**
 * The appendix "The native helper", generated from the helper's own doc comments so it cannot
 * drift from the code: each public method of Helper in native/helper.ts (summary, @param,
 * @returns, @throws, @precondition) joined with the operation it sends and the C function
 * that performs it in native/helper.c (its dispatch line, the system calls it names and the
 * comment above it).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import type { Problem } from './includes.ts'

export interface HelperOp {
  method: string
  signature: string
  summary: string
  params: { name: string; text: string }[]
  returns?: string
  throws: string[]
  preconditions: string[]
  /** the request's operation name, e.g. "pivot_root"; undefined for lifecycle methods */
  op?: string
  /** line of the method in helper.ts */
  line: number
  c?: { fn: string; line: number; comment: string; syscalls: string[]; args: number | null }
}

const TS_FILE = 'native/helper.ts'
const C_FILE = 'native/helper.c'

const commentText = (c: string | ts.NodeArray<ts.JSDocComment> | undefined): string =>
  (ts.getTextOfJSDocComment(c) ?? '').replace(/\s*\n\s*/g, ' ').trim()

interface CFunction { line: number; comment: string; body: string }

/** The C side: dispatch lines (op → function, argument count) and each op_* function. */
function parseC(text: string): { dispatch: Map<string, { fn: string; args: number | null; name?: string }>; functions: Map<string, CFunction> } {
  const dispatch = new Map<string, { fn: string; args: number | null; name?: string }>()
  // if (!strcmp(op, "a") || !strcmp(op, "b")) { NEED(1); return op_x("name", ...
  for (const m of text.matchAll(/if \(((?:!strcmp\(op, "\w+"\)(?: \|\| )?)+)\)\s*(?:\{\s*NEED\((\d+)\);\s*)?return (op_\w+)\(("(\w+)")?/g))
    for (const [, op] of m[1].matchAll(/"(\w+)"/g))
      dispatch.set(op, { fn: m[3], args: m[2] === undefined ? null : Number(m[2]), name: m[5] })
  // A terminal's keeper serves one op of its own outside the dispatch: if (... strcmp(f[1], "op")) in op_x(int master, char **f)
  for (const m of text.matchAll(/static void (op_\w+)\(int \w+, char \*\*f\) \{[^}]*?strcmp\(f\[1\], "(\w+)"\)/g))
    dispatch.set(m[2]!, { fn: m[1]!, args: 2 })
  const functions = new Map<string, CFunction>()
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    const m = /^static (?:int|void) (op_\w+)\(/.exec(line)
    if (!m) return
    let comment = ''
    let j = i - 1
    if (lines[j]?.trim().endsWith('*/')) {
      const end = j
      while (j > 0 && !lines[j].trim().startsWith('/*')) j--
      comment = lines.slice(j, end + 1).join('\n').replace(/^\s*\/?\*+\/?/gm, '').replace(/\*\/\s*$/, '').replace(/\s+/g, ' ').trim()
    }
    let end = i + 1
    while (end < lines.length && lines[end] !== '}') end++
    functions.set(m[1], { line: i + 1, comment, body: lines.slice(i, end + 1).join('\n') })
  })
  return { dispatch, functions }
}

/** Read helper.ts and helper.c. */
export function helperOps(root: string): { ops: HelperOp[]; protocol: string; warnings: Problem[] } {
  const tsText = readFileSync(join(root, TS_FILE), 'utf8')
  const cText = readFileSync(join(root, C_FILE), 'utf8')
  const source = ts.createSourceFile(TS_FILE, tsText, ts.ScriptTarget.ES2022, true)
  const { dispatch, functions } = parseC(cText)
  const warnings: Problem[] = []
  const ops: HelperOp[] = []

  const helper = source.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === 'Helper')
  if (!helper) throw new Error(`${TS_FILE}: no class Helper`)
  for (const member of helper.members) {
    if (!ts.isMethodDeclaration(member) || !ts.isIdentifier(member.name)) continue
    if (member.modifiers?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) continue
    const method = member.name.text
    const line = source.getLineAndCharacterOfPosition(member.getStart()).line + 1
    const isStatic = member.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword)
    const params = member.parameters.map((p) => p.getText(source)).join(', ')
    const signature = `${isStatic ? 'Helper.' : ''}${method}(${params})${member.type ? `: ${member.type.getText(source)}` : ''}`
    const docs = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc)
    const summary = docs.map((d) => commentText(d.comment)).join(' ')
    const tags = docs.flatMap((d) => [...(d.tags ?? [])])
    const tagText = (name: string): string[] => tags.filter((t) => t.tagName.text === name).map((t) => commentText(t.comment))
    const op: HelperOp = {
      method, signature, summary, line,
      params: tags.filter(ts.isJSDocParameterTag).map((t) => ({ name: t.name.getText(source), text: commentText(t.comment) })),
      returns: tagText('returns')[0],
      throws: tagText('throws'),
      preconditions: tagText('precondition'),
    }
    if (!summary) warnings.push({ file: TS_FILE, line, message: `Helper.${method} has no doc comment, so the book's appendix cannot describe it` })
    const sent = /#(?:call|request)\('(\w+)'/.exec(member.body?.getText(source) ?? '')
    if (sent) {
      op.op = sent[1]
      const d = dispatch.get(sent[1])
      const fn = d && functions.get(d.fn)
      if (!d || !fn) warnings.push({ file: TS_FILE, line, message: `Helper.${method} sends "${sent[1]}", which ${C_FILE} does not dispatch` })
      else {
        // the system calls it names in its error reports: call_begin("x"), call_path2("x", ...), fail("x")
        const named = [...fn.body.matchAll(/(?:call_begin|call_path2|fail)\((?:"(\w+)"|name\b)/g)].map((m) => m[1] ?? d.name ?? sent[1])
        op.c = { fn: d.fn, line: fn.line, comment: fn.comment, syscalls: [...new Set(named)], args: d.args }
      }
    }
    ops.push(op)
  }
  const sentOps = new Set(ops.map((o) => o.op))
  for (const name of dispatch.keys())
    if (!sentOps.has(name)) warnings.push({ file: C_FILE, line: 1, message: `${C_FILE} dispatches "${name}", but no Helper method sends it` })
  const protocol = /\/\*([\s\S]*?)\*\//.exec(cText)?.[1].replace(/^ ?\* ?/gm, '').trim() ?? ''
  return { ops, protocol, warnings }
}

const SECTION2 = new Set(['pivot_root', 'execve', 'fork', 'unshare', 'setns', 'sethostname', 'mount', 'umount2', 'chroot', 'chdir', 'mkdir', 'rmdir', 'mknod', 'symlink', 'open', 'write', 'read', 'prctl', 'setgroups', 'setgid', 'setuid', 'setsid', 'umask', 'close_range', 'lsetxattr', 'lgetxattr', 'chmod'])
const MAN_PAGE: Record<string, string> = { umount2: 'umount', lsetxattr: 'setxattr', lgetxattr: 'getxattr', setgid: 'setgid', close_range: 'close_range' }

const manLink = (call: string): string =>
  SECTION2.has(call) ? `[${call}(2)](https://man7.org/linux/man-pages/man2/${MAN_PAGE[call] ?? call}.2.html)` : `\`${call}\``

/** "`EBUSY` text" from "EBUSY text"; "`ENOENT`, `ENOTDIR` text" from "ENOENT, ENOTDIR text". */
function errorItem(text: string): string {
  const m = /^((?:E[A-Z0-9]+)(?:\s*,\s*E[A-Z0-9]+)*)\s*(.*)$/.exec(text)
  return m ? `${m[1].split(/\s*,\s*/).map((c) => `\`${c}\``).join(', ')}: ${m[2]}` : text
}

/**
 * The appendix as markdown (rendered by the same pipeline as the chapters). `sourceHref`
 * gives links to the book's source pages, e.g. for native/helper.c at a line.
 */
export function helperAppendix(root: string, sourceHref: (file: string, line: number) => string | null): { markdown: string; warnings: Problem[] } {
  const { ops, protocol, warnings } = helperOps(root)
  const at = (file: string, line: number, label: string): string => {
    const href = sourceHref(file, line)
    return href ? `[${label}](${href})` : `\`${label}\``
  }
  const requests = ops.filter((o) => o.op)
  const lifecycle = ops.filter((o) => !o.op)
  const out: string[] = []
  out.push('# The native helper {#the-native-helper}', '')
  out.push(
    'Every system call the workbook makes on a container\'s behalf goes through `native/helper.c`, a small single-threaded C program, driven from TypeScript by the `Helper` class in `native/helper.ts`. The helper decides nothing: the order of the calls is the chapters\' code. This appendix is generated from the doc comments of both files, so it says what the code says.',
    '',
    'Every operation returns a promise. A failure rejects with a `SyscallError` shaped like Node\'s own errors (`code`, `errno`, `syscall`, `path`, `dest`), whose message is the call as the kernel saw it:',
    '',
    '```text\npivot_root("/r", "/r/.old") failed: EBUSY (Device or resource busy)\n```',
    '',
    'A request the helper cannot make sense of (a wrong number of arguments, an unknown flag name) is reported the same way, as `EINVAL`, before any system call is made.',
    '',
    '## The protocol {#protocol}',
    '',
    `From the comment at the top of ${at(C_FILE, 1, C_FILE)}:`,
    '',
    '```text\n' + protocol + '\n```',
    '',
    '## Operations at a glance {#operations}',
    '',
    '| method | request | system calls |',
    '|--------|---------|--------------|',
    ...requests.map((o) => `| [\`${o.method}\`](#op-${o.method}) | \`${o.op}\` | ${(o.c?.syscalls ?? []).map(manLink).join(', ')} |`),
    '',
    '## Starting and stopping a helper {#lifecycle}',
    '',
  )
  for (const o of lifecycle) {
    out.push(`### \`${o.method}\` {#op-${o.method}}`, '', '```ts\n' + o.signature + '\n```', '', o.summary || '_Not documented in helper.ts yet._', '')
  }
  out.push('## Operations {#operations-in-detail}', '')
  for (const o of requests) {
    out.push(`### \`${o.method}\` {#op-${o.method}}`, '', '```ts\n' + o.signature + '\n```', '')
    out.push(o.summary || '_Not documented in helper.ts yet._', '')
    const request = `\`${o.op}\`${o.c?.args != null ? `, ${o.c.args} argument${o.c.args === 1 ? '' : 's'}` : ''}`
    const source = o.c ? `${at(C_FILE, o.c.line, `${o.c.fn}()`)} · ${at(TS_FILE, o.line, `Helper.${o.method}`)}` : at(TS_FILE, o.line, `Helper.${o.method}`)
    out.push('| request | system calls | source |', '|---|---|---|', `| ${request} | ${(o.c?.syscalls ?? []).map(manLink).join(', ')} | ${source} |`, '')
    if (o.params.length) out.push('**Arguments**', '', ...o.params.map((p) => `- \`${p.name}\`: ${p.text}`), '')
    if (o.returns) out.push(`**Returns** ${o.returns}`, '')
    if (o.throws.length) out.push('**Errors**', '', ...o.throws.map((t) => `- ${errorItem(t)}`), '')
    if (o.preconditions.length) out.push('**Kernel preconditions**', '', ...o.preconditions.map((p) => `- ${p}`), '')
    if (o.c?.comment) out.push(`> From ${C_FILE}: ${o.c.comment}`, '')
  }
  return { markdown: out.join('\n'), warnings }
}
