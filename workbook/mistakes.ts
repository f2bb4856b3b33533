/**
 * The mistakes learners really make, each proven caught. A chapter lists them beside its
 * reference, in solutions/NN-slug/mistakes.json (learners do not read solutions/), as small
 * edits to the reference. For each one, a copy of the workbook gets the edited reference as
 * the learner's chapter, and the test named by `caughtBy` must then fail, not with
 * NotImplementedError, and with a message matching `message`: the words that name the cause.
 * A chapter's mistakes run in a process of their own, whose one vitest serves every run: a
 * vitest start costs seconds, most mistakes' runs less.
 *
 *   npx tsx workbook/mistakes.ts [N ...]   a line per mistake; exit 1 if one is not caught
 * `npm test` runs it for every written chapter.
 */
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { folderOf, ROOT, type Chapter } from './chapters.ts'
import { failureSummary } from './format.ts'
import type { SerializedError, Vitest } from 'vitest/node'
import { reportedTests } from './reporter.ts'
import type { Gate } from './inorder.ts'
import { modeEnv, notImplemented, resultsOf } from './runner.ts'
import { copyWorkbook } from './tree.ts'

export interface Mistake {
  /** short, unique in the chapter: "oldroot-kept" */
  id: string
  /** what the learner did and what it breaks */
  mistake: string
  /** the learner's version, as edits to the reference: `find` occurs exactly once in `file` */
  edits: { file: string; find: string; replace: string }[]
  /** a substring of the full name ("describe > it") of the test that must fail */
  caughtBy: string
  /** a regular expression (case-insensitive) the failure must match */
  message: string
}

export interface MistakeResult {
  mistake: Mistake
  caught: boolean
  /** which test caught it and what it said, or why it was not caught */
  detail: string
  /** how long its run took */
  seconds: number
}

/** At least this many per chapter. */
export const MIN_MISTAKES = 5

export const mistakesFile = (chapter: Chapter, root = ROOT): string => join(root, 'solutions', folderOf(chapter), 'mistakes.json')

/** The chapter's list ([] when it has none), checked for shape so a typo is named, not run. */
export function loadMistakes(chapter: Chapter, root = ROOT): Mistake[] {
  const file = mistakesFile(chapter, root)
  if (!existsSync(file)) return []
  const where = `solutions/${folderOf(chapter)}/mistakes.json`
  let list: unknown
  try {
    list = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new Error(`${where} is not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (!Array.isArray(list)) throw new Error(`${where} must hold an array of mistakes`)
  const ids = new Set<string>()
  for (const [i, m] of list.entries()) {
    const bad = (why: string) => new Error(`${where}, mistake ${i + 1}${m?.id ? ` ("${m.id}")` : ''}: ${why}`)
    for (const key of ['id', 'mistake', 'caughtBy', 'message'] as const) if (typeof m?.[key] !== 'string' || !m[key]) throw bad(`"${key}" must be a non-empty string`)
    if (ids.has(m.id)) throw bad('the id is used twice')
    ids.add(m.id)
    if (!Array.isArray(m.edits) || m.edits.length === 0) throw bad('"edits" must list at least one edit')
    for (const e of m.edits) if (typeof e?.file !== 'string' || typeof e.find !== 'string' || !e.find || typeof e.replace !== 'string') throw bad('each edit needs "file", a non-empty "find" and "replace"')
    try {
      new RegExp(m.message, 'i')
    } catch {
      throw bad(`"message" is not a regular expression: ${m.message}`)
    }
  }
  return list as Mistake[]
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The reference's files the mistake edits, as the mistake leaves them; or why it cannot be applied. */
export function editedFiles(chapter: Chapter, mistake: Mistake, root: string): Map<string, string> | string {
  const edited = new Map<string, string>()
  for (const edit of mistake.edits) {
    const file = join(root, 'solutions', folderOf(chapter), edit.file)
    if (!existsSync(file)) return `solutions/${folderOf(chapter)}/${edit.file} does not exist`
    const text = edited.get(edit.file) ?? readFileSync(file, 'utf8')
    const count = text.split(edit.find).length - 1
    if (count !== 1) return `the text to replace occurs ${count} times in solutions/${folderOf(chapter)}/${edit.file} (it must occur once): ${JSON.stringify(edit.find.slice(0, 60))}`
    edited.set(edit.file, text.replace(edit.find, () => edit.replace))
  }
  return edited
}

/** Put the reference with the mistake's edits in place of the learner's chapter in `copy`; undefined or why not. */
function plant(chapter: Chapter, mistake: Mistake, root: string, copy: string): string | undefined {
  const edited = editedFiles(chapter, mistake, root)
  if (typeof edited === 'string') return edited
  const target = join(copy, 'chapters', folderOf(chapter))
  rmSync(target, { recursive: true, force: true })
  cpSync(join(root, 'solutions', folderOf(chapter)), target, { recursive: true })
  for (const [file, text] of edited) writeFileSync(join(target, file), text)
  return undefined
}

/**
 * A child process that checks one chapter's mistakes, one at a time, as they are handed to it
 * (this module with --serve, reading mistake ids on its stdin). Its environment picks the
 * learner's code with the reference below the chapter: vitest's resolver conditions come from it.
 */
interface Checker {
  /** the mistake's result; "not checked" when the child has stopped */
  check(mistake: Mistake): Promise<MistakeResult>
  /** end its input and wait for it to leave */
  close(): Promise<void>
  /** whether the child has ended (its mistakes left unchecked go to another) */
  readonly stopped: boolean
}

async function startChecker(chapter: Chapter, root: string): Promise<Checker> {
  const { execa } = await import('execa')
  const child = execa(process.execPath, ['--import', 'tsx', join(root, 'workbook/mistakes.ts'), '--serve', chapter.id], {
    cwd: root,
    env: modeEnv({ impl: 'chapters', referenceBelow: Number(chapter.id) }),
    reject: false,
    stdin: 'pipe',
  })
  const waiting: ((line: string | undefined) => void)[] = []
  let rest = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n')
    rest = lines.pop()!
    for (const line of lines.filter((l) => l.startsWith(RESULT))) waiting.shift()?.(line.slice(RESULT.length))
  })
  const stopped = () => child.exitCode !== null || child.signalCode !== null
  const ended = child.then((run) => {
    for (const answer of waiting.splice(0)) answer(undefined)
    return run
  })
  return {
    async check(mistake) {
      const started = Date.now()
      const line = await new Promise<string | undefined>((resolve) => {
        if (stopped()) return resolve(undefined)
        waiting.push(resolve)
        child.stdin!.write(`${mistake.id}\n`)
      })
      const seconds = Math.round((Date.now() - started) / 1000)
      if (line !== undefined) return { mistake, seconds, ...(JSON.parse(line) as { caught: boolean; detail: string }) }
      const run = await ended
      return { mistake, seconds, caught: false, detail: `not checked: the check stopped (exit ${run.exitCode}): ${String(run.stderr).trim().split('\n').slice(-5).join(' | ')}` }
    },
    async close() {
      child.stdin!.end()
      await ended
    },
    get stopped() {
      return stopped()
    },
  }
}

/** Apply each of the chapter's mistakes (or those of `ids`) in turn, and see which test catches it. */
export async function checkMistakes(chapter: Chapter, root = ROOT, onResult: (r: MistakeResult) => void = () => {}, ids?: string[]): Promise<MistakeResult[]> {
  const mistakes = loadMistakes(chapter, root).filter((m) => !ids || ids.includes(m.id))
  if (mistakes.length === 0) return []
  const checker = await startChecker(chapter, root)
  const results: MistakeResult[] = []
  try {
    for (const mistake of mistakes) {
      results.push(await checker.check(mistake))
      onResult(results.at(-1)!)
    }
  } finally {
    await checker.close()
  }
  return results
}

/**
 * Every chapter's mistakes, checked by up to `checkers` child processes, each started through
 * `through` and holding its place until it leaves: a child stays with its chapter while the
 * chapter has mistakes left, since its start (a copy of the workbook, a vitest) costs seconds.
 * A new child goes where the most time is left to wait for: the chapter's unchecked mistakes
 * times its runs' mean time so far, shared with the children already there. The later
 * chapters' runs start daemons and take longest: with nothing measured yet, they go first.
 * Gives a promise per chapter, in the chapters' order, of its results in its list's order, and
 * one that settles once every child has left (and removed its copy of the workbook).
 */
export function checkAllMistakes(chapters: Chapter[], root: string, through: Gate, checkers: number): { byChapter: Promise<MistakeResult[]>[]; over: Promise<void> } {
  const plans = chapters.map((chapter, order) => {
    const mistakes = loadMistakes(chapter, root)
    let done!: (results: MistakeResult[]) => void
    const finished = new Promise<MistakeResult[]>((resolve) => (done = resolve))
    if (mistakes.length === 0) done([])
    return { chapter, order, mistakes, left: [...mistakes], results: [] as MistakeResult[], children: 0, finished, done }
  })
  const mean = (rs: MistakeResult[]) => (rs.length ? rs.reduce((sum, r) => sum + r.seconds, 0) / rs.length : undefined)
  const waitLeft = (plan: (typeof plans)[number]) => (plan.left.length * (mean(plan.results) ?? mean(plans.flatMap((p) => p.results)) ?? 1)) / (plan.children + 1)
  const serve = async (): Promise<boolean> => {
    const plan = plans.filter((p) => p.left.length > 0).sort((a, b) => waitLeft(b) - waitLeft(a) || b.order - a.order)[0]
    if (!plan) return false
    plan.children++
    const checker = await startChecker(plan.chapter, root)
    try {
      for (let mistake = plan.left.shift(); mistake; mistake = plan.left.shift()) {
        const result = await checker.check(mistake)
        plan.results.push(result)
        if (plan.results.length === plan.mistakes.length) plan.done(plan.mistakes.map((m) => plan.results.find((r) => r.mistake === m)!))
        if (checker.stopped) break // the rest go to a new child
      }
    } finally {
      plan.children--
      await checker.close()
    }
    return true
  }
  const loops = Array.from({ length: checkers }, async () => { while (await through(serve)); })
  return { byChapter: plans.map((p) => p.finished), over: Promise.all(loops).then(() => undefined) }
}

/** How the child marks a result line on its stdout (where vitest may print too). */
const RESULT = 'mistake-result '

/** The child's part: each mistake id read on stdin, through one vitest, a line per result. */
async function serve(chapter: Chapter, root: string): Promise<void> {
  const copy = copyWorkbook(root, 'workbook-mistakes-')
  let vitest: Vitest | undefined
  try {
    const { createVitest } = await import('vitest/node')
    vitest = await createVitest('test', { root: copy, watch: false, reporters: [{}] })
    // The chapter's tests as the reference's code collects them, once: each mistake runs only
    // the files holding its test, since loading the chapter's other files costs seconds a run,
    // and their set-up (daemons, a registry) more.
    cpSync(join(root, 'solutions', folderOf(chapter)), join(copy, 'chapters', folderOf(chapter)), { recursive: true })
    const collected = await vitest.collect([chapter.tests])
    const tests = resultsOf(reportedTests(collected.testModules, []))
    const { createInterface } = await import('node:readline')
    for await (const id of createInterface({ input: process.stdin })) {
      const mistake = loadMistakes(chapter, root).find((m) => m.id === id)
      const result = mistake ? await checkOne(vitest, chapter, mistake, root, copy, tests).finally(() => killLeftovers(copy)) : { caught: false, detail: `no mistake "${id}"` }
      console.log(RESULT + JSON.stringify({ caught: result.caught, detail: result.detail }))
    }
  } finally {
    await vitest?.close()
    rmSync(copy, { recursive: true, force: true })
  }
}

/**
 * Planted wrong code can leave a container behind that no test knows of (a runtime's process
 * parked on its fifo after its parent has gone, or left paused, say): every process still
 * running the copy's own helper was started by this run, and is killed by PID, its cgroups
 * thawed first (v1's freezer holds off SIGKILL). The tests' cleanup is imported only here: it
 * reads this process's cgroups as it loads, and other commands load this module too.
 */
async function killLeftovers(copy: string): Promise<void> {
  const { thawAndKill } = await import('../test/support/hierarchies.ts')
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(`${copy}/`)) thawAndKill(Number(pid))
    } catch {}
  }
}

async function checkOne(vitest: Vitest, chapter: Chapter, mistake: Mistake, root: string, copy: string, listed: { file: string; name: string }[]): Promise<{ caught: boolean; detail: string }> {
  const files = [...new Set(listed.filter((t) => t.name.includes(mistake.caughtBy)).map((t) => t.file))]
  if (files.length === 0) return { caught: false, detail: `no test of ${chapter.tests} is named like "${mistake.caughtBy}"` }
  const unplanted = plant(chapter, mistake, root, copy)
  if (unplanted) return { caught: false, detail: unplanted }
  const planted = join(copy, 'chapters', folderOf(chapter))
  for (const file of readdirSync(planted, { recursive: true, encoding: 'utf8' })) vitest.invalidateFile(join(planted, file))
  // vitest matches the pattern against names joined with spaces: filter by the test's own title, then by the full name.
  vitest.setGlobalTestNamePattern(escape(mistake.caughtBy.split(' > ').at(-1)!))
  const run = await vitest.runTestSpecifications(files.map((f) => vitest.getRootProject().createSpecification(join(copy, f))))
  const tests = resultsOf(reportedTests(run.testModules, run.unhandledErrors as SerializedError[])).filter((t) => t.name.includes(mistake.caughtBy))
  if (tests.length === 0) return { caught: false, detail: `no test of ${files.join(', ')} named like "${mistake.caughtBy}" ran` }
  const failed = tests.filter((t) => t.status === 'failed' && !notImplemented(t))
  if (failed.length === 0) return { caught: false, detail: `not caught: "${tests[0]!.name}" ${tests[0]!.status === 'failed' ? 'failed with NotImplementedError' : tests[0]!.status}` }
  const pattern = new RegExp(mistake.message, 'i')
  const named = failed.find((t) => pattern.test(t.failure ?? ''))
  if (!named) return { caught: false, detail: `"${failed[0]!.name}" fails, but its message does not match /${mistake.message}/i: ${failureSummary(failed[0]!.failure ?? '')}` }
  return { caught: true, detail: `caught by "${named.name}": ${failureSummary(named.failure ?? '')}` }
}

async function main(args: string[]): Promise<void> {
  const { findChapter, writtenChapters } = await import('./chapters.ts')
  if (args[0] === '--serve') return serve(findChapter(args[1]!), ROOT)
  const chapters = args.length ? args.map((k) => findChapter(k)) : writtenChapters()
  let missed = 0
  for (const chapter of chapters) {
    const results = await checkMistakes(chapter, ROOT, (r) => console.log(`${r.caught ? '✓' : '✗'} ${folderOf(chapter)} ${r.mistake.id} (${r.seconds} s): ${r.detail}`))
    missed += results.filter((r) => !r.caught).length
    if (results.length < MIN_MISTAKES) {
      console.log(`✗ ${folderOf(chapter)} lists ${results.length} mistakes in solutions/${folderOf(chapter)}/mistakes.json; at least ${MIN_MISTAKES}`)
      missed++
    }
  }
  process.exitCode = missed ? 1 : 0
}

// Run as a script (not when imported): no top-level await, so the CommonJS bundle can hold this module.
if (import.meta.url === `file://${process.argv[1]}`) void main(process.argv.slice(2))
