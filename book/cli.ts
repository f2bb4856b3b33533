/**
 * `npm run book` builds the site into book/site/; `npm run book -- --serve` also serves it on
 * 127.0.0.1 and rebuilds on every change. `--instructors` builds the instructors' edition
 * (reference solutions shown), `--out DIR` writes elsewhere, `--port N` picks the port.
 */
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import chalk from 'chalk'
import { ROOT } from '../workbook/chapters.ts'
import { BookError, buildBook, type BuildOptions } from './build.ts'
import { formatProblem } from './includes.ts'
import { serveSite, watchSources } from './serve.ts'

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    instructors: { type: 'boolean', default: false },
    out: { type: 'string' },
    port: { type: 'string', default: '4000' },
  },
})

const options: BuildOptions = {
  out: values.out ?? join(ROOT, 'book/site'),
  edition: values.instructors ? 'instructors' : 'learner',
  liveReload: values.serve,
}

/** Build once and say how it went; false when the book has problems. */
function build(): boolean {
  try {
    const result = buildBook(options)
    for (const w of result.warnings) console.log(chalk.yellow(`warning: ${formatProblem(w)}`))
    const where = relative(process.cwd(), join(result.out, 'index.html')) || 'index.html'
    console.log(`book: ${result.pages.length} pages, the whole book on one page, and ${result.files.length - result.pages.length - 1} source pages (${options.edition === 'instructors' ? 'instructors\'' : 'learner\'s'} edition) in ${result.ms} ms → ${where}`)
    return true
  } catch (error) {
    if (!(error instanceof BookError)) throw error
    for (const p of error.problems) console.error(chalk.red(`error: ${formatProblem(p)}`))
    console.error(chalk.red(`book: not built, ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}`))
    return false
  }
}

const ok = build()
if (!values.serve) process.exit(ok ? 0 : 1)

const site = await serveSite(options.out!, Number(values.port))
console.log(`book: serving ${site.url} (Ctrl+C to stop)`)
watchSources(
  ['chapters', 'solutions', 'native', 'book', 'workbook/chapters.json', 'README.md'].map((p) => join(ROOT, p)),
  options.out!,
  () => { if (build()) site.reload() },
)
