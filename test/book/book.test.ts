/**
 * The book, built for real and read in Debian's chromium (headless, driven by playwright-core):
 * every page loads cleanly, fits a phone's width and has no broken internal link; search finds
 * a chapter without a server; ←/→ walk the whole book in order; the theme follows the system
 * and the toggle; copy buttons copy; and the front page and a chapter page are photographed at
 * desktop and phone width into reports/book/. Before the browser, the include rules themselves.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildBook, chapterFile, type BuildResult } from '../../book/build.ts'
import { parseRegions, RegionStore, resolveIncludes, unusedRegions } from '../../book/includes.ts'
import { serveSite, type BookServer } from '../../book/serve.ts'
import { findChapter, ROOT } from '../../workbook/chapters.ts'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOTS = join(ROOT, 'reports/book')
/** A term only a written chapter explains, and the page search must land on for it. */
const SEARCH = { term: 'pivot_root', page: chapterFile(findChapter('03')) }
/** The chapter page that is photographed. */
const PHOTO_PAGE = chapterFile(findChapter('03'))

describe('region includes', () => {
  let root: string
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'book-includes-'))
    const region = (body: string): string => `export const x = 1\n// #region add\n${body}\n// #endregion add\n// #region spare\nconst y = 2\n// #endregion spare\n`
    mkdirSync(join(root, 'chapters/01-x'), { recursive: true })
    mkdirSync(join(root, 'solutions/01-x'), { recursive: true })
    writeFileSync(join(root, 'chapters/01-x/m.ts'), region("  throw new Error('starter')"))
    writeFileSync(join(root, 'solutions/01-x/m.ts'), region('  return a + b'))
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  test('the learner\'s edition shows the starter, the instructors\' edition the solution', () => {
    const store = new RegionStore(root)
    const text = '<!-- include: solutions/01-x/m.ts#add -->'
    const learner = resolveIncludes(text, store, { edition: 'learner', source: 'README.md' })
    const instructors = resolveIncludes(text, store, { edition: 'instructors', source: 'README.md' })
    expect(learner.errors, 'a well-formed include of an existing region is no error').toEqual([])
    expect(learner.markdown, 'an include of solutions/X#R must show the starter\'s region R in the learner\'s edition, never the solution').toContain("throw new Error('starter')")
    expect(learner.markdown, 'the learner\'s edition must not reveal the solution').not.toContain('return a + b')
    expect(instructors.markdown, 'the instructors\' edition shows the solution\'s region').toContain('return a + b')
    const both = resolveIncludes('<!-- include: chapters/01-x/m.ts#add -->', store, { edition: 'instructors', source: 'README.md' })
    expect(both.includes.map((i) => i.kind), 'an include of chapters/X#R shows the starter and then the solution in the instructors\' edition').toEqual(['starter', 'solution'])
  })

  test('a missing region fails, an unused one warns', () => {
    const store = new RegionStore(root)
    const missing = resolveIncludes('<!-- include: chapters/01-x/m.ts#nope -->', store, { edition: 'learner', source: 'README.md' })
    expect(missing.errors.map((e) => e.message).join('\n'), 'a missing region is an error that names the file and lists its regions').toMatch(/has no region "nope".*add, spare/)
    const used = resolveIncludes('<!-- include: chapters/01-x/m.ts#add -->', store, { edition: 'learner', source: 'README.md' }).used
    const unused = unusedRegions(store, ['chapters/01-x', 'solutions/01-x'], used).map((w) => `${w.file}: ${w.message}`)
    expect(unused, 'only the region nothing includes ("spare", in both files) is reported').toEqual([
      'chapters/01-x/m.ts: region "spare" is never included in the book',
      'solutions/01-x/m.ts: region "spare" is never included in the book',
    ])
    expect(parseRegions('// #region a\n', 'f.ts').problems[0]?.message, 'an unclosed region is reported').toMatch(/never closed/)
  })
})

test('the instructors\' edition builds, with the reference solutions next to the starters', () => {
  const out = mkdtempSync(join(tmpdir(), 'book-instructors-'))
  try {
    const { pages } = buildBook({ out, edition: 'instructors' })
    const chapters = pages.filter((p) => p.kind === 'chapter').map((p) => p.html).join('\n')
    expect(chapters, 'the instructors\' edition shows reference solution regions (figure.kind-solution)').toContain('kind-solution')
    expect(existsSync(join(out, 'source/solutions')), 'it has source pages for the solutions the text shows').toBe(true)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

/**
 * Runs in the page: every visible piece of text (HTML text and SVG labels) whose contrast with
 * what is behind it is below 4.5:1, as "ratio colour-on-background: text".
 */
function contrastFailures(): string[] {
  const parse = (c: string): number[] => {
    const m = /rgba?\(([^)]+)\)/.exec(c) ?? /color\(srgb ([^)]+)\)/.exec(c)
    if (!m) return [0, 0, 0, 0]
    const parts = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number)
    const scale = c.startsWith('color(') ? 255 : 1
    return [parts[0]! * scale, parts[1]! * scale, parts[2]! * scale, parts[3] ?? 1]
  }
  const over = (top: number[], bottom: number[]): number[] => {
    const a = top[3]!
    return [0, 1, 2].map((i) => top[i]! * a + bottom[i]! * (1 - a)).concat(1)
  }
  const background = (el: Element | null): number[] => {
    const layers: number[][] = []
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor)
      if (bg[3]! > 0) layers.push(bg)
      if (bg[3] === 1) break
    }
    return layers.reduceRight((acc, layer) => over(layer, acc), [255, 255, 255, 1])
  }
  const luminance = (c: number[]): number => {
    const [r, g, b] = c.slice(0, 3).map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 })
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
  }
  const ratio = (a: number[], b: number[]): number => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x! + 0.05) / (y! + 0.05) }
  const failures: string[] = []
  const seen = new Set<Element>()
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement
    if (!el || seen.has(el) || !node.textContent?.trim()) continue
    seen.add(el)
    const style = getComputedStyle(el)
    const box = el.getBoundingClientRect()
    if (style.visibility !== 'visible' || box.width === 0 || box.height === 0 || el.closest('[hidden], title, desc, .skip-link')) continue
    let opacity = 1
    for (let e: Element | null = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity)
    if (opacity < 0.1) continue
    const svg = el.closest('svg')
    let behind = background(svg ?? el)
    if (svg) {
      // an SVG label sits on the last shape drawn before it that covers its centre
      const x = box.left + box.width / 2, y = box.top + box.height / 2
      const under = Array.from(svg.querySelectorAll('rect')).filter((r) => {
        const b = r.getBoundingClientRect()
        return (r.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) && b.left <= x && x <= b.right && b.top <= y && y <= b.bottom
      }).at(-1)
      const fill = under ? parse(getComputedStyle(under).fill) : [0, 0, 0, 0]
      if (fill[3]! > 0) behind = over(fill, behind)
    }
    const colour = parse(svg ? style.fill : style.color)
    const fg = over([colour[0]!, colour[1]!, colour[2]!, colour[3]! * opacity], behind)
    const r = ratio(fg, behind)
    if (r < 4.5) failures.push(`${r.toFixed(2)} ${svg ? style.fill : style.color} on rgb(${behind.slice(0, 3).map(Math.round).join(', ')}): ${node.textContent.trim().slice(0, 40)}`)
  }
  return failures
}

describe('the book in a browser', () => {
  let out: string
  let site: BuildResult
  let server: BookServer
  let browser: Browser

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `the browser test drives Debian's chromium at ${CHROMIUM}: apt-get install chromium`).toBe(true)
    out = mkdtempSync(join(tmpdir(), 'book-site-'))
    site = buildBook({ out })
    server = await serveSite(out)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (out) rmSync(out, { recursive: true, force: true })
  })

  /** Pages open at once where a test visits many: one loads while another is laid out. */
  const TABS = 4

  interface Opened {
    context: BrowserContext
    page: Page
    /** console errors, uncaught exceptions and failed loads of every page opened in the context */
    problems: string[]
    /** another page in the same context, watched for problems as `page` is */
    tab: () => Promise<Page>
  }

  /** A fresh context and a page in it. */
  async function open(options: BrowserContextOptions = {}): Promise<Opened> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options })
    const problems: string[] = []
    const tab = async (): Promise<Page> => {
      const page = await context.newPage()
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`) })
      page.on('pageerror', (e) => problems.push(`uncaught exception on ${page.url()}: ${e.message}`))
      // ERR_ABORTED is a load cut short by the next navigation; a missing file shows as a 404
      page.on('requestfailed', (r) => { if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`${r.url()} failed to load: ${r.failure()?.errorText}`) })
      page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.url()} answered ${r.status()}`) })
      return page
    }
    return { context, page: await tab(), problems, tab }
  }

  /** `visit` each of `items`, in up to TABS pages of the context at once (the first is its `page`). */
  async function inTabs<T>({ page, tab }: Opened, items: readonly T[], visit: (page: Page, item: T) => Promise<void>): Promise<void> {
    const queue = [...items]
    const pages = [page, ...(await Promise.all(Array.from({ length: Math.min(TABS, items.length) - 1 }, tab)))]
    await Promise.all(pages.map(async (p) => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await visit(p, item)
    }))
  }

  const pathOf = (url: string): string => new URL(url).pathname.replace(/^\//, '')

  test('every page loads with no console error, no broken internal link, and fits a phone\'s width, where a code block that scrolls sideways says so', async () => {
    const opened = await open({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
    const { context, problems } = opened
    const chapters = new Set(site.pages.filter((p) => p.kind === 'chapter').map((p) => p.file))
    let scrolling = 0
    const ids = new Map<string, Set<string>>()
    const idsOf = (file: string): Set<string> | undefined => {
      if (!ids.has(file) && existsSync(join(out, file)))
        ids.set(file, new Set([...readFileSync(join(out, file), 'utf8').matchAll(/\sid="([^"]+)"/g)].map((m) => m[1])))
      return ids.get(file)
    }
    await inTabs(opened, site.files, async (page, file) => {
      await page.goto(server.url + file)
      // a phone's browser widens the window to fit wide content, so compare with the screen
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth) - page.viewportSize()!.width
      if (overflow > 0) problems.push(`${file} is ${overflow}px wider than a phone's screen: a table, code block or long word does not wrap or scroll on its own`)
      if (chapters.has(file)) {
        await page.evaluate(() => document.fonts.ready)
        const blocks = await page.$$eval('.code-block pre', (pres) => pres.filter((pre) => pre.scrollWidth > pre.clientWidth + 1).map((pre) => {
          const block = pre.closest('.code-block')!
          const hint = block.querySelector('.scroll-hint') as HTMLElement | null
          return { caption: block.querySelector('figcaption')?.textContent ?? pre.textContent!.slice(0, 40), shown: !!hint && hint.offsetHeight > 0 && getComputedStyle(hint).visibility === 'visible' }
        }))
        scrolling += blocks.length
        // book.js adds .scrolls, book.css shows the hint
        for (const b of blocks) if (!b.shown) problems.push(`${file}: a code block scrolls sideways with no visible "scroll sideways" hint: ${b.caption}`)
      }
      const links = await page.$$eval('a[href], link[rel="prev"], link[rel="next"]', (els) => els.map((e) => (e as HTMLAnchorElement).href))
      for (const href of links) {
        if (!href.startsWith(server.url)) continue
        const url = new URL(href)
        const target = pathOf(href) || 'index.html'
        const targetIds = idsOf(target)
        if (!targetIds) problems.push(`${file} links to ${target}, which the book does not have`)
        else if (url.hash && !targetIds.has(decodeURIComponent(url.hash.slice(1))))
          problems.push(`${file} links to ${target}${url.hash}, but ${target} has no element with that id`)
      }
    })
    await context.close()
    expect(scrolling, 'some starter code is wider than a phone, so there are blocks that scroll to look at').toBeGreaterThan(0)
    expect(problems, 'each line is a page that logged an error, a link that leads nowhere or a block that scrolls unannounced').toEqual([])
  }, 180_000)

  test(`search for "${SEARCH.term}" lands on ${SEARCH.page}, with no server`, async () => {
    const { context, page, problems } = await open()
    // from file:// on purpose: the index is a script built with the book, so search needs no server
    await page.goto(pathToFileURL(join(out, 'index.html')).href)
    await page.keyboard.press('/')
    await page.keyboard.type(SEARCH.term)
    await page.waitForSelector('#search-results a', { timeout: 15_000 })
    const first = await page.$eval('#search-results a', (a) => (a as HTMLAnchorElement).href)
    expect(first, `the first result for "${SEARCH.term}" should be in ${SEARCH.page}; look at the ranking in book/assets/book.js`).toContain(SEARCH.page)
    await Promise.all([page.waitForURL((u) => u.pathname.endsWith(SEARCH.page)), page.keyboard.press('Enter')])
    await context.close()
    expect(problems, 'searching logged no error').toEqual([])
  }, 120_000)

  test('← and → walk the whole book in order, and the pager links walk it back', async () => {
    const opened = await open()
    const { context, problems } = opened
    const order = site.pages.map((p) => p.file)
    // What a key or a link does depends on its page alone, so each page is loaded once (a few at
    // once) and each step is read from the navigation it starts, which is stopped there: that
    // the page it leads to loads is the first test's concern.
    const forward: string[] = []
    const leftward: string[] = []
    const backward: string[] = []
    let lastHasNext: boolean | undefined
    await inTabs(opened, order.map((_, i) => i), async (tab, i) => {
      await tab.goto(server.url + order[i])
      await tab.route('**', (route) => route.abort('aborted'))
      /** Where `go` leads (this page again if it starts no navigation). */
      const leads = async (go: () => Promise<unknown>): Promise<string> => {
        const leaving = tab.waitForRequest((r) => r.isNavigationRequest() && r.frame() === tab.mainFrame(), { timeout: 15_000 }).then((r) => r.url(), () => tab.url())
        await go()
        return pathOf(await leaving)
      }
      if (i + 1 < order.length) forward[i] = await leads(() => tab.keyboard.press('ArrowRight'))
      else lastHasNext = (await tab.$('link[rel="next"]')) !== null
      if (i > 0) {
        leftward[i - 1] = await leads(() => tab.keyboard.press('ArrowLeft'))
        backward[i - 1] = await leads(() => tab.click('a.pager-prev'))
      }
      await tab.unroute('**')
    })
    expect([order[0], ...forward], '→ from the front page should visit every page in chapters.json\'s order, then the appendices').toEqual(order)
    expect(lastHasNext, 'the last page has no next page').toBe(false)
    expect([order.at(-1), ...backward.reverse()], 'the "Previous" links lead back through the same pages').toEqual([...order].reverse())
    expect([order.at(-1), ...leftward.reverse()], '← leads back through the same pages').toEqual([...order].reverse())
    await context.close()
    expect(problems, 'walking the book logged no error').toEqual([])
  }, 120_000)

  test('the theme follows the system and the toggle switches it, remembered across pages', async () => {
    const background = (page: Page): Promise<string> => page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    const dark = await open({ colorScheme: 'dark' })
    await dark.page.goto(server.url + PHOTO_PAGE)
    const darkBackground = await background(dark.page)
    await dark.context.close()

    const { context, page, problems } = await open({ colorScheme: 'light' })
    await page.goto(server.url + PHOTO_PAGE)
    const lightBackground = await background(page)
    expect(lightBackground, 'a system in dark mode should get a different background than one in light mode (light-dark() colours in book.css)').not.toBe(darkBackground)
    await page.click('.theme-toggle')
    expect(await page.getAttribute('html', 'data-theme'), 'the toggle pins the other theme on <html>').toBe('dark')
    expect(await background(page), 'after the toggle the light system gets the dark background').toBe(darkBackground)
    await page.goto(server.url + 'index.html')
    expect(await page.getAttribute('html', 'data-theme'), 'the choice is remembered on the next page').toBe('dark')
    await page.click('.theme-toggle')
    expect(await background(page), 'toggling back restores the light background').toBe(lightBackground)
    expect(await page.evaluate(() => localStorage.getItem('book-theme')), 'choosing the system\'s own theme forgets the choice, so the page follows the system again').toBeNull()
    await context.close()
    expect(problems, 'switching themes logged no error').toEqual([])
  }, 120_000)

  /** The written chapters, the whole-book page and one source page: where code is shown. */
  const codePages = (): string[] => [...site.pages.filter((p) => p.kind === 'chapter').map((p) => p.file), 'print.html', 'source/chapters/03-rootfs/rootfs.ts.html']

  /** Code blocks whose lines are wider than the block, by what the browser laid out. */
  const overflowing = (page: Page): Promise<string[]> => page.$$eval('.code-block pre, pre.source', (pres) =>
    pres.filter((pre) => pre.scrollWidth > pre.clientWidth + 1).map((pre) => {
      const caption = pre.closest('.code-block')?.querySelector('figcaption')?.textContent
      return caption ?? (pre.textContent ?? '').split('\n').find((l) => l.length > 60)?.slice(0, 60) ?? ''
    }))

  test('every line of code is visible at 1280 px and in print', async () => {
    const problems: string[] = []
    const opened = await open()
    // each page is loaded once and laid out for both, the screen first
    await inTabs(opened, codePages(), async (page, file) => {
      for (const [name, viewport, media] of [
        ['a 1280 px screen', { width: 1280, height: 900 }, 'screen'],
        // an A4 page at 96 dpi, less the printer's margins
        ['print', { width: 720, height: 1000 }, 'print'],
      ] as const) {
        await page.setViewportSize(viewport)
        await page.emulateMedia({ media })
        if (media === 'screen') await page.goto(server.url + file)
        // a layout first, so that the fonts it needs are being loaded when they are waited for
        await page.evaluate(async () => { void document.body.offsetHeight; await document.fonts.ready })
        for (const block of await overflowing(page)) problems.push(`${name}: ${file}: a block is wider than its box, its lines cut off: ${block}`)
      }
    })
    await opened.context.close()
    expect(problems, 'on a desktop and on paper long code lines must wrap (book.css), never hide behind a scroll bar').toEqual([])
  }, 180_000)

  test('Copy on a here-document block gives a command that runs', async () => {
    const { context, page, problems } = await open()
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    await page.goto(server.url + chapterFile(findChapter('07')))
    const block = page.locator('.code-block', { hasText: "<<'EOF'" }).first()
    await block.hover()
    await block.locator('button.copy').click()
    await page.waitForFunction(() => Array.from(document.querySelectorAll('button.copy')).some((b) => b.textContent === 'Copied'))
    const copied = await page.evaluate(() => navigator.clipboard.readText())
    expect(copied, 'the here-document keeps its body and its terminator').toMatch(/<<'EOF'\n(.+\n)+EOF\n/)
    expect(copied, 'prompts and output are left out').not.toMatch(/^# |HTTP\/1\.1/m)
    const check = spawnSync('bash', ['-n'], { input: copied, encoding: 'utf8' })
    expect(check.status, `bash -n accepts the copied text: ${check.stderr}`).toBe(0)
    await context.close()
    expect(problems, 'copying logged no error').toEqual([])
  }, 120_000)

  test('search snippets keep the spaces between words, and Chinese finds the credits', async () => {
    const { context, page, problems } = await open()
    await page.goto(pathToFileURL(join(out, 'index.html')).href)
    const results = async (query: string): Promise<{ href: string; snippet: string }[]> => {
      await page.fill('#search', '')
      await page.fill('#search', query)
      await page.waitForSelector('#search-results:not([hidden])', { timeout: 15_000 })
      return page.$$eval('#search-results a', (as) => as.map((a) => ({ href: (a as HTMLAnchorElement).href, snippet: a.querySelector('.result-snippet')?.textContent ?? '' })))
    }
    const union = await results('union filesystems')
    expect(union[0]?.snippet, 'a snippet is words with spaces between them').toMatch(/\w \w/)
    const sections = await page.evaluate(() => (window as unknown as { BOOK_SEARCH: { sections: { t: string; x: string }[] } }).BOOK_SEARCH.sections)
    expect(sections.map((s) => s.x).join('\n'), 'the front page diagram\'s labels are separate words').toContain('docker the client')
    const glued = sections.filter((s) => /Chapter \d\d[A-Z]|Appendix [A-Z][A-Z][a-z]|forkfork|\dlines \d/.test(`${s.t} ${s.x}`)).map((s) => s.t)
    expect(glued, 'no section text glues a kicker, a caption or a label to the next word').toEqual([])
    const chinese = await results('走进docker')
    expect(chinese.map((r) => r.href).join(' '), 'a Chinese query finds the credits on the front page').toContain('index.html')
    await context.close()
    expect(problems, 'searching logged no error').toEqual([])
  }, 120_000)

  test('text contrast is at least 4.5:1 in both themes', async () => {
    const failures: string[] = []
    for (const scheme of ['light', 'dark'] as const) {
      const opened = await open({ colorScheme: scheme })
      await inTabs(opened, ['index.html', PHOTO_PAGE, chapterFile(findChapter('07')), 'glossary.html', 'source/chapters/03-rootfs/rootfs.ts.html'], async (page, file) => {
        await page.goto(server.url + file)
        const low = await page.evaluate(contrastFailures)
        failures.push(...low.map((l) => `${scheme}: ${file}: ${l}`))
      })
      await opened.context.close()
    }
    expect([...new Set(failures)], 'each line is text below WCAG AA (4.5:1) against what is behind it: darken or lighten its colour in book.css').toEqual([])
  }, 120_000)

  test('a code block\'s copy button copies its code', async () => {
    const { context, page, problems } = await open()
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    await page.goto(server.url + PHOTO_PAGE)
    const block = page.locator('figure.code-block').first()
    const code = await block.locator('code').textContent()
    await block.hover()
    await block.locator('button.copy').click()
    await page.waitForFunction(() => document.querySelector('figure.code-block button.copy')?.textContent === 'Copied')
    expect(await page.evaluate(() => navigator.clipboard.readText()), 'the clipboard should hold exactly the included code').toBe(code)
    await context.close()
    expect(problems, 'copying logged no error').toEqual([])
  }, 120_000)

  test('the front page and a chapter at desktop and phone width, light and dark, and printed', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true })
    const shots: string[] = []
    for (const [name, options] of [
      ['desktop', { viewport: { width: 1280, height: 900 } }],
      ['phone', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }],
      ['print', { viewport: { width: 720, height: 1000 } }],
    ] as const) {
      for (const scheme of name === 'print' ? ['light'] as const : ['light', 'dark'] as const) {
        const { context, page, problems } = await open({ ...options, colorScheme: scheme })
        if (name === 'print') await page.emulateMedia({ media: 'print' })
        for (const file of ['index.html', PHOTO_PAGE]) {
          await page.goto(server.url + file)
          await page.evaluate(() => document.fonts.ready)
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth) - page.viewportSize()!.width
          expect(overflow, `${file} is wider than a ${name} screen by ${overflow}px: something (a table, a code block, the diagram) does not wrap or scroll on its own`).toBeLessThanOrEqual(0)
          const path = join(SCREENSHOTS, `${file.replace(/\.html$/, '')}-${name}-${scheme}.png`)
          await page.screenshot({ path, fullPage: name === 'print' })
          shots.push(path)
        }
        await context.close()
        expect(problems, 'the pages logged no error').toEqual([])
      }
    }
    console.log(`book screenshots:\n  ${shots.join('\n  ')}`)
  }, 120_000)
})
