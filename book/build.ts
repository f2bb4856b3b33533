/**
 * Builds the book: the front page, every written chapter's README in chapters.json's order,
 * the appendices, and a page for each source file the text shows or links to. Everything is
 * derived from the repository at build time, so the book cannot drift from the code.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { folderOf, loadChapters, ROOT, type Chapter } from '../workbook/chapters.ts'
import { pathDiagram } from './diagram.ts'
import { figure, FIGURE_NAMES } from './figures.ts'
import { glossaryTerms, linkGlossaryTerms } from './glossary.ts'
import { helperAppendix } from './helperdoc.ts'
import { formatProblem, languageOf, RegionStore, resolveIncludes, unusedRegions, type Edition, type Problem, type Region } from './includes.ts'
import { escapeHtml, highlightLines, render, type LinkTarget } from './markdown.ts'
import { shortLinks } from './sources.ts'
import { searchIndexScript, sectionsOf, type SearchPage } from './search.ts'
import { baseOf, layout, type Page, type TocEntry } from './templates.ts'

const BOOK_DIR = fileURLToPath(new URL('.', import.meta.url))

export interface BuildOptions {
  root?: string
  /** where the site goes; default book/site */
  out?: string
  edition?: Edition
  /** pages connect to the development server and reload when the book is rebuilt */
  liveReload?: boolean
}

export interface BuildResult {
  out: string
  /** the reading order: front page, written chapters, appendices */
  pages: Page[]
  /** every page written, source pages included */
  files: string[]
  warnings: Problem[]
  ms: number
}

/** The build found problems that would make the book wrong (a missing region, a broken link). */
export class BookError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the book has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map(formatProblem).join('\n')}`)
  }
}

export const chapterFile = (c: Chapter): string => `${folderOf(c)}.html`
/**
 * A chapter's pages after its text, each a markdown file of its own: the debrief
 * (solutions/NN-slug/debrief.md: how the real tools do what the chapter asked, kept beside
 * the reference because it gives the answers away) and the closing pages
 * (chapters/NN-slug/finale.md, the book's last ones after chapter 12).
 */
const AFTER_TEXT = [
  { source: (c: Chapter) => `solutions/${folderOf(c)}/debrief.md`, file: (c: Chapter) => `${folderOf(c)}-debrief.html` },
  { source: (c: Chapter) => `chapters/${folderOf(c)}/finale.md`, file: (c: Chapter) => `${folderOf(c)}-finale.html` },
]
const sourceFile = (path: string): string => `source/${path}.html`

/** Files under book/ that are part of the site: the stylesheet, the script, the icon. */
const ASSETS = join(BOOK_DIR, 'assets')
const FONTS: Record<string, string[]> = {
  'source-serif-4': ['latin-wght-normal', 'latin-wght-italic', 'latin-ext-wght-normal'],
  'source-sans-3': ['latin-wght-normal', 'latin-ext-wght-normal'],
  'jetbrains-mono': ['latin-wght-normal'],
}

/** The text of README.md under `## heading`, up to the next h2. */
function readmeSection(root: string, heading: string): string {
  const text = readFileSync(join(root, 'README.md'), 'utf8')
  const start = text.indexOf(`\n## ${heading}\n`)
  if (start < 0) throw new BookError([{ file: 'README.md', line: 1, message: `the front page shows README.md's "## ${heading}" section, and there is none` }])
  const end = text.indexOf('\n## ', start + 1)
  return text.slice(start + 1, end < 0 ? undefined : end).trim()
}

/** chapters.json's short texts use `backticks` for code. */
const inlineCode = (text: string): string => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>')

function chapterCards(chapters: Chapter[]): string {
  const items = chapters.map((c) => {
    const title = `<span class="card-number">${c.id}</span><span class="card-title">${escapeHtml(c.title)}</span>`
    const real = `<span class="card-real">${inlineCode(c.realWorld)}</span>`
    return c.planned
      ? `<li class="card card-planned" id="chapter-${c.id}"><div>${title}${real}<span class="toc-badge">coming</span></div></li>`
      : `<li class="card" id="chapter-${c.id}"><a href="${chapterFile(c)}">${title}${real}</a></li>`
  })
  return `<ol class="cards">${items.join('')}</ol>`
}

/** A source file's lines, each with its number; a region the book shows is one element, so a link highlights all of it. */
function sourceLines(lines: string[], regions: Region[]): string {
  const starts = new Map<number, Region>()
  for (const r of [...regions].sort((a, b) => a.start - b.start))
    if (![...starts.values()].some((o) => o.name === r.name || (r.start <= o.end && o.start <= r.end))) starts.set(r.start, r)
  let open: Region | null = null
  return lines.map((l, i) => {
    const n = i + 1
    let html = `<span class="line" id="L${n}"><a class="ln" href="#L${n}" aria-hidden="true" tabindex="-1">${n}</a>${l}</span>`
    const start = starts.get(n)
    if (start) { open = start; html = `<span class="region" id="region-${escapeHtml(start.name)}">${html}` }
    if (open && n === open.end) { open = null; html += '</span>' }
    return html
  }).join('')
}

/** "Shown in": the chapters that include parts of this file, linked to the very blocks. */
function shownInHtml(uses: { region: Region; page: string; title: string; id: string }[], base: string): string {
  if (!uses.length) return ''
  const pages = [...new Set(uses.map((u) => u.page))]
  const items = pages.map((page) => {
    const here = uses.filter((u) => u.page === page)
    const regions = here.map((u) => `<a href="${base}${escapeHtml(page)}#${u.id}"><code>${escapeHtml(u.region.name)}</code></a>`).join(', ')
    return `<li><a href="${base}${escapeHtml(page)}">${escapeHtml(here[0].title)}</a>: ${regions}</li>`
  })
  return `<div class="shown-in"><p>Shown in the book:</p><ul>${items.join('')}</ul></div>\n`
}

/** "→ `region` in [file.ts](file.ts)": the line before an include that a raw README shows instead of the block. */
const POINTER = /^→ `([^`]+)` in \[([^\]]+)\]\(([^)]+)\)$/
const POINTER_LINE = /^→ `[^`]+` in \[[^\]]+\]\([^)]+\)$/gm
const INCLUDE_LINE = /^<!--\s*include:\s*(\S+)#(\S+)\s*-->$/

/**
 * A chapter's README is read raw too (on GitHub, in an editor), where an include shows
 * nothing. So each include must follow a pointer line naming its region and file, and that
 * pointer must follow prose, not a heading or another block: no block without a word about it.
 */
function pointerProblems(markdown: string, source: string): Problem[] {
  const lines = markdown.split('\n')
  const before = (i: number): number => { let j = i - 1; while (j >= 0 && !lines[j]!.trim()) j--; return j }
  const problems: Problem[] = []
  lines.forEach((line, i) => {
    const include = INCLUDE_LINE.exec(line)
    if (!include) return
    const [, path, region] = include as unknown as [string, string, string]
    const p = before(i)
    const pointer = POINTER.exec(lines[p] ?? '')
    const expected = `→ \`${region}\` in [${posix.basename(path)}](...)`
    if (!pointer || pointer[1] !== region || posix.basename(pointer[3]!) !== posix.basename(path))
      return void problems.push({ file: source, line: i + 1, message: `the include of ${path}#${region} needs the line "${expected}" before it, so the README read raw says what to open` })
    const prose = lines[before(p)] ?? ''
    if (!prose.trim() || /^#|^<!--|^→ /.test(prose))
      problems.push({ file: source, line: p + 1, message: `the include of ${path}#${region} follows ${prose.startsWith('#') ? 'a heading' : 'another block'}: say in a sentence what it shows` })
  })
  return problems
}

export function buildBook(options: BuildOptions = {}): BuildResult {
  const started = performance.now()
  const root = options.root ?? ROOT
  const out = options.out ?? join(root, 'book/site')
  const edition = options.edition ?? 'learner'
  const chapters = loadChapters(root)
  const written = chapters.filter((c) => !c.planned)
  const store = new RegionStore(root)
  const errors: Problem[] = []
  const warnings: Problem[] = []
  const used = new Set<string>()
  const sources = new Set<string>()
  const expandLink = shortLinks(root)
  const showable = (path: string): boolean => edition === 'instructors' || !path.startsWith('solutions/')

  /** for each source file, the regions the pages show and where: its source page links back */
  const shownIn = new Map<string, { region: Region; page: string; title: string; id: string }[]>()
  let rendering: { file: string; title: string } | null = null
  const sourceHref = (region: Region): string | null => {
    if (!showable(region.file)) return null
    sources.add(region.file)
    if (rendering) {
      const uses = shownIn.get(region.file) ?? []
      const n = uses.filter((u) => u.page === rendering!.file && u.region.name === region.name).length
      uses.push({ region, page: rendering.file, title: rendering.title, id: `code-${region.name}${n ? `-${n}` : ''}` })
      shownIn.set(region.file, uses)
    }
    return `${sourceFile(region.file)}#region-${region.name}`
  }

  /** Relative links in a text found in `dir`: to chapters, to the book's pages, to source pages. */
  const linkResolver = (dir: string) => (href: string): LinkTarget => {
    const [encoded, hash] = href.split('#', 2)
    const path = decodeURIComponent(encoded)
    // "/native/helper.c" is relative to the repository, anything else to the text's folder
    const target = posix.normalize(path.startsWith('/') ? path.slice(1) : posix.join(dir, path))
    if (target.startsWith('../')) return { error: 'it points outside the repository' }
    const full = join(root, target)
    if (!existsSync(full)) return { error: `there is no ${target}` }
    const file = statSync(full).isDirectory() ? posix.join(target, 'README.md') : target
    const chapter = chapters.find((c) => file === `chapters/${folderOf(c)}/README.md`)
    if (chapter) return { href: (chapter.planned ? `index.html#chapter-${chapter.id}` : chapterFile(chapter)) + (hash && !chapter.planned ? `#${hash}` : '') }
    // a chapter's debrief and closing pages are pages of the book, not source files
    for (const after of AFTER_TEXT) {
      const owner = chapters.find((c) => file === after.source(c))
      if (owner) return { href: after.file(owner) + (hash ? `#${hash}` : '') }
    }
    if (!existsSync(join(root, file))) return { error: `${target} is a folder without a README.md` }
    if (!showable(file)) return { error: 'the learner\'s edition does not show solutions/' }
    sources.add(file)
    return { href: sourceFile(file) + (hash ? `#${hash}` : '') }
  }

  const renderText = (markdown: string, source: string, kicker?: string, page?: { file: string; title: string }): { html: string; headings: Page['headings'] } => {
    rendering = page ?? null
    // a figure replaces its marker line, on one line, so the line numbers of later errors hold
    const withFigures = markdown.split('\n').map((line, i) => {
      const name = /^<!--\s*figure:\s*([\w-]+)\s*-->\s*$/.exec(line)?.[1]
      if (!name) return line
      const html = figure(name)
      if (!html) errors.push({ file: source, line: i + 1, message: `there is no figure "${name}" (book/figures.ts draws ${FIGURE_NAMES.join(', ')})` })
      return html?.replace(/\n/g, '') ?? line
    }).join('\n')
    if (source.startsWith('chapters/')) errors.push(...pointerProblems(withFigures, source))
    // the pointer line says in the README what the block's caption says in the book
    const resolved = resolveIncludes(withFigures.replace(POINTER_LINE, ''), store, { edition, source })
    errors.push(...resolved.errors)
    resolved.used.forEach((u) => used.add(u))
    const rendered = render(resolved.markdown, {
      includes: resolved.includes,
      sourceHref,
      resolveLink: linkResolver(posix.dirname(source)),
      expandLink,
      kicker,
    })
    // the line in the file the text came from (the front page quotes README.md)
    const lines = (existsSync(join(root, source)) ? readFileSync(join(root, source), 'utf8') : markdown).split('\n')
    for (const { href, error } of rendered.brokenLinks) {
      const line = lines.findIndex((l) => l.includes(`](${href}`)) + 1 || 1
      errors.push({ file: source, line, message: `broken link to ${href}: ${error}` })
    }
    return rendered
  }

  // the front page
  const front = renderText([
    '# Build your own Docker {#build-your-own-docker}',
    '',
    '<p class="lede"><code>docker run hello-world</code> passes through five programs before the kernel runs <code>hello</code>. In this book you write every one of them, in TypeScript, on a real Linux kernel — and in the last chapter your own client runs <code>hello-world</code> through your own daemon, containerd, shim and runtime.</p>',
    '',
    pathDiagram(),
    '',
    '## What you will build {#what-you-will-build}',
    '',
    'One layer per chapter, from the bottom up. After each chapter your `minidocker` does everything the chapters so far teach; every chapter mirrors a piece of real Docker whose source you can go and read.',
    '',
    chapterCards(chapters),
    '',
    'The code in the chapters comes straight from the repository, so it is always the code you have. A block labelled <span class="tag tag-starter">Starter</span> is a function you write, as it stands in `chapters/`, with its numbered steps; <span class="tag tag-native">Native helper</span> is the C program every chapter drives (appendix A). The file name above a block opens the whole file. ' +
      (edition === 'instructors'
        ? 'This is the instructors\' edition: each starter is followed by its <span class="tag tag-solution">Reference solution</span>.'
        : 'The instructors\' edition (`npm run book -- --instructors`) adds the reference solution under each starter.'),
    '',
    readmeSection(root, 'Setting up'),
    '',
    readmeSection(root, 'For learners').replace(/^## For learners/, '## How you work {#how-you-work}'),
    '',
    readmeSection(root, 'The versions the text describes'),
    '',
    readmeSection(root, 'Credits'),
  ].join('\n'), 'README.md')
  const pages: Page[] = [{ file: 'index.html', title: 'Introduction', kind: 'front', ...front }]

  // the chapters
  const terms = glossaryTerms(readFileSync(join(BOOK_DIR, 'content/glossary.md'), 'utf8'))
  const afterText: Page[] = []
  for (const c of chapters) {
    const source = `chapters/${folderOf(c)}/README.md`
    if (c.planned) {
      // nothing of a planned chapter is shown, except its closing pages below
    } else if (!existsSync(join(root, source))) {
      errors.push({ file: 'workbook/chapters.json', line: 1, message: `chapter ${c.id} is not planned, but ${source} does not exist` })
    } else {
      // the page's kicker says "Chapter 01", so a "01 · " in front of the title would say it twice
      const text = readFileSync(join(root, source), 'utf8').replace(/^# \d+\s*[·.:-]\s*/, '# ')
      const rendered = renderText(text, source, `Chapter ${c.id}`, { file: chapterFile(c), title: `Chapter ${c.id} · ${c.title}` })
      // under the title: the piece of real Docker it mirrors, and the command that grades it
      const meta = `<p class="chapter-meta"><span>The real piece: ${inlineCode(c.realWorld)}</span><span>Check your work: <code>npx workbook check ${Number(c.id)}</code></span></p>\n`
      const html = linkGlossaryTerms(rendered.html, terms).replace(/<\/h1>\n/, (h1) => h1 + meta)
      pages.push({ file: chapterFile(c), title: c.title, kind: 'chapter', number: c.id, html, headings: rendered.headings })
    }
    for (const after of AFTER_TEXT) {
      const source = after.source(c)
      if (!existsSync(join(root, source))) continue
      const file = after.file(c)
      const text = readFileSync(join(root, source), 'utf8')
      const title = /^# (.+)$/m.exec(text)?.[1] ?? file
      const rendered = renderText(text, source, `Chapter ${c.id}`, { file, title: `Chapter ${c.id} · ${title}` })
      const page: Page = { file, title, kind: 'chapter', number: c.id, html: linkGlossaryTerms(rendered.html, terms), headings: rendered.headings }
      pages.push(page)
      afterText.push(page)
    }
  }

  // the appendices
  const helper = helperAppendix(root, (file, line) => (showable(file) ? `/${file}#L${line}` : null))
  warnings.push(...helper.warnings)
  const appendices: [string, string, string][] = [
    ['appendix-helper.html', 'The native helper', helper.markdown],
    ['glossary.html', 'Glossary', readFileSync(join(BOOK_DIR, 'content/glossary.md'), 'utf8')],
    ['further-reading.html', 'Further reading', readFileSync(join(BOOK_DIR, 'content/further-reading.md'), 'utf8')],
  ]
  appendices.forEach(([file, title, markdown], i) => {
    const number = String.fromCharCode(65 + i)
    pages.push({ file, title, kind: 'appendix', number, ...renderText(markdown, `book/${file}`, `Appendix ${number}`, { file, title: `Appendix ${number} · ${title}` }) })
  })

  // every region of the written chapters and of native/ should appear somewhere
  const folders = ['native', ...written.flatMap((c) => [`chapters/${folderOf(c)}`, `solutions/${folderOf(c)}`])]
  warnings.push(...unusedRegions(store, folders, used))
  if (errors.length) throw new BookError(errors)

  // the source pages; a markdown file is shown rendered, and may link to further files
  const sourcePages: Page[] = []
  const done = new Set<string>()
  for (let todo = [...sources]; todo.length; todo = [...sources].filter((f) => !done.has(f))) {
    for (const path of todo.sort()) {
      done.add(path)
      const text = readFileSync(join(root, path), 'utf8')
      let html: string
      rendering = null
      if (path.endsWith('.md')) {
        const rendered = render(text, { sourceHref, resolveLink: linkResolver(posix.dirname(path)), expandLink, kicker: path })
        // a document the chapters merely link to does not fail the book, but its dead links are worth a look
        warnings.push(...rendered.brokenLinks.map(({ href, error }) => ({ file: path, line: 1, message: `broken link to ${href}: ${error}` })))
        html = rendered.html
      } else {
        const lines = highlightLines(text.replace(/\n$/, ''), languageOf(path))
        const uses = shownIn.get(path) ?? []
        html = `<h1 id="source"><span class="kicker">Source</span>${escapeHtml(path)}</h1>\n${shownInHtml(uses, baseOf(sourceFile(path)))}<pre class="source"><code class="hljs">${sourceLines(lines, uses.map((u) => u.region))}</code></pre>`
      }
      sourcePages.push({ file: sourceFile(path), title: path, kind: 'source', html, headings: [] })
    }
  }

  // write the site
  const toc: TocEntry[] = [
    { title: 'Introduction', file: 'index.html', kind: 'front' },
    ...chapters.flatMap((c): TocEntry[] => [
      { title: c.title, number: c.id, kind: 'chapter', ...(c.planned ? { planned: true } : { file: chapterFile(c) }) },
      ...afterText.filter((p) => AFTER_TEXT.some((a) => a.file(c) === p.file)).map((p): TocEntry => ({ title: p.title, number: c.id, file: p.file, kind: 'chapter' })),
    ]),
    ...pages.filter((p) => p.kind === 'appendix').map((p) => ({ title: p.title, number: p.number, file: p.file, kind: p.kind })),
  ]
  rmSync(out, { recursive: true, force: true })
  mkdirSync(join(out, 'assets/fonts'), { recursive: true })
  const write = (page: Page, prev?: Page, next?: Page): string => {
    const path = join(out, page.file)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, layout(page, { toc, prev, next, edition, liveReload: options.liveReload ?? false }))
    return page.file
  }
  // the whole book on one page, to print or save as PDF
  const whole: Page = {
    file: 'print.html', title: 'The whole book', kind: 'print', headings: [],
    html: pages.map((p) => `<section class="print-chapter">\n${p.html}</section>`).join('\n'),
  }
  const files = [
    ...pages.map((p, i) => write(p, pages[i - 1], pages[i + 1])),
    write(whole),
    ...sourcePages.map((p) => write(p)),
  ]
  for (const name of readdirSync(ASSETS)) cpSync(join(ASSETS, name), join(out, 'assets', name))
  for (const [family, variants] of Object.entries(FONTS))
    for (const v of variants)
      cpSync(join(root, `node_modules/@fontsource-variable/${family}/files/${family}-${v}.woff2`), join(out, `assets/fonts/${family}-${v}.woff2`))
  const searchPages: SearchPage[] = pages.map((p) => ({ url: p.file, title: p.kind === 'chapter' ? `${p.number} · ${p.title}` : p.title, weight: p.kind === 'chapter' ? 1 : 0.6 }))
  writeFileSync(join(out, 'assets/search-index.js'), searchIndexScript(searchPages, pages.flatMap((p, i) => sectionsOf(p.html, i))))
  return { out, pages, files, warnings, ms: Math.round(performance.now() - started) }
}
