/** Where a learner stands in each chapter, measured by running the chapter's tests. */
import { ROOT, writtenChapters, type Chapter } from './chapters.ts'
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

/** Every written chapter's result: remembered where still valid, run otherwise. */
export async function checkAll(root = ROOT, onRun: (c: Chapter) => void = () => {}): Promise<{ chapter: Chapter; saved: SavedResult }[]> {
  const out: { chapter: Chapter; saved: SavedResult }[] = []
  for (const chapter of writtenChapters(root)) {
    let saved = savedResult(chapter, root)
    if (!saved) {
      onRun(chapter)
      await checkChapter(chapter, { root })
      saved = loadState(root).results[chapter.id]!
    }
    out.push({ chapter, saved })
  }
  return out
}

/**
 * The chapter to work on: the first written one that does not pass. Chapters are run in order
 * (remembered results are used where valid) only until one is found.
 */
export async function currentChapter(root = ROOT, onRun: (c: Chapter) => void = () => {}): Promise<Chapter | undefined> {
  for (const chapter of writtenChapters(root)) {
    let status = savedResult(chapter, root)?.status
    if (!status) {
      onRun(chapter)
      status = (await checkChapter(chapter, { root })).status
    }
    if (status !== 'done') return chapter
  }
  return undefined
}

/** The chapter to work on by remembered results alone (no test runs): for `hint` without N. */
export function rememberedCurrent(root = ROOT): Chapter | undefined {
  const chapters = writtenChapters(root)
  const state = loadState(root)
  return chapters.find((c) => state.results[c.id]?.status !== 'done') ?? chapters.at(-1)
}
