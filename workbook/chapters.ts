/** The chapter metadata (chapters.json), read by the CLI, the grader and the book. */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface Chapter {
  id: string
  slug: string
  title: string
  /** the piece of real Docker the chapter mirrors */
  realWorld: string
  /** folder of the tests that grade it */
  tests: string
  hints: string[]
  /** on the map, not written yet: no folders, no tests */
  planned?: boolean
}

/** "01-process" */
export const folderOf = (c: Chapter): string => `${c.id}-${c.slug}`

export function loadChapters(root = ROOT): Chapter[] {
  return JSON.parse(readFileSync(`${root}/workbook/chapters.json`, 'utf8')) as Chapter[]
}

/** The chapters that exist: written, with starters, solutions and tests. */
export const writtenChapters = (root = ROOT): Chapter[] => loadChapters(root).filter((c) => !c.planned)

/** Find a chapter by "3", "03", "03-rootfs" or "rootfs". */
export function findChapter(key: string, chapters = loadChapters()): Chapter {
  const found = chapters.find(
    (c) => c.id === key.padStart(2, '0') || c.slug === key || folderOf(c) === key,
  )
  if (!found) {
    const list = chapters.map((c) => `${c.id} ${c.slug}`).join(', ')
    throw new Error(`no chapter "${key}": the chapters are ${list}`)
  }
  return found
}

/** The files a learner edits in a chapter, relative to the root: its .ts modules. */
export function chapterFiles(c: Chapter, root = ROOT): string[] {
  const dir = `chapters/${folderOf(c)}`
  if (!existsSync(`${root}/${dir}`)) return []
  return readdirSync(`${root}/${dir}`, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => `${dir}/${f}`)
}

/**
 * What a learner reads once the chapter passes: how the real tools do what it asked
 * (solutions/NN-slug/debrief.md, beside the reference because it gives the answers away).
 */
export const debriefOf = (c: Chapter): string => `solutions/${folderOf(c)}/debrief.md`

/** The lines that close a chapter: the debrief to read, then the reference to compare with. */
export const doneLines = (c: Chapter): string[] => [
  `Chapter ${c.id} is done. Now read how the real tools do it: ${debriefOf(c)}`,
  `and compare your code with the reference: solutions/${folderOf(c)}/`,
]
