/**
 * The learner's and instructor's command: `npx workbook [COMMAND]`.
 *   (none) | progress   where you stand in every chapter, and what to do next
 *   check N            run chapter N's tests against your code
 *   hint N             one more hint for chapter N
 *   selftest           the workbook's own test suite (what `npm test` runs)
 */
import chalk from 'chalk'
import { findChapter, folderOf, loadChapters, type Chapter } from './chapters.ts'
import { loadState, saveState } from './state.ts'
import { checkAll, checkChapter, type ChapterResult } from './status.ts'

const USAGE = `usage: npx workbook [progress | check N | hint N | selftest]`

const mark = { done: chalk.green('✓'), 'in progress': chalk.yellow('◐'), 'not started': chalk.dim('·') }

function bar(done: number, total: number, width = 24): string {
  const full = Math.round((done / total) * width)
  return chalk.green('█'.repeat(full)) + chalk.dim('░'.repeat(width - full))
}

async function progress(): Promise<number> {
  const chapters = loadChapters()
  console.log(chalk.dim('running every chapter\'s tests against your code...'))
  const results = await checkAll()
  const byId = new Map(results.map((r) => [r.chapter.id, r]))
  const done = results.filter((r) => r.status === 'done').length
  console.log(`\n${chalk.bold('minidocker workbook')}  ${bar(done, chapters.length)}  ${done}/${chapters.length} chapters\n`)
  for (const c of chapters) {
    const r = byId.get(c.id)
    const state = r ? `${mark[r.status]} ${c.id} ${c.title}` : chalk.dim(`  ${c.id} ${c.title} (coming)`)
    const count = r ? chalk.dim(`  ${r.results.filter((t) => t.status === 'passed').length}/${r.results.length} tests`) : ''
    console.log(`  ${state}${count}`)
  }
  const next = results.find((r) => r.status !== 'done')
  if (next) {
    console.log(`\nnext: chapter ${next.chapter.id}, ${next.chapter.title}`)
    console.log(`  read   chapters/${folderOf(next.chapter)}/README.md`)
    console.log(`  write  chapters/${folderOf(next.chapter)}/*.ts`)
    console.log(`  run    npx workbook check ${Number(next.chapter.id)}`)
  } else console.log(chalk.green('\nEvery written chapter passes. Compare your code with solutions/.'))
  return 0
}

function printCheck(r: ChapterResult): void {
  for (const t of r.results) {
    const m = t.status === 'passed' ? chalk.green('✓') : t.status === 'skipped' ? chalk.yellow('-') : chalk.red('✗')
    console.log(`  ${m} ${t.name}`)
  }
  const first = r.results.find((t) => t.status === 'failed')
  if (first?.failure) {
    console.log(`\n${chalk.bold('First failure:')} ${first.name}`)
    const lines = first.failure.split('\n').filter((l) => !/node_modules|node:internal/.test(l))
    for (const line of lines.slice(0, 14)) console.log(`  ${line}`)
  }
}

async function check(chapter: Chapter): Promise<number> {
  console.log(chalk.bold(`Chapter ${chapter.id}: ${chapter.title}`) + chalk.dim(`  (tests: ${chapter.tests}, reference code below chapter ${chapter.id})`))
  const r = await checkChapter(chapter)
  printCheck(r)
  const passed = r.results.filter((t) => t.status === 'passed').length
  console.log(`\n${passed} passed, ${r.results.length - passed} failed`)
  if (r.status === 'done') {
    console.log(chalk.green(`\nChapter ${chapter.id} is done. Compare with the reference: solutions/${folderOf(chapter)}/`))
    return 0
  }
  console.log(chalk.dim(`\nStuck? npx workbook hint ${Number(chapter.id)}`))
  return 1
}

function hint(chapter: Chapter): number {
  const state = loadState()
  const shown = Math.min((state.hints[chapter.id] ?? 0) + 1, chapter.hints.length)
  state.hints[chapter.id] = shown
  saveState(state)
  console.log(chalk.bold(`Chapter ${chapter.id} hints (${shown} of ${chapter.hints.length}):`))
  chapter.hints.slice(0, shown).forEach((h, i) => console.log(`\n  ${i + 1}. ${h}`))
  if (shown === chapter.hints.length) console.log(chalk.dim(`\nThat was the last hint. The TODO comments in chapters/${folderOf(chapter)}/ have more.`))
  return 0
}

function written(key: string | undefined): Chapter {
  if (!key) throw new Error(`which chapter? ${USAGE}`)
  const chapter = findChapter(key)
  if (chapter.planned) throw new Error(`chapter ${chapter.id} (${chapter.title}) is not written yet`)
  return chapter
}

async function main([command, arg]: string[]): Promise<number> {
  switch (command) {
    case undefined:
    case 'progress':
      return progress()
    case 'check':
      return check(written(arg))
    case 'hint':
      return hint(written(arg))
    case 'selftest':
      await import('./selftest.ts')
      return process.exitCode === undefined ? 0 : Number(process.exitCode)
    case 'help':
    case '--help':
      console.log(USAGE)
      return 0
    default:
      throw new Error(`unknown command "${command}". ${USAGE}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(chalk.red(`workbook: ${error instanceof Error ? error.message : String(error)}`))
    process.exit(2)
  },
)

