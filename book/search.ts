/**
 * The search index, built with the book: one entry per section (the text under an h2/h3) of
 * every page. It is written as a script (search-index.js) that the reader's browser loads the
 * first time the search box is used, so search works without a server, even from file://.
 * The ranking lives in assets/book.js.
 */
import { stripTags } from './markdown.ts'

export interface SearchPage {
  url: string
  title: string
  /** how much a match here counts: chapters 1, appendices less */
  weight: number
}

export interface SearchSection {
  /** index into pages */
  p: number
  /** section title ('' for the text before the first heading) */
  t: string
  /** anchor id */
  a: string
  /** plain text */
  x: string
}

/** Split a rendered page into sections at its h2 and h3 headings. */
export function sectionsOf(html: string, page: number): SearchSection[] {
  const sections: SearchSection[] = []
  const heading = /<h([1-3]) id="([^"]+)">([\s\S]*?)<\/h\1>/g
  let last = { t: '', a: '', start: 0 }
  const push = (end: number): void => {
    const x = stripTags(html.slice(last.start, end)).replace(/\s+/g, ' ').trim()
    if (x || last.t) sections.push({ p: page, t: last.t, a: last.a, x })
  }
  for (let m; (m = heading.exec(html)); ) {
    push(m.index)
    last = { t: stripTags(m[3]).replace(/\s+/g, ' ').trim(), a: m[2], start: m.index + m[0].length }
  }
  push(html.length)
  return sections
}

export function searchIndexScript(pages: SearchPage[], sections: SearchSection[]): string {
  return `window.BOOK_SEARCH = ${JSON.stringify({ pages, sections })};\n`
}
