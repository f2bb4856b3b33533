/** The HTML around every page: top bar, search, table of contents, prev/next. */
import { escapeHtml, type Heading } from './markdown.ts'

export const BOOK_TITLE = 'Build your own Docker'
export const BOOK_SUBTITLE = 'in TypeScript, on a real kernel'

export interface Page {
  /** output file, relative to the site, e.g. "01-process.html" or "source/native/helper.c.html" */
  file: string
  title: string
  kind: 'front' | 'chapter' | 'appendix' | 'source' | 'print'
  /** "01" for chapters, "A" for appendices */
  number?: string
  html: string
  headings: Heading[]
}

export interface TocEntry {
  title: string
  number?: string
  /** absent for planned chapters */
  file?: string
  kind: Page['kind']
  /** shown greyed: "coming" */
  planned?: boolean
}

export interface LayoutOptions {
  toc: TocEntry[]
  prev?: Page
  next?: Page
  edition: 'learner' | 'instructors'
  /** connect to the development server's reload stream */
  liveReload: boolean
}

const ICONS = {
  menu: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 6h18M3 12h18M3 18h18"/></svg>',
  theme: '<svg viewBox="0 0 24 24" aria-hidden="true" class="icon-moon"><path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z"/></svg><svg viewBox="0 0 24 24" aria-hidden="true" class="icon-sun"><circle cx="12" cy="12" r="4.5"/><path d="M12 1.5v2.5M12 20v2.5M4.6 4.6l1.8 1.8M17.6 17.6l1.8 1.8M1.5 12H4M20 12h2.5M4.6 19.4l1.8-1.8M17.6 6.4l1.8-1.8"/></svg>',
  search: '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="10.5" cy="10.5" r="6.5"/><path d="M15.5 15.5 21 21"/></svg>',
}

/** Relative prefix from a page to the site root ("" or "../../"). */
export const baseOf = (file: string): string => '../'.repeat(file.split('/').length - 1)

function tocHtml(page: Page, options: LayoutOptions, base: string): string {
  const item = (e: TocEntry): string => {
    const number = e.number ? `<span class="toc-number">${escapeHtml(e.number)}</span>` : ''
    if (e.planned || !e.file)
      return `<li class="toc-planned" title="This chapter is on the map and being written">${number}<span class="toc-title">${escapeHtml(e.title)}</span><span class="toc-badge">coming</span></li>`
    const current = e.file === page.file
    const sections = current
      ? page.headings.filter((h) => h.depth === 2).map((h) => `<li><a href="#${h.id}">${escapeHtml(h.text)}</a></li>`).join('')
      : ''
    return `<li${current ? ' class="toc-current"' : ''}><a href="${base}${e.file}"${current ? ' aria-current="page"' : ''}>${number}<span class="toc-title">${escapeHtml(e.title)}</span></a>${sections ? `<ol class="toc-sections">${sections}</ol>` : ''}</li>`
  }
  const front = options.toc.filter((e) => e.kind === 'front')
  const chapters = options.toc.filter((e) => e.kind === 'chapter')
  const appendices = options.toc.filter((e) => e.kind === 'appendix')
  return [
    `<ol class="toc">${front.map(item).join('')}</ol>`,
    '<p class="toc-heading">Chapters</p>',
    `<ol class="toc">${chapters.map(item).join('')}</ol>`,
    '<p class="toc-heading">Appendices</p>',
    `<ol class="toc">${appendices.map(item).join('')}</ol>`,
    `<p class="toc-print"><a href="${base}print.html"${page.file === 'print.html' ? ' aria-current="page"' : ''}>The whole book on one page, to print</a></p>`,
  ].join('\n')
}

function pagerHtml(options: LayoutOptions, base: string): string {
  const link = (p: Page | undefined, rel: 'prev' | 'next'): string => {
    if (!p) return `<span class="pager-${rel} pager-empty"></span>`
    const label = rel === 'prev' ? '← Previous' : 'Next →'
    const number = p.kind === 'chapter' ? `${p.number} · ` : p.kind === 'appendix' ? `${p.number}. ` : ''
    return `<a class="pager-${rel}" rel="${rel}" href="${base}${p.file}"><span class="pager-dir">${label}</span><span class="pager-title">${escapeHtml(number + p.title)}</span></a>`
  }
  return `<nav class="pager" aria-label="Previous and next page">${link(options.prev, 'prev')}${link(options.next, 'next')}</nav>`
}

export function layout(page: Page, options: LayoutOptions): string {
  const base = baseOf(page.file)
  const title = page.kind === 'front' ? `${BOOK_TITLE} ${BOOK_SUBTITLE}` : `${page.title} · ${BOOK_TITLE}`
  const rel = [
    options.prev ? `<link rel="prev" href="${base}${options.prev.file}">` : '',
    options.next ? `<link rel="next" href="${base}${options.next.file}">` : '',
  ].join('')
  const edition = options.edition === 'instructors' ? '<span class="edition-badge" title="This edition shows the reference solutions">Instructors\' edition</span>' : ''
  return `<!doctype html>
<html lang="en" data-edition="${options.edition}" data-base="${base}"${options.liveReload ? ' data-live-reload' : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="${base}assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}assets/book.css">
<script>try{var t=localStorage.getItem('book-theme');if(t==='light'||t==='dark')document.documentElement.dataset.theme=t}catch(e){}</script>
${rel}
<script src="${base}assets/book.js" defer></script>
</head>
<body class="kind-${page.kind}">
<a class="skip-link" href="#content">Skip to the text</a>
<header class="topbar">
<button type="button" class="icon-button menu-button" aria-label="Table of contents" aria-controls="sidebar" aria-expanded="false">${ICONS.menu}</button>
<a class="topbar-title" href="${base}index.html">${BOOK_TITLE}</a>${edition}
<div class="search" role="search">
<label class="search-box">${ICONS.search}<input id="search" type="search" placeholder="Search" aria-label="Search the book" autocomplete="off" spellcheck="false"><kbd class="search-key">/</kbd></label>
<div id="search-results" class="search-results" role="listbox" aria-label="Search results" hidden></div>
</div>
<button type="button" class="icon-button theme-toggle" aria-label="Switch between light and dark theme">${ICONS.theme}</button>
</header>
<nav id="sidebar" class="sidebar" aria-label="Table of contents">
<a class="sidebar-title" href="${base}index.html"><span>${BOOK_TITLE}</span><small>${BOOK_SUBTITLE}</small></a>
${tocHtml(page, options, base)}
</nav>
<div class="scrim" hidden></div>
<main id="content" class="content">
<article class="page">
${page.html}
</article>
${page.kind === 'source' || page.kind === 'print' ? '' : pagerHtml(options, base)}
<footer class="footer"><p>${BOOK_TITLE}: the workbook's own chapters, rendered from its sources. Keys: <kbd>←</kbd> <kbd>→</kbd> previous and next page, <kbd>/</kbd> search.</p></footer>
</main>
</body>
</html>
`
}
