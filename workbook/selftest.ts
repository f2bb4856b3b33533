/**
 * `npm test`: everything that must hold for the workbook itself.
 *   1. starters, solutions and tools type-check;
 *   2. the metadata, folders, imports map and starter TODOs agree;
 *   3. every test passes against the reference solutions (and none is skipped under CI);
 *   4. every starter fails each of its chapter's tests with NotImplementedError, and nothing
 *      else, with the reference standing in for the chapters below it;
 *   5. every mistake a chapter lists (solutions/NN-slug/mistakes.json) is caught by a test
 *      whose message names its cause, and every chapter lists at least five.
 * It ends with one line: "selftest: N passed, N failed".
 */
import chalk from 'chalk'
import { execa } from 'execa'
import { folderOf, ROOT, writtenChapters } from './chapters.ts'
import { consistencyProblems } from './consistency.ts'
import { checkAllMistakes, MIN_MISTAKES, type MistakeResult } from './mistakes.ts'
import { gate, inOrder } from './inorder.ts'
import { notImplemented, runTests, type TestResult } from './runner.ts'

let passed = 0
let failed = 0
/** what failed, repeated above the closing line: a long run's log is often read from its end */
const failures: string[] = []

function report(ok: boolean, what: string, details: string[] = []): void {
  if (ok) passed++
  else {
    failed++
    failures.push(what, ...details.slice(0, 10).map((line) => `    ${line}`))
  }
  console.log(`${ok ? chalk.green('✓') : chalk.red('✗')} ${what}`)
  for (const line of details.slice(0, 20)) console.log(`    ${line}`)
  if (details.length > 20) console.log(`    ... and ${details.length - 20} more`)
}

async function typecheck(): Promise<void> {
  const tsc = await execa('node_modules/.bin/tsc', ['--noEmit', '-p', '.'], { cwd: ROOT, reject: false, all: true })
  report(tsc.exitCode === 0, 'starters, solutions and tools type-check (tsc --noEmit)', tsc.all ? tsc.all.split('\n') : [])
}

async function referencePasses(): Promise<void> {
  console.log(chalk.bold('\nAll tests against the reference solutions'))
  const results = await runTests([], { impl: 'solutions' }, { echo: true })
  const bad = results.filter((t) => t.status === 'failed')
  const skipped = results.filter((t) => t.status === 'skipped')
  passed += results.length - bad.length - skipped.length
  failed += bad.length
  // A skipped test is not a passed one; on CI it is a failure.
  if (process.env.CI === 'true') failed += skipped.length
  report(bad.length === 0, `reference: ${results.length - bad.length - skipped.length} of ${results.length} tests pass`, bad.map((t) => `${t.file}: ${t.name}${t.failure ? `: ${t.failure.split('\n')[0]!.slice(0, 300)}` : ''}`))
  if (skipped.length) report(process.env.CI !== 'true', `${skipped.length} tests skipped`, skipped.map((t) => `${t.file}: ${t.name}`))
}

async function startersFail(runs: Promise<TestResult[]>[]): Promise<void> {
  console.log(chalk.bold('\nEvery starter fails its own chapter\'s tests with NotImplementedError'))
  const chapters = writtenChapters()
  for (const [i, chapter] of chapters.entries()) {
    const results: TestResult[] = await runs[i]!
    const wrong = results.filter((t) => !notImplemented(t))
    report(
      results.length > 0 && wrong.length === 0,
      `${folderOf(chapter)}: starter fails ${results.length - wrong.length} of ${results.length} tests with NotImplementedError`,
      wrong.map((t) =>
        t.failure
          ? `${t.name}: failed with "${t.failure.split('\n')[0]}" (catch expected errors with test/support/errors.ts's caught(), which lets NotImplementedError through)`
          : `${t.name}: ${t.status} (this test does not exercise the learner's code)`,
      ),
    )
  }
}

/** vitest runs at once: each mostly waits on processes and daemons (with three, a 2-core machine was half idle) */
const RUNS_AT_ONCE = 4

async function mistakesCaught(runs: Promise<MistakeResult[]>[]): Promise<void> {
  console.log(chalk.bold('\nEvery mistake a chapter lists is caught, with a message that names its cause'))
  const chapters = writtenChapters()
  for (const [i, chapter] of chapters.entries()) {
    const results = await runs[i]!
    for (const r of results) report(r.caught, `${folderOf(chapter)} ${r.mistake.id} (${r.seconds} s): ${r.detail}`)
    report(results.length >= MIN_MISTAKES, `${folderOf(chapter)} lists ${results.length} mistakes (at least ${MIN_MISTAKES})`)
  }
}

/** The whole self-test; sets process.exitCode. */
export async function selftest(): Promise<void> {
  console.log(chalk.bold('Workbook self-test'))
  await typecheck()
  const problems = consistencyProblems()
  report(problems.length === 0, 'chapters.json, folders, imports and starter TODOs agree', problems)
  await referencePasses()
  // The starters' runs and the mistakes' checkers share one gate: the checkers start as places
  // free up, while the last starters still run; each chapter prints in the chapters' order.
  const through = gate(RUNS_AT_ONCE)
  const chapters = writtenChapters()
  const starters = inOrder(chapters.map((chapter) => () => runTests([chapter.tests], { impl: 'chapters', referenceBelow: Number(chapter.id) })), through)
  const runs = checkAllMistakes(chapters, ROOT, through, RUNS_AT_ONCE)
  await startersFail(starters)
  await mistakesCaught(runs.byChapter)
  await runs.over // the checkers' copies of the workbook are removed before the process ends
  if (failures.length) console.log(`\n${chalk.red('What failed:')}\n${failures.map((line) => `  ${line}`).join('\n')}`)
  console.log(`\nselftest: ${passed} passed, ${failed} failed`)
  process.exitCode = failed === 0 ? 0 : 1
}

