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

/** Tags that end a word: blocks, table cells, an SVG's texts, and the captions' separate parts. */
const WORD_BREAK = /<\/?(?:p|li|ol|ul|h\d|div|td|th|tr|pre|figure|figcaption|blockquote|br|text|tspan|title|svg|g|button)\b[^>]*>|<span class="(?:kicker|label|lines|region-name)">/g

/** The words of some HTML as a reader sees them: never glued across a block or an SVG label. */
export const plainText = (html: string): string => stripTags(html.replace(WORD_BREAK, ' $&')).replace(/\s+/g, ' ').trim()

/** Split a rendered page into sections at its h2 and h3 headings. */
export function sectionsOf(html: string, page: number): SearchSection[] {
  const sections: SearchSection[] = []
  const heading = /<h([1-3]) id="([^"]+)">([\s\S]*?)<\/h\1>/g
  let last = { t: '', a: '', start: 0 }
  const push = (end: number): void => {
    const x = plainText(html.slice(last.start, end))
    if (x || last.t) sections.push({ p: page, t: last.t, a: last.a, x })
  }
  for (let m; (m = heading.exec(html)); ) {
    push(m.index)
    last = { t: plainText(m[3].replace(/<span class="kicker">.*?<\/span>/, '')), a: m[2], start: m.index + m[0].length }
  }
  push(html.length)
  return sections
}

export function searchIndexScript(pages: SearchPage[], sections: SearchSection[]): string {
  return `window.BOOK_SEARCH = ${JSON.stringify({ pages, sections })};\n`
}
