/**
 * `workbook grade`: grade learners' checkouts with THIS repository's tests.
 *
 * Each checkout is graded in a temporary copy of this workbook (without .git; node_modules is
 * a symlink to ours) into which only the learner's chapters/ is put, so the tests, the test
 * tools, lib/, native/ and the reference are ours, whatever the checkout holds.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { folderOf, ROOT, writtenChapters, type Chapter } from './chapters.ts'
import { junitXml } from './junit.ts'
import { runTests, type TestResult } from './runner.ts'
import { statusOf } from './status.ts'
import { copyWorkbook } from './tree.ts'

/** The counts a report gives for a chapter and for a whole checkout. */
export interface Tally {
  /** 0..1: for a chapter passed / total; for a checkout the mean of its chapters' scores, so every chapter weighs the same */
  score: number
  passed: number
  failed: number
  skipped: number
  total: number
  durationMs: number
}

export interface ChapterReport extends Tally {
  id: string
  folder: string
  title: string
  /** graded with the reference for the chapters below (true) or the learner's code throughout */
  referenceBelow: boolean
  status: 'done' | 'in progress' | 'not started'
  /** things the instructor should know: a missing folder, tests that could not run */
  notes: string[]
  tests: TestResult[]
}

export interface CheckoutReport extends Tally {
  name: string
  checkout: string
  gradedAt: string
  referenceBelow: boolean
  chapters: ChapterReport[]
}

export interface GradeOptions {
  /** chapters to grade; default every written chapter */
  chapters?: Chapter[]
  referenceBelow?: boolean
  /** stop one chapter's tests after this long */
  timeoutMs?: number
  /** called as each chapter starts */
  onChapter?: (c: Chapter) => void
}

const isCheckout = (dir: string): boolean => existsSync(join(dir, 'chapters')) && statSync(join(dir, 'chapters')).isDirectory()

/** The checkouts PATHs name: each PATH is a checkout, or a directory whose subdirectories are. */
export function findCheckouts(paths: string[]): string[] {
  const found: string[] = []
  for (const p of paths.map((p) => resolve(p))) {
    if (!existsSync(p) || !statSync(p).isDirectory()) throw new Error(`${p} is not a directory`)
    if (isCheckout(p)) {
      found.push(p)
      continue
    }
    const subs = readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory() && isCheckout(join(p, d.name)))
      .map((d) => join(p, d.name))
      .sort()
    if (subs.length === 0) throw new Error(`${p} is not a workbook checkout (no chapters/ folder) and holds none: give a learner's clone, or a directory of them`)
    found.push(...subs)
  }
  return found
}

/** Names for the reports, one per checkout, unique. */
export function reportNames(checkouts: string[]): string[] {
  const seen = new Map<string, number>()
  return checkouts.map((c) => {
    const base = basename(c).replace(/[^\w.-]+/g, '_') || 'checkout'
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return n === 1 ? base : `${base}-${n}`
  })
}

/** A learner's file that reaches into solutions/ would be graded as the reference's work. */
const usesReference = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && /\bsolutions\//.test(readFileSync(join(dir, f), 'utf8')))
    .sort()

/**
 * A copy of this workbook with the learner's chapters in it. Chapter folders the checkout does
 * not have (an older clone) keep our starters; the notes say which, and name any learner's
 * file that mentions solutions/.
 */
export function gradingCopy(checkout: string, root = ROOT): { dir: string; notes: Map<string, string[]> } {
  const dir = copyWorkbook(root, 'workbook-grade-', ['chapters'])
  try {
    cpSync(join(root, 'chapters'), join(dir, 'chapters'), { recursive: true })
    const notes = new Map<string, string[]>()
    for (const c of writtenChapters(root)) {
      const folder = folderOf(c)
      const theirs = join(checkout, 'chapters', folder)
      if (!existsSync(theirs)) {
        notes.set(c.id, [`the checkout has no chapters/${folder}: graded the starter`])
        continue
      }
      rmSync(join(dir, 'chapters', folder), { recursive: true, force: true })
      cpSync(theirs, join(dir, 'chapters', folder), { recursive: true, dereference: true })
      const suspicious = usesReference(join(dir, 'chapters', folder))
      if (suspicious.length) notes.set(c.id, [`${suspicious.map((f) => `chapters/${folder}/${f}`).join(', ')} mentions solutions/: look at it by hand`])
    }
    return { dir, notes }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

function chapterReport(c: Chapter, tests: TestResult[], durationMs: number, referenceBelow: boolean, notes: string[]): ChapterReport {
  const count = (s: TestResult['status']) => tests.filter((t) => t.status === s).length
  const passed = count('passed')
  return {
    id: c.id,
    folder: folderOf(c),
    title: c.title,
    referenceBelow,
    status: statusOf(tests),
    score: tests.length === 0 ? 0 : passed / tests.length,
    passed,
    failed: count('failed'),
    skipped: count('skipped'),
    total: tests.length,
    durationMs,
    notes,
    tests,
  }
}

/** Grade one checkout. */
export async function gradeCheckout(checkout: string, name: string, options: GradeOptions = {}, root = ROOT): Promise<CheckoutReport> {
  const started = Date.now()
  const gradedAt = new Date().toISOString()
  const referenceBelow = options.referenceBelow ?? false
  const { dir, notes } = gradingCopy(checkout, root)
  const chapters: ChapterReport[] = []
  try {
    for (const c of options.chapters ?? writtenChapters(root)) {
      options.onChapter?.(c)
      const t0 = Date.now()
      const mode = { impl: 'chapters' as const, referenceBelow: referenceBelow ? Number(c.id) : 0 }
      const chapterNotes = [...(notes.get(c.id) ?? [])]
      let tests: TestResult[]
      try {
        // Stack traces name files in the grading copy, which is about to go: make them relative.
        tests = (await runTests([c.tests], mode, { root: dir, timeoutMs: options.timeoutMs })).map((t) => ({ ...t, failure: t.failure?.replaceAll(`${dir}/`, '') }))
        if (tests.length === 0) chapterNotes.push('no tests ran')
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        chapterNotes.push(`the tests could not run: ${message.split('\n')[0]}`)
        tests = [{ file: c.tests, name: '(the tests could not run)', status: 'failed', failure: message, durationMs: Date.now() - t0 }]
      }
      chapters.push(chapterReport(c, tests, Date.now() - t0, referenceBelow, chapterNotes))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const sum = (k: 'passed' | 'failed' | 'skipped' | 'total') => chapters.reduce((n, c) => n + c[k], 0)
  return {
    name,
    checkout,
    gradedAt,
    referenceBelow,
    score: chapters.length === 0 ? 0 : chapters.reduce((s, c) => s + c.score, 0) / chapters.length,
    passed: sum('passed'),
    failed: sum('failed'),
    skipped: sum('skipped'),
    total: sum('total'),
    durationMs: Date.now() - started,
    chapters,
  }
}

/** Write report.json and junit.xml into `dir`; returns their paths. */
export function writeReports(report: CheckoutReport, dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  const json = join(dir, 'report.json')
  const xml = join(dir, 'junit.xml')
  writeFileSync(json, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(xml, junitXml(report))
  return [json, xml]
}

export interface Summary {
  gradedAt: string
  referenceBelow: boolean
  checkouts: { name: string; checkout: string; score: number; passed: number; failed: number; skipped: number; total: number; chaptersDone: number; durationMs: number; report: string }[]
}

/** The summary of a class: one row per checkout, pointing at its report. Written to DIR/summary.json. */
export function writeSummary(reports: CheckoutReport[], outDir: string): { summary: Summary; file: string } {
  const summary: Summary = {
    gradedAt: reports[0]?.gradedAt ?? new Date().toISOString(),
    referenceBelow: reports[0]?.referenceBelow ?? false,
    checkouts: reports.map((r) => ({
      name: r.name,
      checkout: r.checkout,
      score: r.score,
      passed: r.passed,
      failed: r.failed,
      skipped: r.skipped,
      total: r.total,
      chaptersDone: r.chapters.filter((c) => c.status === 'done').length,
      durationMs: r.durationMs,
      report: join(outDir, r.name, 'report.json'),
    })),
  }
  mkdirSync(outDir, { recursive: true })
  const file = join(outDir, 'summary.json')
  writeFileSync(file, JSON.stringify(summary, null, 2) + '\n')
  return { summary, file }
}
