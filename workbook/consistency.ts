/**
 * The checks that keep the workbook's parts in agreement: the metadata, the folders, the
 * package.json "imports" map, and the starters' TODOs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { folderOf, loadChapters, ROOT, type Chapter } from './chapters.ts'
import { editedFiles, loadMistakes } from './mistakes.ts'

const filesOf = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).sort() : []

/** Every problem found, as a sentence; empty when all agree. */
export function consistencyProblems(root = ROOT): string[] {
  const problems: string[] = []
  const chapters = loadChapters(root)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { imports?: Record<string, Record<string, string>> }
  chapters.forEach((c, i) => {
    if (c.id !== String(i + 1).padStart(2, '0')) problems.push(`chapters.json: entry ${i + 1} has id ${c.id}`)
  })
  const known = new Set(chapters.map(folderOf))
  for (const top of ['chapters', 'solutions']) {
    for (const dir of readdirSync(join(root, top), { withFileTypes: true })) {
      if (dir.isDirectory() && !known.has(dir.name)) problems.push(`${top}/${dir.name} is not in workbook/chapters.json`)
    }
  }
  for (const c of chapters) problems.push(...chapterProblems(root, c, pkg.imports ?? {}))
  return problems
}

function chapterProblems(root: string, c: Chapter, imports: Record<string, Record<string, string>>): string[] {
  const folder = folderOf(c)
  const dirs = ['chapters', 'solutions', c.tests].map((d) => join(root, d === c.tests ? d : `${d}/${folder}`))
  if (c.planned) {
    return dirs.filter(existsSync).map((d) => `${folder} is planned in chapters.json but ${relative(root, d)} exists`)
  }
  const problems = dirs.filter((d) => !existsSync(d)).map((d) => `${folder}: ${relative(root, d)} is missing`)
  if (!existsSync(join(root, 'chapters', folder, 'README.md'))) problems.push(`${folder}: the chapter's text (README.md) is missing`)
  if (!existsSync(join(root, 'solutions', folder, 'debrief.md')))
    problems.push(`${folder}: the chapter's debrief (solutions/${folder}/debrief.md) is missing`)
  if (c.hints.length === 0) problems.push(`${folder}: chapters.json gives it no hints`)
  const starters = filesOf(join(root, 'chapters', folder))
  const solutions = filesOf(join(root, 'solutions', folder))
  if (starters.join() !== solutions.join())
    problems.push(`${folder}: starter modules [${starters}] differ from solution modules [${solutions}]`)
  const entry = imports[`#ch/${folder}/*`]
  if (entry?.[`ref-${c.id}`] !== `./solutions/${folder}/*` || entry?.default !== `./chapters/${folder}/*`)
    problems.push(`${folder}: package.json "imports" needs "#ch/${folder}/*": {"ref-${c.id}": "./solutions/${folder}/*", "default": "./chapters/${folder}/*"}`)
  let stubs = 0
  for (const file of starters) {
    const text = readFileSync(join(root, 'chapters', folder, file), 'utf8')
    for (const body of stubBodies(text)) {
      stubs++
      if (!/TODO\(\d\d\)/.test(body.text) || !/^\s*\/\/\s+1\. /m.test(body.text))
        problems.push(`chapters/${folder}/${file}: ${body.fn}() throws NotImplementedError without a TODO(NN) and numbered hints`)
      const code = dictated(body.text)
      if (code)
        problems.push(`chapters/${folder}/${file}: the TODO of ${body.fn}() gives the code (${code}): state the goal, the constraints and where to look; calls belong in the hints`)
    }
  }
  if (stubs === 0) problems.push(`${folder}: no starter function throws NotImplementedError`)
  try {
    for (const mistake of loadMistakes(c, root)) {
      const edited = editedFiles(c, mistake, root)
      if (typeof edited === 'string') problems.push(`${folder}: mistake ${mistake.id}: ${edited}`)
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error))
  }
  return problems
}

/**
 * Code a TODO hands the learner instead of asking for it: helper calls, awaited calls, calls
 * with literal arguments, option arrays, constructor calls. A man page reference such as
 * pivot_root(2) is not a call.
 */
const DICTATES = [/helper\.\w+\(/, /\bawait\s+[\w.]+\(/, /\b\w+\((?!\d\))[^)\n]*['"`[{]/, /\[\s*'[\w-]+'\s*(,\s*'[\w-]+'\s*)+\]/, /\bnew \w+\(/]

function dictated(body: string): string | undefined {
  const todo = body.slice(body.search(/TODO\(\d\d\)/))
  const comments = todo.split('\n').filter((l) => /^\s*\/\//.test(l)).join('\n')
  for (const re of DICTATES) {
    const found = comments.match(re)
    if (found) return found[0]
  }
  return undefined
}

/** The text between each `throw new NotImplementedError(...)` and the function head above it. */
function stubBodies(text: string): { fn: string; text: string }[] {
  const found: { fn: string; text: string }[] = []
  for (const m of text.matchAll(/throw new NotImplementedError\('[^']+', '([^']+)'\)/g)) {
    const before = text.slice(0, m.index)
    const method = [...before.matchAll(/\n {2}#?\w+\(.*\{\n/g)].at(-1)?.index ?? -1 // a method that is neither async nor a function
    const head = Math.max(before.lastIndexOf('function '), before.lastIndexOf('async '), before.lastIndexOf('\n  async'), method)
    found.push({ fn: m[1]!, text: before.slice(head) })
  }
  return found
}
