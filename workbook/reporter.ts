/**
 * A vitest reporter that writes every test's result, with each failure's message, its
 * expected/received diff and the test file's line, as JSON to the file named by
 * WORKBOOK_REPORT. vitest's own JSON reporter drops the diff, which is what a learner needs.
 */
import { writeFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { Reporter, SerializedError, TestModule } from 'vitest/node'

export interface ReportedTest {
  file: string
  name: string
  state: 'passed' | 'failed' | 'skipped' | 'pending'
  durationMs: number
  /** message, diff and the first stack line inside the test file, in that order */
  failure?: string
}

type Frame = NonNullable<SerializedError['stacks']>[number]
const frame = (f: Frame): string => `    at ${f.method ? `${f.method} (` : ''}${relative(process.cwd(), f.file)}:${f.line}:${f.column}${f.method ? ')' : ''}`

/** The message, its diff, where it was thrown and the line of the test file it came through. */
function describeError(error: SerializedError & { diff?: string }, file: string): string {
  const stacks = error.stacks ?? []
  const inTest = stacks.find((s) => s.file.endsWith(file))
  const where = [...new Set([stacks[0], inTest].filter((f): f is Frame => f !== undefined))]
  return [
    `${error.name && !error.message.startsWith(error.name) ? `${error.name}: ` : ''}${error.message}`,
    ...(error.diff ? ['', error.diff] : []),
    ...where.map(frame),
  ]
    .join('\n')
    .replace(/\x1b\[[0-9;]*m/g, '')
}

/** Which file and test were running when an error outside any test came (vitest records both when it knows them). */
function origin(error: SerializedError & { VITEST_TEST_PATH?: string; VITEST_TEST_NAME?: string }): string {
  const path = error.VITEST_TEST_PATH
  if (!path) return ''
  return `\n(it came while ${relative(process.cwd(), path)}${error.VITEST_TEST_NAME ? ` > "${error.VITEST_TEST_NAME}"` : ''} ran)`
}

/** Every test's result, and the errors outside any test, as the report holds them. */
export function reportedTests(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): { tests: ReportedTest[]; errors: string[] } {
  const tests: ReportedTest[] = []
  for (const module of modules) {
    const file = module.relativeModuleId
    const loadErrors = module.errors()
    if (loadErrors.length && module.children.size === 0)
      tests.push({ file, name: '(the file failed to load)', state: 'failed', durationMs: 0, failure: loadErrors.map((e) => describeError(e, file)).join('\n\n') })
    for (const test of module.children.allTests()) {
      const result = test.result()
      const errors = result.errors ?? []
      tests.push({
        file,
        name: test.fullName,
        state: result.state,
        durationMs: Math.round(test.diagnostic()?.duration ?? 0),
        failure: errors.length ? errors.map((e) => describeError(e, file)).join('\n\n') : undefined,
      })
    }
  }
  return { tests, errors: unhandled.map((e) => describeError(e, '') + origin(e)) }
}

export default class WorkbookReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): void {
    const out = process.env.WORKBOOK_REPORT
    if (out) writeFileSync(out, JSON.stringify(reportedTests(modules, unhandled)))
  }
}
