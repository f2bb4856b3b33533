/** Runs chapter tests with vitest in a chosen mode and returns one result per test. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './chapters.ts'

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
  /** the first failure message, as vitest printed it */
  failure?: string
  durationMs: number
}

interface VitestJson {
  testResults: {
    name: string
    message?: string
    assertionResults: {
      ancestorTitles: string[]
      title: string
      status: string
      failureMessages: string[]
      duration?: number
    }[]
  }[]
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
}

export async function runTests(paths: string[], mode: Mode, options: RunOptions = {}): Promise<TestResult[]> {
  const root = options.root ?? ROOT
  const dir = mkdtempSync(join(tmpdir(), 'workbook-report-'))
  const report = join(dir, 'report.json')
  try {
    const reporters = options.echo ? ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`] : ['--reporter=json', `--outputFile=${report}`]
    const { execa } = await import('execa') // loaded when used: it is most of a start otherwise
    const run = await execa(join(root, 'node_modules/.bin/vitest'), ['run', ...reporters, ...paths], {
      cwd: root,
      env: { ...modeEnv(mode), FORCE_COLOR: options.echo && process.stdout.isTTY && !process.env.NO_COLOR ? '1' : '0' },
      stdio: options.echo ? 'inherit' : 'pipe',
      reject: false,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
    })
    if (run.timedOut) throw new Error(`the tests did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s and were stopped`)
    if (run.isCanceled) throw new Error('the test run was cancelled')
    let json: VitestJson
    try {
      json = JSON.parse(readFileSync(report, 'utf8')) as VitestJson
    } catch {
      throw new Error(`vitest wrote no report (exit ${run.exitCode}):\n${run.stderr ?? ''}${run.stdout ?? ''}`)
    }
    return json.testResults.flatMap((file) => {
      const relative = file.name.startsWith(root) ? file.name.slice(root.length).replace(/^\//, '') : file.name
      if (file.assertionResults.length === 0 && file.message)
        return [{ file: relative, name: '(the file failed to load)', status: 'failed' as const, failure: file.message, durationMs: 0 }]
      return file.assertionResults.map((t) => ({
        file: relative,
        name: [...t.ancestorTitles, t.title].join(' > '),
        status: t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'failed' : 'skipped',
        failure: t.failureMessages[0],
        durationMs: Math.round(t.duration ?? 0),
      }))
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** True when a test failed only because a starter function is not written yet. */
export const notImplemented = (t: TestResult): boolean =>
  t.status === 'failed' && /^NotImplementedError\b/.test(t.failure ?? '')
