/** Where a learner stands in each chapter, measured by running the chapter's tests. */
import { writtenChapters, type Chapter } from './chapters.ts'
import { notImplemented, runTests, type TestResult } from './runner.ts'

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

/** Grade one chapter: the learner's code for it, the reference for the chapters below. */
export async function checkChapter(chapter: Chapter, options: { echo?: boolean; root?: string } = {}): Promise<ChapterResult> {
  const results = await runTests([chapter.tests], { impl: 'chapters', referenceBelow: Number(chapter.id) }, options)
  return { chapter, status: statusOf(results), results }
}

export async function checkAll(root?: string): Promise<ChapterResult[]> {
  const out: ChapterResult[] = []
  for (const chapter of writtenChapters(root)) out.push(await checkChapter(chapter, { root }))
  return out
}
