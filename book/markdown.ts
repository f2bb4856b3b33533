/**
 * Markdown to HTML with marked: headings with anchors, code highlighted with highlight.js at
 * build time (the reader's browser runs no highlighter), included regions with a caption,
 * and links checked and rewritten to the book's own pages.
 */
import hljs from 'highlight.js'
import { Marked, type Tokens } from 'marked'
import type { CodeInclude, Region } from './includes.ts'

export interface Heading {
  depth: number
  /** the heading as plain text */
  text: string
  id: string
}

/** What a link in the text points to, once the builder has looked. */
export type LinkTarget = { href: string } | { error: string }

export interface RenderContext {
  /** the included regions, by the N of an `@include:N` fence */
  includes?: CodeInclude[]
  /** the href for a region on its file's source page, or null for none */
  sourceHref?: (region: Region) => string | null
  /** rewrite a relative link; absolute URLs and #anchors never reach it */
  resolveLink?: (href: string) => LinkTarget
  /** expand a short link (`moby:PATH`, `man:NAME(N)`) to its URL; null when it is not one */
  expandLink?: (href: string) => string | { error: string } | null
  /** a line above the page's h1, e.g. "Chapter 01" */
  kicker?: string
}

export interface Rendered {
  html: string
  headings: Heading[]
  /** links that point nowhere, with the reason */
  brokenLinks: { href: string; error: string }[]
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export const stripTags = (html: string): string =>
  html.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#(x?)([0-9a-f]+);/gi, (_, hex: string, n: string) => String.fromCodePoint(parseInt(n, hex ? 16 : 10))).replace(/&amp;/g, '&')

export function slugify(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}_]+/gu, '-').replace(/^-+|-+$/g, '') || 'section'
}

const ALIASES: Record<string, string> = { console: 'shell', sh: 'bash', ts: 'typescript', text: 'plaintext', txt: 'plaintext' }

/** Highlighted HTML for `code` in `language` (plain, escaped, when the language is unknown). */
export function highlight(code: string, language: string): string {
  if (language === 'console') return highlightShell(code, true)
  if (language === 'sh' || language === 'bash' || language === 'shell') return highlightShell(code, false)
  const lang = ALIASES[language] ?? language
  if (!lang || lang === 'plaintext' || !hljs.getLanguage(lang)) return escapeHtml(code)
  return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value
}

const span = (cls: string, text: string): string => `<span class="${cls}">${escapeHtml(text)}</span>`
const SHELL_TOKEN = /(\s+)|((?<=^|\s)#.*$)|('[^']*'?|"(?:[^"\\]|\\.)*"?)|(\|\||&&|[|;&()]|\$\(|<<-?|>>?|<)|(\$\{?\w+\}?)|([^\s'"|;&()<>$]+|\$)/g
const HEREDOC = /<<-?\s*(['"]?)([\w.-]+)\1/

/**
 * Shell, highlighted the way a reader parses it: only the word in command position is a
 * command (so `--rm`, `test/03-rootfs` or `cat` as an argument are not), options, strings,
 * variables and comments. In a console block (`console`) only the lines after a `$ ` or `# `
 * prompt are commands, the rest is output; a here-document's body is plain text either way.
 */
export function highlightShell(code: string, prompts: boolean): string {
  const out: string[] = []
  let continued = false
  let heredoc: string | null = null
  for (const line of code.split('\n')) {
    if (heredoc !== null) {
      out.push(escapeHtml(line))
      if (line.trim() === heredoc) heredoc = null
      continue
    }
    const prompt = prompts ? /^[$#] /.exec(line)?.[0] : ''
    if (prompts && !prompt && !continued) {
      out.push(escapeHtml(line))
      continue
    }
    const body = line.slice(prompt?.length ?? 0)
    let command = !continued
    let html = prompt ? span('hljs-meta prompt_', prompt) : ''
    for (const m of body.matchAll(SHELL_TOKEN)) {
      const [token, space, comment, string, operator, variable] = m
      if (space) html += token
      else if (comment) html += span('hljs-comment', token)
      else if (string) html += span('hljs-string', token)
      else if (operator) {
        html += escapeHtml(token)
        if (!/^[<>]/.test(token)) command = true
      } else if (variable) html += span('hljs-variable', token)
      else if (command && !/^\w+=/.test(token) && token !== '\\') {
        html += span('hljs-built_in', token)
        command = false
      } else html += token.startsWith('-') ? span('hljs-attr', token) : escapeHtml(token)
    }
    out.push(html)
    continued = body.trimEnd().endsWith('\\')
    heredoc = HEREDOC.exec(body)?.[2] ?? null
  }
  return out.join('\n')
}

const LABELS: Record<CodeInclude['kind'], string> = { starter: 'Starter', solution: 'Reference solution', native: 'Native helper' }

/** Lines as blocks, so that a wrapped line's continuation can be indented (book.css). */
const asLines = (lines: string[]): string => lines.map((l, i) => `<span class="line">${l}${i < lines.length - 1 ? '\n' : ''}</span>`).join('')

function codeBlock(code: string, language: string, caption = '', classes = '', id = ''): string {
  const lang = ALIASES[language] ?? language
  const body = `<pre><code class="hljs language-${escapeHtml(lang || 'plaintext')}">${asLines(highlightLines(code, language))}</code></pre>`
  const tag = caption ? 'figure' : 'div'
  return `<${tag}${id ? ` id="${id}"` : ''} class="code-block${classes}" data-lang="${escapeHtml(language || 'text')}">${caption}${body}</${tag}>\n`
}

export function render(markdown: string, context: RenderContext = {}): Rendered {
  const headings: Heading[] = []
  const brokenLinks: Rendered['brokenLinks'] = []
  const ids = new Map<string, number>()
  const uniqueId = (base: string): string => {
    const n = ids.get(base) ?? 0
    ids.set(base, n + 1)
    return n ? `${base}-${n}` : base
  }

  const marked = new Marked({ gfm: true })
  marked.use({
    renderer: {
      heading(token: Tokens.Heading) {
        let tokens = token.tokens
        let explicit: string | undefined
        // "## Title {#id}" sets the anchor
        const last = tokens[tokens.length - 1]
        const m = last?.type === 'text' ? /\s*\{#([\w-]+)\}\s*$/.exec(last.raw) : null
        if (m && last) {
          explicit = m[1]
          const raw = last.raw.slice(0, m.index)
          tokens = [...tokens.slice(0, -1), { ...last, raw, text: raw } as Tokens.Text]
        }
        const inner = this.parser.parseInline(tokens)
        const text = stripTags(inner).trim()
        const id = uniqueId(explicit ?? slugify(text))
        headings.push({ depth: token.depth, text, id })
        const kicker = token.depth === 1 && context.kicker ? `<span class="kicker">${escapeHtml(context.kicker)}</span>` : ''
        return `<h${token.depth} id="${id}">${kicker}<a class="heading-link" href="#${id}">${inner}</a></h${token.depth}>\n`
      },
      code(token: Tokens.Code) {
        const info = (token.lang ?? '').trim()
        const [language = '', ...rest] = info.split(/\s+/)
        const inc = /^@include:(\d+)$/.exec(rest.join(' '))
        const include = inc ? context.includes?.[Number(inc[1])] : undefined
        if (!include) return codeBlock(token.text, language)
        const { region, kind } = include
        const href = context.sourceHref?.(region)
        const where = `${escapeHtml(region.file)}<span class="region-name">#${escapeHtml(region.name)}</span>`
        const file = href ? `<a class="source-link" href="${escapeHtml(href)}">${where}</a>` : `<span class="source-link">${where}</span>`
        const lines = `<span class="lines">lines ${region.start + 1}–${region.end - 1}</span>`
        const caption = `<figcaption><span class="label">${LABELS[kind]}</span>${file}${lines}</figcaption>`
        return codeBlock(token.text, include.language, caption, ` include kind-${kind}`, uniqueId(`code-${region.name}`))
      },
      link(token: Tokens.Link) {
        const text = this.parser.parseInline(token.tokens)
        const title = token.title ? ` title="${escapeHtml(token.title)}"` : ''
        const expanded = context.expandLink?.(token.href) ?? token.href
        if (typeof expanded !== 'string') {
          brokenLinks.push({ href: token.href, error: expanded.error })
          return `<span class="broken-link">${text}</span>`
        }
        const href = expanded
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return `<a class="external" href="${escapeHtml(href)}"${title} rel="noopener">${text}</a>`
        if (href.startsWith('#') || !context.resolveLink) return `<a href="${escapeHtml(href)}"${title}>${text}</a>`
        const target = context.resolveLink(href)
        if ('error' in target) {
          brokenLinks.push({ href, error: target.error })
          return `<span class="broken-link">${text}</span>`
        }
        return `<a href="${escapeHtml(target.href)}"${title}>${text}</a>`
      },
      blockquote(token: Tokens.Blockquote) {
        // "> **What changed since.** ..." is a box of its own: where Docker has moved on
        const inner = this.parser.parse(token.tokens)
        return `<blockquote${inner.startsWith('<p><strong>What changed since') ? ' class="changed"' : ''}>\n${inner}</blockquote>\n`
      },
      codespan(token: Tokens.Codespan) {
        // short code never breaks at its hyphens (`--memory-swap`); long code still wraps
        return `<code${token.text.length <= 28 ? ' class="nowrap"' : ''}>${escapeHtml(token.text)}</code>`
      },
      table(token: Tokens.Table) {
        // wide tables scroll on a phone instead of widening the page
        const header = token.header.map((c) => `<th${c.align ? ` style="text-align:${c.align}"` : ''}>${this.parser.parseInline(c.tokens)}</th>`).join('')
        const rows = token.rows.map((r) => `<tr>${r.map((c) => `<td${c.align ? ` style="text-align:${c.align}"` : ''}>${this.parser.parseInline(c.tokens)}</td>`).join('')}</tr>`).join('\n')
        return `<div class="table-wrap"><table><thead><tr>${header}</tr></thead><tbody>${rows}</tbody></table></div>\n`
      },
    },
  })
  const html = marked.parse(markdown, { async: false })
  return { html, headings, brokenLinks }
}

/**
 * Highlighted source split into lines, for the source pages. highlight.js spans may cross
 * lines (a block comment), so each line closes the spans still open and the next reopens them.
 */
export function highlightLines(code: string, language: string): string[] {
  const html = highlight(code, language)
  const lines: string[] = []
  const open: string[] = []
  let current = ''
  for (const part of html.split(/(<span[^>]*>|<\/span>|\n)/)) {
    if (part === '\n') {
      lines.push(current + '</span>'.repeat(open.length))
      current = open.join('')
    } else {
      if (part.startsWith('<span')) open.push(part)
      else if (part === '</span>') open.pop()
      current += part
    }
  }
  lines.push(current + '</span>'.repeat(open.length))
  return lines
}
