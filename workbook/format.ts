/** Terminal output shared by the commands: marks, the progress bar, failures, tables. */
import chalk from 'chalk'
import type { TestResult } from './runner.ts'

export const mark = {
  done: chalk.green('✓'),
  'in progress': chalk.yellow('◐'),
  'not started': chalk.dim('·'),
  passed: chalk.green('✓'),
  failed: chalk.red('✗'),
  skipped: chalk.yellow('-'),
}

export function bar(done: number, total: number, width = 24): string {
  const full = total === 0 ? 0 : Math.round((done / total) * width)
  return chalk.green('█'.repeat(full)) + chalk.dim('░'.repeat(width - full))
}

/**
 * A failure as a learner wants it: the message (with its expected/received diff), then the
 * first stack line outside node_modules, which names the test file and line.
 */
export function failureLines(failure: string, max = 12): string[] {
  const lines = failure.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
  const stackAt = lines.findIndex((l) => /^\s+at /.test(l))
  const message = (stackAt === -1 ? lines : lines.slice(0, stackAt)).filter((l, i, all) => l.trim() !== '' || (i > 0 && all[i - 1]!.trim() !== ''))
  const where = stackAt === -1 ? undefined : lines.slice(stackAt).find((l) => !/node_modules|node:internal/.test(l))
  const out = message.slice(0, max)
  if (message.length > max) out.push(`... (${message.length - max} more lines)`)
  if (where) out.push(where.trim())
  return out
}

/** Tests grouped by their describe() block: "buildEnv 3/6". */
export function groups(results: TestResult[]): { name: string; passed: number; total: number }[] {
  const byName = new Map<string, { name: string; passed: number; total: number }>()
  for (const t of results) {
    const name = t.name.includes(' > ') ? t.name.slice(0, t.name.indexOf(' > ')) : t.file
    const g = byName.get(name) ?? { name, passed: 0, total: 0 }
    g.total++
    if (t.status === 'passed') g.passed++
    byName.set(name, g)
  }
  return [...byName.values()]
}

// eslint-disable-next-line no-control-regex
const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length

/** Columns padded to the widest cell; `right` lists the columns aligned right (numbers). */
export function table(rows: string[][], right: number[] = []): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => visible(r[i] ?? ''))))
  return rows.map((r) =>
    r
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - visible(cell))
        return right.includes(i) ? pad + cell : cell + pad
      })
      .join('  ')
      .trimEnd(),
  )
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`
export const percent = (score: number): string => `${Math.round(score * 100)}%`
