/** Where a learner stands in each chapter, measured by running the chapter's tests. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { chapterFiles, ROOT, writtenChapters, type Chapter } from './chapters.ts'
import { fingerprint } from './fingerprint.ts'
import { notImplemented, runTests, type RunOptions, type TestResult } from './runner.ts'
import { loadState, updateState, type SavedResult } from './state.ts'

export type Status = 'done' | 'in progress' | 'not started'

export interface ChapterResult {
  chapter: Chapter
  status: Status
  results: TestResult[]
}

export function statusOf(results: TestResult[]): Status {
  if (results.length > 0 && results.every((t) => t.status === 'passed')) return 'done'
  if (results.every(notImplemented)) return 'not started'
  return 'in progress'
}

/**
 * Grade one chapter: the learner's code for it, the reference for the chapters below. The
 * result is remembered in .workbook/state.json under the chapter's fingerprint.
 */
export async function checkChapter(chapter: Chapter, options: RunOptions = {}): Promise<ChapterResult> {
  const root = options.root ?? ROOT
  const key = fingerprint(chapter, root)
  const results = await runTests([chapter.tests], { impl: 'chapters', referenceBelow: Number(chapter.id) }, options)
  const status = statusOf(results)
  const passed = results.filter((t) => t.status === 'passed').length
  updateState((s) => void (s.results[chapter.id] = { key, status, passed, total: results.length }), root)
  return { chapter, status, results }
}

/** The chapter's last result, if nothing it depends on has changed since. */
export function savedResult(chapter: Chapter, root = ROOT): SavedResult | undefined {
  const saved = loadState(root).results[chapter.id]
  return saved && saved.key === fingerprint(chapter, root) ? saved : undefined
}

/** How many starter functions in the chapter's folder still throw NotImplementedError. */
export function stubsLeft(chapter: Chapter, root = ROOT): number {
  return chapterFiles(chapter, root).reduce((n, f) => n + (readFileSync(join(root, f), 'utf8').match(/throw new NotImplementedError\(/g)?.length ?? 0), 0)
}

export interface Standing {
  chapter: Chapter
  /** its result, remembered or just measured; none for a later chapter not run yet */
  saved?: SavedResult
  /** starter functions left to write (stubsLeft) */
  stubs: number
}

/**
 * Where the learner stands, cheaply: chapters are run in order (remembered results are used
 * where still valid) up to the first that does not pass, the current one. A later chapter is
 * run only if all its functions are written; otherwise its remembered result, or its count of
 * functions left, stands for it. `fresh` is the current chapter's full result if it just ran.
 */
export async function standings(root = ROOT, onRun: (c: Chapter) => void = () => {}): Promise<{ all: Standing[]; current?: Chapter; fresh?: ChapterResult }> {
  const all: Standing[] = []
  let current: Chapter | undefined
  let fresh: ChapterResult | undefined
  for (const chapter of writtenChapters(root)) {
    const stubs = stubsLeft(chapter, root)
    let saved = savedResult(chapter, root)
    if (!saved && (!current || stubs === 0)) {
      onRun(chapter)
      const result = await checkChapter(chapter, { root })
      saved = loadState(root).results[chapter.id]
      if (!current && result.status !== 'done') fresh = result
    }
    if (!current && saved?.status !== 'done') current = chapter
    all.push({ chapter, saved, stubs })
  }
  return { all, current, fresh }
}

/** The chapter to work on by remembered results alone (no test runs): for `hint` without N. */
export function rememberedCurrent(root = ROOT): Chapter | undefined {
  const chapters = writtenChapters(root)
  const state = loadState(root)
  return chapters.find((c) => state.results[c.id]?.status !== 'done') ?? chapters.at(-1)
}
