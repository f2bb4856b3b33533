/** Hints, revealed one at a time and remembered in .workbook/state.json. */
import { ROOT, type Chapter } from './chapters.ts'
import { loadState, updateState } from './state.ts'

/** Reveal one more hint (the last stays the last): how many are shown now, and all of them. */
export function nextHint(chapter: Chapter, root = ROOT): { shown: number; hints: string[] } {
  let shown = 0
  updateState((s) => {
    shown = Math.min((s.hints[chapter.id] ?? 0) + 1, chapter.hints.length)
    s.hints[chapter.id] = shown
  }, root)
  return { shown, hints: chapter.hints }
}

/** "3 of 13 hints left" (or that none are left), for `check` and `watch`. */
export function hintsLeft(chapter: Chapter, root = ROOT): string {
  const left = chapter.hints.length - Math.min(loadState(root).hints[chapter.id] ?? 0, chapter.hints.length)
  return left === 0 ? 'no hints left' : `${left} of ${chapter.hints.length} hints left`
}
