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

/** A diff line in the colours vitest uses: expected green, received red. */
const coloured = (line: string): string => (/^- /.test(line) ? chalk.green(line) : /^\+ /.test(line) ? chalk.red(line) : line)

/**
 * A failure as a learner wants it: the message, its expected/received diff, and the line of
 * the test file that failed (the runner's reporter puts them in that order).
 */
export function failureLines(failure: string, max = 30): string[] {
  const lines = failure.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
  const at = lines.findIndex((l) => /^\s+at /.test(l))
  const body = (at === -1 ? lines : lines.slice(0, at)).map(coloured)
  const out = body.slice(0, max)
  if (body.length > max) out.push(chalk.dim(`... (${body.length - max} more lines)`))
  if (at !== -1) out.push(...lines.slice(at).filter((l) => /^\s+at /.test(l)).map((l) => chalk.dim(l.trim())))
  return out
}

/** The teaching message of a failure alone: its first line, without the assertion's own words. */
export function failureSummary(failure: string): string {
  const first = failure.replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0] ?? ''
  return first.replace(/^AssertionError: /, '')
}

/** Every failing test: the first in full (message, diff, line), each other one by its message. */
export function failureReport(results: TestResult[]): string[] {
  const failed = results.filter((t) => t.status === 'failed')
  if (failed.length === 0) return []
  const [first, ...rest] = failed
  const out = [`${chalk.red('✗')} ${chalk.bold(first!.name)}`, ...failureLines(first!.failure ?? 'failed').map((l) => `    ${l}`)]
  if (rest.length) out.push('', chalk.bold(`${rest.length} more failing:`))
  let said = failureSummary(first!.failure ?? 'failed')
  for (const t of rest) {
    out.push(`${chalk.red('✗')} ${t.name}`)
    // The same message as the test before (a function not written yet, say) is not repeated.
    const summary = failureSummary(t.failure ?? 'failed')
    out.push(`    ${chalk.dim(summary === said ? '(the same message as the test above)' : summary)}`)
    said = summary
  }
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
