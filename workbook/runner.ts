/** Runs chapter tests with vitest in a chosen mode and returns one result per test. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './chapters.ts'
import type { ReportedTest } from './reporter.ts'

/** Whose code runs: the learner's chapters/ (optionally with the reference below chapter N) or solutions/. */
export interface Mode {
  impl: 'chapters' | 'solutions'
  referenceBelow?: number
}

export interface TestResult {
  file: string
  /** "describe > it" */
  name: string
  status: 'passed' | 'failed' | 'skipped'
  /** the failure: message, expected/received diff, and the test file's line */
  failure?: string
  durationMs: number
}

export function modeEnv(mode: Mode): Record<string, string> {
  return {
    WORKBOOK_IMPL: mode.impl,
    WORKBOOK_REFERENCE_BELOW: String(mode.referenceBelow ?? 0),
  }
}

/**
 * Run the test files under `paths` (relative to `root`). With `echo`, vitest's own report is
 * shown as it runs; either way the results come back parsed from its JSON report.
 */
export interface RunOptions {
  /** the workbook tree whose tests, config and code run (a grading copy, say); default this one */
  root?: string
  /** show vitest's own report as it runs */
  echo?: boolean
  /** stop vitest after this long (then no results: an error says so) */
  timeoutMs?: number
  /** stop vitest when this aborts (watch mode, on quit) */
  signal?: AbortSignal
  /** run only the tests whose full name matches this regular expression */
  testNamePattern?: string
}

export async function runTests(paths: string[], mode: Mode, options: RunOptions = {}): Promise<TestResult[]> {
  const root = options.root ?? ROOT
  const dir = mkdtempSync(join(tmpdir(), 'workbook-report-'))
  const report = join(dir, 'report.json')
  try {
    const reporters = [...(options.echo ? ['--reporter=default'] : []), `--reporter=${join(ROOT, 'workbook/reporter.ts')}`]
    const filter = options.testNamePattern ? [`--testNamePattern=${options.testNamePattern}`] : []
    const { execa } = await import('execa') // loaded when used: it is most of a start otherwise
    const run = await execa(join(root, 'node_modules/.bin/vitest'), ['run', ...reporters, ...filter, ...paths], {
      cwd: root,
      env: { ...modeEnv(mode), WORKBOOK_REPORT: report, FORCE_COLOR: options.echo && process.stdout.isTTY && !process.env.NO_COLOR ? '1' : '0' },
      stdio: options.echo ? 'inherit' : 'pipe',
      reject: false,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
    })
    if (run.timedOut) throw new Error(`the tests did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s and were stopped`)
    if (run.isCanceled) throw new Error('the test run was cancelled')
    let json: { tests: ReportedTest[]; errors: string[] }
    try {
      json = JSON.parse(readFileSync(report, 'utf8'))
    } catch {
      throw new Error(`vitest wrote no report (exit ${run.exitCode}):\n${run.stderr ?? ''}${run.stdout ?? ''}`)
    }
    return resultsOf(json)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A report's tests as results; an error outside any test (an unhandled rejection, say) fails the run, so it is shown as a test. */
export function resultsOf(json: { tests: ReportedTest[]; errors: string[] }): TestResult[] {
  const results: TestResult[] = json.tests.map((t) => ({
    file: t.file,
    name: t.name,
    status: t.state === 'passed' ? 'passed' : t.state === 'failed' ? 'failed' : 'skipped',
    failure: t.failure,
    durationMs: t.durationMs,
  }))
  for (const failure of json.errors) results.push({ file: '', name: '(an error outside the tests)', status: 'failed', failure, durationMs: 0 })
  return results
}

/** True when a test failed only because a starter function is not written yet. */
export const notImplemented = (t: TestResult): boolean =>
  t.status === 'failed' && /^NotImplementedError\b/.test(t.failure ?? '')
