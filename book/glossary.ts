/**
 * The first mention of each glossary term in a chapter's prose becomes a link to its entry
 * in the glossary, so a reader meets the definition where the word first appears.
 */
import { escapeHtml } from './markdown.ts'

export interface Term {
  text: string
  id: string
}

/** The terms of glossary.md: its `### Term {#id}` headings. */
export function glossaryTerms(markdown: string): Term[] {
  return [...markdown.matchAll(/^### (.+?) \{#([\w-]+)\}$/gm)].map((m) => ({ text: m[1]!, id: m[2]! }))
}

/** Elements whose text is never linked: code, links, headings, figures. */
const SKIP = new Set(['a', 'code', 'pre', 'h1', 'h2', 'h3', 'h4', 'figure', 'svg', 'figcaption', 'kbd', 'table'])

/** `html` with the first mention of each term, in a paragraph or a list item, linked to `glossary.html#id`. */
export function linkGlossaryTerms(html: string, terms: Term[]): string {
  const todo = new Map(terms.map((t) => [t.id, new RegExp(`(^|[^\\w-])(${t.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}s?)(?![\\w-])`, 'i')]))
  const open: string[] = []
  return html.split(/(<[^>]+>)/).map((part) => {
    const tag = /^<(\/?)([a-z][\w-]*)[^>]*?(\/?)>$/i.exec(part)
    if (tag) {
      const name = tag[2]!.toLowerCase()
      if (tag[1]) { const at = open.lastIndexOf(name); if (at >= 0) open.length = at }
      else if (!tag[3] && !['br', 'img', 'input', 'hr', 'meta', 'link', 'path', 'rect', 'circle'].includes(name)) open.push(name)
      return part
    }
    if (!part.trim() || open.some((n) => SKIP.has(n)) || !open.some((n) => n === 'p' || n === 'li')) return part
    let text = part
    for (const [id, re] of todo) {
      const m = re.exec(text)
      if (!m) continue
      const at = m.index + m[1]!.length
      text = `${text.slice(0, at)}<a class="term" href="glossary.html#${escapeHtml(id)}">${m[2]}</a>${text.slice(at + m[2]!.length)}`
      todo.delete(id)
      break // one link per piece of text: the inserted tag must not be searched again
    }
    return text
  }).join('')
}
