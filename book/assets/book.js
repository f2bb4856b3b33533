// The book's one script: theme toggle, sidebar on small screens, ←/→ between pages, copy
// buttons, search over the index built with the book (loaded on first use), and the
// development server's live reload.
(() => {
  const root = document.documentElement
  const base = root.dataset.base || ''
  const dark = matchMedia('(prefers-color-scheme: dark)')

  // ---- theme: follows the system until the reader picks one; picking the system's own
  // choice forgets the preference, so the page follows the system again
  document.querySelector('.theme-toggle')?.addEventListener('click', () => {
    const current = root.dataset.theme || (dark.matches ? 'dark' : 'light')
    const next = current === 'dark' ? 'light' : 'dark'
    const system = dark.matches ? 'dark' : 'light'
    try {
      if (next === system) localStorage.removeItem('book-theme')
      else localStorage.setItem('book-theme', next)
    } catch {}
    root.dataset.theme = next
  })

  // ---- sidebar on narrow screens
  const menu = document.querySelector('.menu-button')
  const scrim = document.querySelector('.scrim')
  const setMenu = (open) => {
    document.body.classList.toggle('sidebar-open', open)
    menu?.setAttribute('aria-expanded', String(open))
    if (scrim) scrim.hidden = !open
  }
  menu?.addEventListener('click', () => setMenu(!document.body.classList.contains('sidebar-open')))
  scrim?.addEventListener('click', () => setMenu(false))
  document.querySelector('.toc-current')?.scrollIntoView({ block: 'center' })

  // ---- copy buttons
  const copyText = async (text) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text)
    const area = Object.assign(document.createElement('textarea'), { value: text })
    area.style.position = 'fixed'
    area.style.opacity = '0'
    document.body.append(area)
    area.select()
    document.execCommand('copy')
    area.remove()
  }
  // A console block is copied without its prompts and output: the commands, each with its
  // continuation lines (a trailing \) and its here-document up to the terminator, so the paste
  // runs. A server that stays in the foreground ends the copy: nothing after it would run.
  const FOREGROUND_SERVER = /(^|\s)(--serve|serve|watch|dockerd|containerd)(\s|$)/
  const commandsOf = (text) => {
    const lines = text.split('\n')
    const commands = []
    for (let i = 0; i < lines.length; i++) {
      if (!/^[$#] /.test(lines[i])) continue
      const command = [lines[i].slice(2)]
      while (command.at(-1).endsWith('\\') && i + 1 < lines.length) command.push(lines[++i])
      const heredoc = /<<-?\s*(['"]?)([\w.-]+)\1/.exec(command.join('\n'))
      if (heredoc) while (i + 1 < lines.length && command.at(-1).trim() !== heredoc[2]) command.push(lines[++i])
      commands.push(command.join('\n'))
      const bare = command[0].replace(/\s#\s.*$/, '').trim()
      if (FOREGROUND_SERVER.test(bare) && !bare.endsWith('&')) break
    }
    return commands
  }
  const markScrolling = () => {
    for (const pre of document.querySelectorAll('.code-block pre'))
      pre.parentElement.classList.toggle('scrolls', pre.scrollWidth > pre.clientWidth + 1)
    for (const figure of document.querySelectorAll('.figure-scroll'))
      figure.parentElement.classList.toggle('scrolls', figure.scrollWidth > figure.clientWidth + 1)
  }
  // a figure keeps its labels readable on a phone by scrolling sideways, and says so
  for (const figure of document.querySelectorAll('figure.figure')) {
    const svg = figure.querySelector('svg')
    const wrap = Object.assign(document.createElement('div'), { className: 'figure-scroll' })
    svg.replaceWith(wrap)
    wrap.append(svg)
    wrap.after(Object.assign(document.createElement('p'), { className: 'scroll-hint', textContent: 'Scroll the figure sideways →' }))
  }
  for (const block of document.querySelectorAll('.code-block')) {
    const code = block.querySelector('code')
    const button = Object.assign(document.createElement('button'), { type: 'button', className: 'copy', textContent: 'Copy' })
    button.setAttribute('aria-label', 'Copy this code')
    button.addEventListener('click', async () => {
      let text = code.textContent
      if (block.dataset.lang === 'console') {
        const commands = commandsOf(text)
        if (commands.length) text = commands.join('\n')
      }
      try {
        await copyText(text)
        button.textContent = 'Copied'
        button.classList.add('copied')
      } catch {
        button.textContent = 'Press Ctrl+C'
      }
      setTimeout(() => { button.textContent = 'Copy'; button.classList.remove('copied') }, 1600)
    })
    block.prepend(button)
    block.append(Object.assign(document.createElement('p'), { className: 'scroll-hint', textContent: 'Long lines: scroll sideways →' }))
  }
  markScrolling()
  addEventListener('resize', markScrolling)
  document.fonts?.ready.then(markScrolling)

  // ---- search
  const input = document.getElementById('search')
  const results = document.getElementById('search-results')
  let index = null
  let loading = null
  let selected = 0
  const loadIndex = () => {
    loading ??= new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement('script'), { src: `${base}assets/search-index.js` })
      script.onload = () => { index = window.BOOK_SEARCH; resolve() }
      script.onerror = () => reject(new Error('search index missing'))
      document.head.append(script)
    })
    return loading
  }
  // a run of Chinese or Japanese characters is a term of its own, also when glued to Latin
  // letters ("走进docker" is "走进" and "docker"): those scripts put no spaces between words
  const words = (s) => s.toLowerCase().split(/[^\p{L}\p{N}_]+/u)
    .flatMap((w) => w.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/gu) ?? [])
  const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
  const count = (hay, needle) => {
    let n = 0
    for (let at = hay.indexOf(needle); at >= 0 && n < 20; at = hay.indexOf(needle, at + needle.length)) n++
    return n
  }
  function search(query) {
    const terms = words(query)
    if (!terms.length) return []
    const hits = []
    for (const s of index.sections) {
      const page = index.pages[s.p]
      const title = s.t.toLowerCase()
      const text = s.x.toLowerCase()
      const pageTitle = page.title.toLowerCase()
      let score = 0
      let all = true
      for (const term of terms) {
        const inText = count(text, term)
        const inTitle = title.includes(term) ? 1 : 0
        const inPage = pageTitle.includes(term) ? 1 : 0
        if (!inText && !inTitle && !inPage) { all = false; break }
        score += inText + 12 * inTitle + 4 * inPage
      }
      if (all) hits.push({ s, page, score: score * page.weight })
    }
    hits.sort((a, b) => b.score - a.score)
    return hits.slice(0, 12)
  }
  function snippet(text, terms) {
    const lower = text.toLowerCase()
    const at = Math.max(0, Math.min(...terms.map((t) => { const i = lower.indexOf(t); return i < 0 ? Infinity : i })) - 60)
    const start = Number.isFinite(at) ? at : 0
    let cut = text.slice(start, start + 180)
    if (start > 0) cut = '…' + (cut.indexOf(' ') >= 0 && cut.indexOf(' ') < 20 ? cut.slice(cut.indexOf(' ') + 1) : cut)
    if (start + 180 < text.length) cut += '…'
    let html = escape(cut)
    for (const t of terms) html = html.replace(new RegExp(`(${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})`, 'gi'), '<mark>$1</mark>')
    return html
  }
  function show() {
    const query = input.value.trim()
    if (!query) { results.hidden = true; return }
    const hits = search(query)
    const terms = words(query)
    selected = 0
    results.innerHTML = hits.length
      ? hits.map((h, i) => `<a href="${base}${h.page.url}${h.s.a ? `#${h.s.a}` : ''}" role="option" aria-selected="${i === 0}"><span class="result-where">${escape(h.page.title)}</span><span class="result-title">${escape(h.s.t || h.page.title)}</span><span class="result-snippet">${snippet(h.s.x, terms)}</span></a>`).join('')
      : `<div class="empty">Nothing in the book matches “${escape(query)}”.</div>`
    results.hidden = false
  }
  const select = (n) => {
    const links = [...results.querySelectorAll('a')]
    if (!links.length) return
    selected = (n + links.length) % links.length
    links.forEach((a, i) => a.setAttribute('aria-selected', String(i === selected)))
    links[selected].scrollIntoView({ block: 'nearest' })
  }
  input?.addEventListener('focus', () => loadIndex().catch(() => {}))
  input?.addEventListener('input', () => loadIndex().then(show, () => {
    results.innerHTML = '<div class="empty">The search index did not load.</div>'
    results.hidden = false
  }))
  input?.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); select(selected + 1) }
    else if (e.key === 'ArrowUp') { e.preventDefault(); select(selected - 1) }
    else if (e.key === 'Enter') {
      const link = results.querySelectorAll('a')[selected]
      if (link) { e.preventDefault(); location.href = link.href }
    } else if (e.key === 'Escape') { results.hidden = true; input.blur() }
  })
  document.addEventListener('click', (e) => {
    if (!e.target.closest('.search')) results.hidden = true
  })

  // ---- keys: ← → between pages, / to search
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return
    if (e.target.closest?.('input, textarea, select, [contenteditable]')) return
    if (e.key === '/') { e.preventDefault(); input?.focus() }
    else if (e.key === 'Escape') setMenu(false)
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const link = document.querySelector(`link[rel="${e.key === 'ArrowLeft' ? 'prev' : 'next'}"]`)
      if (link) location.href = link.href
    }
  })

  // ---- the development server rebuilds the book on every change and tells the page
  if ('liveReload' in root.dataset) new EventSource('/__reload').addEventListener('reload', () => location.reload())
})()
