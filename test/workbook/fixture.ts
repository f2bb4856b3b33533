/**
 * Temporary copies of this workbook to drive the `workbook` command in, as a learner or an
 * instructor would. So that they do not depend on which chapters are written, a copy has two
 * chapters and marks every other one as planned: chapter 01 as it is but for its tests, which are
 * stand-in.ts's (no real dockerd to ask), and a "chapter 02" made from chapter 01 (its starter,
 * reference and tests, renamed), plus one test of chapter 02 that also calls chapter 01's code,
 * so grading with the reference below a chapter makes a difference.
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { onTestFinished } from 'vitest'
import { ROOT, type Chapter } from '../../workbook/chapters.ts'
import { copyWorkbook } from '../../workbook/tree.ts'

export const FIRST = '01-process'
export const SECOND = '02-namespaces'

const DEPENDS_ON_FIRST = `import { expect, it } from 'vitest'
import { exitCode as firstExitCode } from '#ch/${FIRST}/process.ts'
import { exitCode } from '#ch/${SECOND}/process.ts'

it('agrees with chapter 01', () => {
  expect(exitCode({ code: null, signal: 9 }), 'both chapters report a killed process alike').toBe(firstExitCode({ code: null, signal: 9 }))
})
`

/** Every chapter folder of the tree except chapter 01's, and chapter 01's tests: not copied. */
function otherChapters(): string[] {
  return ['chapters', 'solutions', 'test'].flatMap((top) =>
    readdirSync(join(ROOT, top)).filter((d) => /^\d\d-/.test(d) && (d !== FIRST || top === 'test')).map((d) => `${top}/${d}`),
  )
}

/** Copy a folder of chapter 01 as chapter 02's, renaming every mention. */
function cloneAsSecond(dir: string, from: string, to: string): void {
  cpSync(join(dir, from), join(dir, to), { recursive: true })
  for (const f of readdirSync(join(dir, to), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|md)$/.test(f))) {
    const file = join(dir, to, f)
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll(FIRST, SECOND).replaceAll('TODO(01)', 'TODO(02)'))
  }
}

/**
 * A fresh copy with both chapters as starters, removed when the test finishes. With `git`, the
 * copy is a repository whose first commit holds the starters, as a learner's clone does.
 */
export async function workbookCopy(options: { git?: boolean } = {}): Promise<string> {
  const dir = copyWorkbook(ROOT, 'workbook-test-', [...otherChapters(), 'test/workbook'])
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, `test/${FIRST}`))
  copyFileSync(join(ROOT, 'test/workbook/stand-in.ts'), join(dir, `test/${FIRST}/process.test.ts`))
  cloneAsSecond(dir, `chapters/${FIRST}`, `chapters/${SECOND}`)
  cloneAsSecond(dir, `solutions/${FIRST}`, `solutions/${SECOND}`)
  cloneAsSecond(dir, `test/${FIRST}`, `test/${SECOND}`)
  writeFileSync(join(dir, `test/${SECOND}/depends.test.ts`), DEPENDS_ON_FIRST)
  const chapters = JSON.parse(readFileSync(join(dir, 'workbook/chapters.json'), 'utf8')) as Chapter[]
  const first = chapters[0]!
  const edited = chapters.map((c, i) => (i === 0 ? c : i === 1 ? { ...c, planned: undefined, hints: first.hints } : { ...c, planned: true }))
  writeFileSync(join(dir, 'workbook/chapters.json'), JSON.stringify(edited, null, 2))
  if (options.git) await commit(dir, 'the starters')
  return dir
}

export async function commit(dir: string, message: string): Promise<void> {
  const git = (...args: string[]) => execa('git', ['-C', dir, '-c', 'user.name=learner', '-c', 'user.email=learner@localhost', ...args])
  if (!readdirSync(dir).includes('.git')) await git('init', '-q')
  await git('add', '-A')
  await git('commit', '-q', '-m', message)
}

/** Chapter 01's (or 02's) reference copied over the learner's files: the chapter is solved. */
export function solve(dir: string, folder: string): void {
  for (const f of readdirSync(join(dir, 'solutions', folder)).filter((f) => f.endsWith('.ts')))
    copyFileSync(join(dir, 'solutions', folder, f), join(dir, 'chapters', folder, f))
}

/** The environment a learner's shell has: no colour forced or refused, no mode chosen. */
function learnerEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(FORCE_COLOR|NO_COLOR|WORKBOOK_\w+|VITEST\w*|NODE_OPTIONS)$/.test(k)),
  ) as Record<string, string>
}

/** `npx workbook ARGS` in `dir`, its output piped (so: no terminal). */
export function workbook(dir: string, args: string[], options: { detached?: boolean } = {}) {
  return execa(process.execPath, [join(dir, 'bin/workbook.cjs'), ...args], { cwd: dir, env: learnerEnv(), extendEnv: false, reject: false, stdin: 'pipe', ...options })
}
