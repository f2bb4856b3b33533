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

/** "2 of 9 hints used: npx workbook hint 3 for the next", or nothing for a chapter without hints. */
export function hintsLine(chapter: Chapter, root = ROOT): string | undefined {
  const total = chapter.hints.length
  if (total === 0) return undefined
  const used = Math.min(loadState(root).hints[chapter.id] ?? 0, total)
  if (used === total) return `all ${total} hints used (npx workbook hint ${Number(chapter.id)} shows them again)`
  return `${used} of ${total} hints used: npx workbook hint ${Number(chapter.id)} for the next`
}
