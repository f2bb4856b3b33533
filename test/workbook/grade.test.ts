/**
 * `workbook grade`, driven as an instructor drives it: a class of learners' checkouts graded with
 * the instructor's copy of the workbook, reports read back, JUnit XML validated.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { CheckoutReport, Summary } from '../../workbook/grade.ts'
import { FIRST, SECOND, solve, workbook, workbookCopy } from './fixture.ts'

const json = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T
const gradingCopies = () => readdirSync(tmpdir()).filter((d) => d.startsWith('workbook-grade-'))

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workbook-class-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A class: alice solved chapter 01; bob solved chapter 02 but not 01, and made chapter 01's
 * tests pass trivially in his clone; carol's clone has no chapter 02, and her chapter 01 only
 * re-exports the reference.
 */
async function classroom(): Promise<string> {
  const dir = tempDir()
  const alice = await workbookCopy()
  solve(alice, FIRST)
  const bob = await workbookCopy()
  solve(bob, SECOND)
  writeFileSync(join(bob, `test/${FIRST}/process.test.ts`), "import { it } from 'vitest'\nit('passes', () => {})\n")
  const carol = await workbookCopy()
  rmSync(join(carol, `chapters/${SECOND}`), { recursive: true })
  writeFileSync(join(carol, `chapters/${FIRST}/process.ts`), `export * from '../../solutions/${FIRST}/process.ts'\n`)
  for (const [name, from] of Object.entries({ alice, bob, carol })) renameSync(from, join(dir, name))
  return dir
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name) })

interface Case {
  name: string
  classname: string
  time: string
  failure?: { message: string; type: string; '#text': string }
  skipped?: string
}
interface Suite {
  name: string
  tests: string
  failures: string
  skipped: string
  time: string
  properties: { property: { name: string; value: string }[] }
  testcase: Case[]
}

/** The JUnit file, validated, with the numbers of each suite checked against its report. */
function junit(file: string, report: CheckoutReport): Suite[] {
  const xml = readFileSync(file, 'utf8')
  expect(XMLValidator.validate(xml), 'junit.xml must be well-formed XML').toBe(true)
  const suites = (parser.parse(xml) as { testsuites: { tests: string; testsuite: Suite[] } }).testsuites
  expect(Number(suites.tests)).toBe(report.total)
  expect(suites.testsuite.map((s) => s.name)).toEqual(report.chapters.map((c) => c.folder))
  suites.testsuite.forEach((s, i) => {
    const c = report.chapters[i]!
    expect([s.tests, s.failures, s.skipped].map(Number), `${s.name}: tests, failures, skipped`).toEqual([c.total, c.failed, c.skipped])
    expect(s.testcase).toHaveLength(c.total)
    expect(s.testcase.filter((t) => t.failure)).toHaveLength(c.failed)
    expect(s.properties.property).toContainEqual({ name: 'score', value: String(c.score) })
  })
  return suites.testsuite
}

describe('workbook grade', () => {
  it("grades a directory of checkouts with the instructor's tests: a report each and a summary", { timeout: 300_000 }, async () => {
    const instructor = await workbookCopy()
    const students = await classroom()
    const out = join(tempDir(), 'reports')
    const before = gradingCopies()
    const run = await workbook(instructor, ['grade', '--out', out, students])
    expect(run.exitCode, `some tests fail, so grade exits 1\n${run.stderr}`).toBe(1)
    expect(run.stdout).not.toMatch(/\x1b\[/)
    // Only copies this run made count: other runs on the machine make and remove their own.
    expect(gradingCopies().filter((d) => !before.includes(d)), 'the grading copies are removed').toEqual([])

    const alice = json<CheckoutReport>(join(out, 'alice/report.json'))
    expect(alice.chapters.map((c) => [c.id, c.status, c.score])).toEqual([
      ['01', 'done', 1],
      ['02', 'not started', 0],
    ])
    expect(alice.chapters[0]!.tests.every((t) => t.status === 'passed' && t.durationMs >= 0)).toBe(true)

    const bob = json<CheckoutReport>(join(out, 'bob/report.json'))
    expect(bob.chapters[0]!.status, "bob's own chapter 01 tests do not count: the instructor's do").toBe('not started')
    expect(bob.chapters[0]!.total).toBe(alice.chapters[0]!.total)
    const bobSecond = bob.chapters[1]!
    expect(bobSecond.status, "without --reference-below, chapter 02 runs on bob's chapter 01").toBe('in progress')
    expect(bobSecond.tests.find((t) => t.status === 'failed')?.failure).toMatch(/^NotImplementedError: exitCode\(\)/)

    const carol = json<CheckoutReport>(join(out, 'carol/report.json'))
    expect(carol.chapters[0]!.notes).toEqual([`chapters/${FIRST}/process.ts mentions solutions/: look at it by hand`])
    expect(carol.chapters[1]!.notes).toEqual([`the checkout has no chapters/${SECOND}: graded the starter`])

    const suites = junit(join(out, 'bob/junit.xml'), bob)
    const failure = suites[0]!.testcase[0]!.failure!
    expect(failure.type).toBe('NotImplementedError')
    expect(failure['#text'], 'the teaching message is in the report').toMatch(/is not written yet/)
    expect(failure['#text'], 'stack traces name files as in the workbook, not in the grading copy').toMatch(/\(chapters\/01-process\/process\.ts:\d+:\d+\)/)
    junit(join(out, 'alice/junit.xml'), alice)

    const summary = json<Summary>(join(out, 'summary.json'))
    expect(summary.checkouts.map((c) => [c.name, c.chaptersDone])).toEqual([
      ['alice', 1],
      ['bob', 0],
      ['carol', 1],
    ])
    expect(run.stdout).toMatch(/Summary\n +checkout +chapters done +passed +failed +skipped +score +time\n +alice +1\/2 /)
  })

  it('grades one chapter with the reference standing in for the chapters below it', { timeout: 180_000 }, async () => {
    const instructor = await workbookCopy()
    const bob = await workbookCopy()
    solve(bob, SECOND)
    const out = join(tempDir(), 'reports')
    const run = await workbook(instructor, ['grade', '--chapter', '2', '--reference-below', '--out', out, bob])
    expect(run.exitCode, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toMatch(new RegExp(`✓ ${SECOND} +(\\d+) +0 +0 +100%`))

    const report = json<CheckoutReport>(join(out, 'report.json'))
    expect(report.referenceBelow).toBe(true)
    expect(report.chapters.map((c) => [c.id, c.status, c.referenceBelow])).toEqual([['02', 'done', true]])
    const [suite] = junit(join(out, 'junit.xml'), report)
    expect(suite!.properties.property).toContainEqual({ name: 'mode', value: "learner's code, reference below 02" })
  })

  it('says what to give it when the path is not a checkout', async () => {
    const instructor = await workbookCopy()
    const empty = tempDir()
    const run = await workbook(instructor, ['grade', empty])
    expect(run.exitCode).toBe(2)
    expect(run.stderr.trim()).toBe(`workbook: ${empty} is not a workbook checkout (no chapters/ folder) and holds none: give a learner's clone, or a directory of them`)
  })
})
