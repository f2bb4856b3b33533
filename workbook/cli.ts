/**
 * The learner's and instructor's command: `npx workbook [COMMAND]`.
 *   (none) | progress       where you stand in every chapter, and the one command to run next
 *   watch [N]               re-run the current chapter's tests on every change under chapters/
 *   check [N]               run chapter N's tests against your code, once
 *   hint [N]                one more hint for chapter N
 *   reset N [--from REV|DIR] restore chapter N's starter; your version is kept in .workbook/saved/
 *   grade [--chapter N]... [--reference-below] [--out DIR] [--timeout SEC] PATH...
 *                           grade learners' checkouts with this repo's tests: table, JSON, JUnit
 *   selftest                the workbook's own test suite (what `npm test` runs)
 *   finale [--reference | --reference-below N] [-H unix://SOCKET]
 *                           the whole stack for `run hello-world`: registry, minicontainerd, minidockerd; Ctrl-C stops it
 * N defaults to the current chapter: the first whose last remembered result does not pass.
 */
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import chalk from 'chalk'
import { chapterFiles, debriefOf, doneLines, findChapter, folderOf, loadChapters, ROOT, writtenChapters, type Chapter } from './chapters.ts'
import { bar, failureReport, mark, percent, seconds, table } from './format.ts'
import { findCheckouts, gradeCheckout, reportNames, writeReports, writeSummary, type CheckoutReport } from './grade.ts'
import { hintsLine, nextHint } from './hints.ts'
import { inOrder } from './inorder.ts'
import { environmentProblems, folderProblems } from './preflight.ts'
import { resetChapter } from './reset.ts'
import { checkChapter, rememberedCurrent, standings, type ChapterResult, type Standing } from './status.ts'
import { typeErrorLines } from './typecheck.ts'

// chalk already drops colour when stdout is not a terminal; NO_COLOR (no-color.org) too.
if (process.env.NO_COLOR) chalk.level = 0

const USAGE = `usage: npx workbook [progress | watch [N] | check [N] | hint [N] | reset N [--from REV|DIR] | grade [--chapter N]... [--reference-below] [--out DIR] PATH... | selftest | finale [--reference | --reference-below N] [-H unix://SOCKET]]`

/** An error a learner can act on: printed as one line, no stack. */
class Stop extends Error {}

/** Stop at the first problem that keeps the tests from running, and at missing chapter folders. */
function preflight(folders: Chapter[] = []): void {
  const { fatal, warnings } = environmentProblems()
  if (fatal.length) throw new Stop(fatal[0])
  for (const w of warnings) console.log(chalk.yellow(`note: ${w}`))
  const problems = folderProblems(ROOT, folders)
  if (problems.length) throw new Stop(problems.join('\nworkbook: '))
}

function standingCells(s: Standing): string[] {
  const c = s.chapter
  if (!s.saved) return [mark['not started'], `${c.id} ${c.title}`, chalk.dim(`${s.stubs} function${s.stubs === 1 ? '' : 's'} to write`), '']
  const compare = s.saved.status === 'done' ? chalk.dim(`read: ${debriefOf(c)}`) : ''
  return [mark[s.saved.status], `${c.id} ${c.title}`, chalk.dim(`${s.saved.passed}/${s.saved.total} tests`), compare]
}

async function progress(): Promise<number> {
  preflight(writtenChapters())
  const chapters = loadChapters()
  const { all, current } = await standings(ROOT, (c) => console.log(chalk.dim(`checking chapter ${c.id}...`)))
  const byId = new Map(all.map((s) => [s.chapter.id, s]))
  const done = all.filter((s) => s.saved?.status === 'done').length
  console.log(`\n${chalk.bold('minidocker workbook')}  ${bar(done, chapters.length)}  ${done}/${chapters.length} chapters done\n`)
  const rows = chapters.map((c) => {
    const s = byId.get(c.id)
    return s ? standingCells(s) : [' ', chalk.dim(`${c.id} ${c.title}`), chalk.dim('coming'), '']
  })
  for (const line of table(rows)) console.log(`  ${line}`)
  if (!current) {
    console.log(chalk.green(`\nEvery written chapter passes. Each chapter's debrief is solutions/NN-slug/debrief.md.`))
    return 0
  }
  console.log(`\n${chalk.bold(`Now: chapter ${current.id}, ${current.title}`)}`)
  console.log(`  read  chapters/${folderOf(current)}/README.md`)
  chapterFiles(current).forEach((f, i) => console.log(`  ${i === 0 ? 'edit' : '    '}  ${f}`))
  console.log(`  run   ${chalk.bold('npx workbook watch')}`)
  return 0
}

function printCheck(r: ChapterResult): void {
  for (const t of r.results) console.log(`  ${mark[t.status]} ${t.name}`)
  const failures = failureReport(r.results)
  if (failures.length) console.log('')
  for (const line of failures) console.log(`  ${line}`)
}

async function check(chapter: Chapter): Promise<number> {
  console.log(chalk.bold(`Chapter ${chapter.id}: ${chapter.title}`) + chalk.dim(`  (tests: ${chapter.tests}, reference code below chapter ${chapter.id})`))
  for (const line of typeErrorLines(chapter)) console.log(line)
  const r = await checkChapter(chapter)
  printCheck(r)
  const count = (s: string) => r.results.filter((t) => t.status === s).length
  console.log(`\n${count('passed')} passed, ${count('failed')} failed${count('skipped') ? `, ${count('skipped')} skipped` : ''}`)
  if (r.status === 'done') {
    console.log(chalk.green(`\n${doneLines(chapter).join('\n')}`))
    console.log(chalk.dim('Next: npx workbook'))
    return 0
  }
  if (count('failed') === 0 && count('skipped') > 0) console.log(chalk.yellow('\nThe skipped tests need root on Linux: run as root, or in the VM (see vm/README.md).'))
  else console.log(chalk.dim(`\nStuck? ${hintsLine(chapter) ?? `the TODO comments in chapters/${folderOf(chapter)}/ guide you`}`))
  return 1
}

function hint(chapter: Chapter): number {
  const { shown, hints } = nextHint(chapter)
  if (hints.length === 0) {
    console.log(`Chapter ${chapter.id} has no hints: the TODO comments in chapters/${folderOf(chapter)}/ guide you.`)
    return 0
  }
  console.log(chalk.bold(`Chapter ${chapter.id} hints (${shown} of ${hints.length}):`))
  hints.slice(0, shown).forEach((h, i) => console.log(`\n  ${i + 1}. ${h}`))
  if (shown === hints.length) console.log(chalk.dim(`\nThat was the last hint. The TODO comments in chapters/${folderOf(chapter)}/ have more.`))
  else console.log(chalk.dim(`\nAnother: npx workbook hint ${Number(chapter.id)}`))
  return 0
}

async function reset(chapter: Chapter, from: string | undefined): Promise<number> {
  const r = await resetChapter(chapter, { from })
  const folder = `chapters/${folderOf(chapter)}/`
  if (r.unchanged) {
    console.log(`${folder} already holds the starter (${r.source}): nothing to do.`)
    return 0
  }
  if (r.saved) console.log(`Your version of ${folder} is kept in ${r.saved}/`)
  console.log(`Restored the starter ${folder} (${r.files.join(', ')}) from ${r.source}.`)
  return 0
}

/** A path as the user would type it: relative when it is under the current directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') ? path : rel
}

function chapterRows(report: CheckoutReport): string[][] {
  const rows = [['chapter', 'passed', 'failed', 'skipped', 'score', 'time', ''].map((h) => chalk.bold(h))]
  for (const c of report.chapters)
    rows.push([`${mark[c.status]} ${c.folder}`, String(c.passed), String(c.failed), String(c.skipped), percent(c.score), seconds(c.durationMs), chalk.dim(c.notes.join('; '))])
  rows.push([chalk.bold('  total'), String(report.passed), String(report.failed), String(report.skipped), chalk.bold(percent(report.score)), seconds(report.durationMs), ''])
  return rows
}

/** Checkouts graded at once: a chapter's run mostly waits on processes and daemons. */
const CHECKOUTS_AT_ONCE = 2

async function grade(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      chapter: { type: 'string', multiple: true },
      'reference-below': { type: 'boolean', default: false },
      out: { type: 'string', default: 'reports' },
      timeout: { type: 'string', default: '600' },
    },
  })
  if (positionals.length === 0) throw new Stop(`which checkout? usage: npx workbook grade [--chapter N]... [--reference-below] [--out DIR] PATH...`)
  const timeout = Number(values.timeout)
  if (!(timeout > 0)) throw new Stop(`--timeout takes a number of seconds, not "${values.timeout}"`)
  preflight()
  const chapters = values.chapter?.flatMap((v) => v.split(',')).map((k) => written(k))
  const checkouts = findCheckouts(positionals)
  const names = reportNames(checkouts)
  const out = resolve(values.out)
  const many = checkouts.length > 1
  const how = values['reference-below'] ? 'each chapter with the reference for the chapters below it' : "the learner's code for every chapter"
  console.log(chalk.dim(`grading ${checkouts.length} checkout${many ? 's' : ''} with the tests of ${ROOT}, ${how}`))
  const reports: CheckoutReport[] = []
  // Checkouts are graded CHECKOUTS_AT_ONCE at a time and shown in order, each as it is done.
  let stopping = false
  const grading = inOrder(checkouts.map((checkout, i) => async () => {
    if (stopping) return undefined
    return gradeCheckout(checkout, names[i]!, {
      chapters,
      referenceBelow: values['reference-below'],
      timeoutMs: timeout * 1000,
      onChapter: (c) => process.stdout.isTTY && process.stdout.write(chalk.dim(`  ${names[i]}: chapter ${c.id}...\x1b[K\r`)),
    })
  }), CHECKOUTS_AT_ONCE)
  try {
    for (const [i, checkout] of checkouts.entries()) {
      const report = (await grading[i])!
      console.log(`\n${chalk.bold(names[i]!)}  ${chalk.dim(checkout)}`)
      for (const line of table(chapterRows(report), [1, 2, 3, 4, 5])) console.log(`  ${line}`)
      const files = writeReports(report, many ? join(out, report.name) : out)
      console.log(chalk.dim(`  reports: ${files.map(shown).join(', ')}`))
      reports.push(report)
    }
  } finally {
    // after an error, no more checkouts start, and those being graded remove their copies first
    stopping = true
    await Promise.allSettled(grading)
  }
  if (many) {
    const { summary, file } = writeSummary(reports, out)
    const rows = [['checkout', 'chapters done', 'passed', 'failed', 'skipped', 'score', 'time'].map((h) => chalk.bold(h))]
    for (const r of summary.checkouts)
      rows.push([r.name, `${r.chaptersDone}/${reports[0]!.chapters.length}`, String(r.passed), String(r.failed), String(r.skipped), percent(r.score), seconds(r.durationMs)])
    console.log(`\n${chalk.bold('Summary')}`)
    for (const line of table(rows, [1, 2, 3, 4, 5, 6])) console.log(`  ${line}`)
    console.log(chalk.dim(`  summary: ${shown(file)}`))
  }
  return reports.every((r) => r.failed === 0) ? 0 : 1
}

function written(key: string): Chapter {
  const chapter = findChapter(key)
  if (chapter.planned) throw new Stop(`chapter ${chapter.id} (${chapter.title}) is not written yet`)
  return chapter
}

/** Chapter N if given, else the current one by remembered results (no test runs). */
function chapterArg(key: string | undefined): Chapter {
  if (key) return written(key)
  const found = rememberedCurrent()
  if (!found) throw new Stop('no chapter is written yet')
  return found
}

/**
 * The finale: start the stack (workbook/finale.ts) with the learner's chapters, or with the
 * reference's (--reference, as `minidocker --reference`), or the reference's below chapter N
 * (--reference-below N), say what to type, and on Ctrl-C or SIGTERM stop everything it started.
 */
async function finale(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { reference: { type: 'boolean' }, 'reference-below': { type: 'string' }, host: { type: 'string', short: 'H' } } })
  const below = values['reference-below']
  if (below !== undefined && !/^\d+$/.test(below)) throw new Error(`--reference-below takes a chapter number, not "${below}"`)
  // the daemons, shims and runtimes started below inherit the choice
  if (values.reference) {
    process.env.WORKBOOK_IMPL = 'solutions'
    delete process.env.WORKBOOK_REFERENCE_BELOW
  } else if (below !== undefined) process.env.WORKBOOK_REFERENCE_BELOW = String(Number(below))
  const flag = values.reference ? ' --reference' : below !== undefined ? ` --reference-below ${Number(below)}` : ''
  const { DEFAULT_SOCKET, startFinale } = await import('./finale.ts')
  const socket = (values.host ?? `unix://${DEFAULT_SOCKET}`).replace(/^unix:\/\//, '')
  const whose = values.reference ? 'the reference chapters' : below !== undefined ? `your chapters from ${Number(below)} on, the reference's below` : 'your chapters'
  console.log(chalk.dim(`starting a registry, minicontainerd and minidockerd with ${whose}...`))
  // each daemon's lines, named by it unless it names itself
  const output = (daemon: string, text: string) => process.stdout.write(chalk.dim(text.replace(new RegExp(`^(?!${daemon}: )(?=.)`, 'gm'), `${daemon}: `)))
  const stack = await startFinale({ socket, debug: true, output })
  console.log([
    '',
    chalk.bold(`The stack is up: minidockerd on ${stack.host}, its registry mirror on ${stack.registry} serving hello-world.`),
    'In another terminal, type (with a daemon named, minidocker is its client):',
    `  export MINIDOCKER_HOST=${stack.host}`,
    `  npx minidocker${flag} run hello-world`,
    `  npx minidocker${flag} run -d hello-world:sleep`,
    `  pstree -a -l -p ${stack.minicontainerd.pid}; pstree -a -l -p $(ps -o ppid= -p $(pgrep -n -x hello))`,
    `The real docker CLI speaks to it too: docker -H ${stack.host} run hello-world`,
    'minidockerd logs every request below. Ctrl-C stops everything.',
    '',
  ].join('\n'))
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  console.log(chalk.dim('\nstopping minidockerd, minicontainerd and the registry...'))
  await stack.stop()
  return 0
}

/** `check`, `watch` and `hint` take a chapter and nothing else: `hint 12 --help` must not spend a hint. */
function chapterOnly(command: string, rest: string[]): string | undefined {
  if (rest.length > 1 || rest.some((a) => a.startsWith('-'))) throw new Stop(`usage: npx workbook ${command} [N]`)
  return rest[0]
}

async function main([command, ...rest]: string[]): Promise<number> {
  switch (command) {
    case undefined:
    case 'progress':
      return progress()
    case 'check': {
      const chapter = chapterArg(chapterOnly(command, rest))
      preflight([chapter])
      return check(chapter)
    }
    case 'watch': {
      preflight(writtenChapters())
      const { watch } = await import('./watch.ts')
      const n = chapterOnly(command, rest)
      return watch(n ? written(n) : undefined)
    }
    case 'hint':
      return hint(chapterArg(chapterOnly(command, rest)))
    case 'reset': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { from: { type: 'string' } } })
      if (!positionals[0]) throw new Stop('which chapter? usage: npx workbook reset N [--from REV|DIR]')
      return reset(written(positionals[0]), values.from)
    }
    case 'grade':
      return grade(rest)
    case 'selftest':
      await (await import('./selftest.ts')).selftest()
      return process.exitCode === undefined ? 0 : Number(process.exitCode)
    case 'finale':
      return finale(rest)
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      return 0
    default:
      throw new Stop(`unknown command "${command}". ${USAGE}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    console.error(chalk.red(`workbook: ${message}`))
    if (!(error instanceof Stop) && error instanceof Error && process.env.WORKBOOK_DEBUG) console.error(error.stack)
    process.exit(2)
  },
)
