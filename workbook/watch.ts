/**
 * `workbook watch`: re-run the current chapter's tests whenever a file under chapters/ changes,
 * show a compact screen (what passes, the first failure with its message), and move on to the
 * next chapter when one passes. Keys: h hint, n next chapter, l list, r re-run, q quit (read
 * raw from a terminal, or a line at a time from a pipe). Without a terminal on stdout it prints
 * one screen after another instead of redrawing.
 */
import { watch as watchFiles, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import chalk from 'chalk'
import { chapterFiles, doneLines, folderOf, ROOT, writtenChapters, type Chapter } from './chapters.ts'
import { bar, failureReport, groups, mark } from './format.ts'
import { hintsLine, nextHint } from './hints.ts'
import { checkChapter, savedResult, standings, type ChapterResult } from './status.ts'
import { typeErrorLines } from './typecheck.ts'

const DEBOUNCE_MS = 250

/** A change the watcher should ignore: editor swap files, backups, dotfiles. */
const ignored = (name: string): boolean => name.split('/').some((p) => p.startsWith('.')) || /(~|\.swp|\.swx|\.tmp|^4913)$/.test(name)

export async function watch(start: Chapter | undefined, root = ROOT): Promise<number> {
  const tty = Boolean(process.stdout.isTTY)
  const raw = Boolean(process.stdin.isTTY)
  const out = (line = '') => process.stdout.write(line + '\n')
  const chapters = writtenChapters(root)
  const at = (c: Chapter): number => chapters.findIndex((x) => x.id === c.id)

  const found = start ? undefined : await standings(root, (c) => out(chalk.dim(`checking chapter ${c.id}...`)))
  let current = start ?? found?.current
  if (!current) {
    out(chalk.green("Every written chapter passes. Each chapter's debrief is solutions/NN-slug/debrief.md."))
    return 0
  }

  let runs = 0
  let running: AbortController | undefined
  let pending: string | undefined
  let timer: NodeJS.Timeout | undefined
  let banner: string[] = []
  /** the compiler's errors in the chapter's files at the last run */
  let types: string[] = []
  let finish: (code: number) => void = () => {}
  const finished = new Promise<number>((r) => (finish = r))
  let quitting = false

  const keys = `${chalk.bold('h')} hint  ${chalk.bold('n')} next chapter  ${chalk.bold('l')} list  ${chalk.bold('r')} re-run  ${chalk.bold('q')} quit${raw ? '' : ' (then Enter)'}`

  function screen(r: ChapterResult, why: string): void {
    const c = r.chapter
    const passed = r.results.filter((t) => t.status === 'passed').length
    if (tty) process.stdout.write('\x1b[2J\x1b[H')
    else out(chalk.dim(`──── run ${runs}: chapter ${c.id} (${why}) ────`))
    for (const line of banner) out(line)
    for (const line of types) out(line)
    out(`${chalk.bold(`Chapter ${c.id}: ${c.title}`)}  ${bar(passed, r.results.length, 20)}  ${passed}/${r.results.length} tests pass`)
    out(
      '  ' +
        groups(r.results)
          .map((g) => `${g.passed === g.total ? mark.passed : g.passed === 0 ? mark.failed : mark['in progress']} ${g.name} ${g.passed}/${g.total}`)
          .join('   '),
    )
    const failures = failureReport(r.results)
    if (failures.length) out('')
    for (const line of failures) out(`  ${line}`)
    const hints = failures.length ? hintsLine(c, root) : undefined
    if (hints) out(chalk.dim(`\n${hints}`))
    const skipped = r.results.filter((t) => t.status === 'skipped').length
    if (skipped) out(chalk.yellow(`\n${skipped} tests skipped: the kernel tests need root on Linux (see vm/README.md)`))
    out(`\n${chalk.dim('edit')} ${chapterFiles(c, root).join('  ')}`)
    out(`\n${chalk.dim('watching chapters/ for changes')}  ${keys}`)
  }

  async function run(why: string): Promise<void> {
    if (running) {
      pending = why
      return
    }
    const chapter = current!
    let last: ChapterResult | undefined
    running = new AbortController()
    runs++
    if (tty) process.stdout.write(chalk.dim(`\nrunning chapter ${chapter.id}'s tests...\n`))
    try {
      types = typeErrorLines(chapter, root)
      last = await checkChapter(chapter, { root, signal: running.signal })
    } catch (error) {
      if (!quitting) out(chalk.red(`the tests could not run: ${error instanceof Error ? error.message : String(error)}`))
      last = undefined
    }
    running = undefined
    if (quitting) return
    if (last) show(last, why)
    if (pending) {
      const again = pending
      pending = undefined
      await run(again)
    }
  }

  /** Show a result; when the chapter passes, move on to the next one not done (and run it). */
  function show(result: ChapterResult, why: string): void {
    const chapter = result.chapter
    if (result.status !== 'done') {
      screen(result, why)
      banner = []
      return
    }
    banner = [...doneLines(chapter).map((l, i) => chalk.green(i ? `  ${l}` : `✓ ${l}`)), '']
    const next = chapters.slice(at(chapter) + 1).find((c) => savedResult(c, root)?.status !== 'done')
    screen(result, why)
    if (!next) {
      out(chalk.green('\nEvery written chapter passes. Well done!'))
      quit(0)
      return
    }
    out(chalk.bold(`\nOn to chapter ${next.id}: ${next.title}. Read chapters/${folderOf(next)}/README.md`))
    current = next
    pending = `chapter ${chapter.id} passed`
  }

  function changed(name: string): void {
    if (ignored(name)) return
    clearTimeout(timer)
    timer = setTimeout(() => void run(`${join('chapters', name)} changed`), DEBOUNCE_MS)
  }

  function quit(code: number): void {
    if (quitting) return
    quitting = true
    clearTimeout(timer)
    clearInterval(orphan)
    watcher.close()
    running?.abort()
    if (raw) process.stdin.setRawMode(false)
    process.stdin.removeAllListeners('data').pause()
    finish(code)
  }

  function key(k: string): void {
    if (k === 'q' || k === '\x03' || k === '\x04') return quit(0)
    if (k === 'r') return void run('re-run')
    if (k === 'h') {
      const { shown, hints } = nextHint(current!, root)
      out(`\n${chalk.bold(`Hint ${shown} of ${hints.length}:`)} ${hints[shown - 1] ?? '(this chapter has no hints)'}`)
      return
    }
    if (k === 'n') {
      const next = chapters[at(current!) + 1]
      if (!next) return void out(chalk.dim('\nthis is the last written chapter'))
      current = next
      banner = []
      return void run(`moved on to chapter ${next.id}`)
    }
    if (k === 'l') {
      out('')
      for (const c of chapters) {
        const s = savedResult(c, root)
        const state = s ? `${mark[s.status]} ${c.id} ${c.title}  ${chalk.dim(`${s.passed}/${s.total}`)}` : `${chalk.dim('?')} ${c.id} ${c.title}  ${chalk.dim('not run yet')}`
        out(`  ${c.id === current!.id ? chalk.bold(state) : state}`)
      }
    }
  }

  let watcher: FSWatcher
  try {
    watcher = watchFiles(join(root, 'chapters'), { recursive: true }, (_event, name) => changed(String(name ?? '')))
  } catch (error) {
    throw new Error(`cannot watch chapters/ (${error instanceof Error ? error.message : String(error)}): use \`npx workbook check N\` instead`)
  }
  // If whatever started us (a terminal, npx) goes away, so do we.
  const parent = process.ppid
  const orphan = setInterval(() => process.ppid !== parent && quit(1), 1000)
  process.once('SIGTERM', () => quit(143))
  process.once('SIGINT', () => quit(130))
  process.once('SIGHUP', () => quit(129))
  if (raw) process.stdin.setRawMode(true)
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (data: string) => [...data].forEach(key))
  // The first screen: the current chapter's result if finding it just ran the tests.
  if (found?.fresh) {
    runs++
    show(found.fresh, 'started')
  } else void run('started')
  return finished
}
