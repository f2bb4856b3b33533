/**
 * How a command starts (bin/start.cjs, bin/build.mjs), in a temporary copy of the workbook:
 * an edit takes effect on the next start with no build step, the chapter flags choose whose
 * code runs, and a broken or missing module is one line that names it.
 */
import { appendFileSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ROOT } from '../../workbook/chapters.ts'
import { copyWorkbook } from '../../workbook/tree.ts'

function copy(): string {
  const dir = copyWorkbook(ROOT, 'workbook-start-', ['test', 'book', 'bench', 'vm'])
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Node running `entry` of `dir` through start(), as a command in bin/ does. */
function start(dir: string, entry: string, env: Record<string, string> = {}) {
  const script = `require(${JSON.stringify(join(dir, 'bin/start.cjs'))}).start('probe', ${JSON.stringify(entry)})`
  return execa(process.execPath, ['-e', script], { cwd: dir, env: { WORKBOOK_IMPL: '', WORKBOOK_REFERENCE_BELOW: '', ...env }, reject: false })
}

function minidocker(dir: string, args: string[]) {
  return execa(process.execPath, [join(dir, 'bin/minidocker.cjs'), ...args], { cwd: dir, env: { WORKBOOK_IMPL: '', WORKBOOK_REFERENCE_BELOW: '' }, reject: false })
}

const PROCESS = 'chapters/01-process/process.ts'

describe('starting a command', () => {
  it('runs an edit on the next start, with no build step', async () => {
    const dir = copy()
    mkdirSync(join(dir, 'scratch'))
    const entry = join(dir, 'scratch/entry.ts')
    writeFileSync(entry, "const n: number = 1\nconsole.log('version', n)\n")
    expect((await start(dir, 'scratch/entry.ts')).stdout).toBe('version 1')
    writeFileSync(entry, "const n: number = 2\nconsole.log('version', n)\n")
    expect((await start(dir, 'scratch/entry.ts')).stdout, 'the second start must run the edited file').toBe('version 2')
    utimesSync(entry, new Date(), new Date(Date.now() + 5000)) // touched, not changed
    expect((await start(dir, 'scratch/entry.ts')).stdout).toBe('version 2')
  })

  it('the chapter variables choose the implementation, and a child process inherits them', async () => {
    const dir = copy()
    mkdirSync(join(dir, 'scratch'))
    writeFileSync(
      join(dir, 'scratch/entry.ts'),
      `import { execFileSync } from 'node:child_process'
import { exitCode } from '#ch/01-process/process.ts'
let mine: string
try {
  mine = String(exitCode({ code: null, signal: 9 }))
} catch (error) {
  mine = (error as Error).name
}
const child = execFileSync(process.execPath, ['-e', 'console.log(process.env.WORKBOOK_IMPL)'], { encoding: 'utf8' }).trim()
console.log(mine, child)
`,
    )
    expect((await start(dir, 'scratch/entry.ts')).stdout, 'by default the learner\'s starter runs').toBe('NotImplementedError ')
    expect((await start(dir, 'scratch/entry.ts', { WORKBOOK_IMPL: 'solutions' })).stdout).toBe('137 solutions')
    expect((await start(dir, 'scratch/entry.ts', { WORKBOOK_REFERENCE_BELOW: '2' })).stdout).toBe('137 ')
  })

  it('minidocker --reference-below N runs the reference below chapter N', async () => {
    const dir = copy()
    const mine = await minidocker(dir, ['run', '--', '/bin/true'])
    expect(mine.stderr, 'chapter 01 is a starter in the copy').toMatch(/not written yet/)
    const below = await minidocker(dir, ['--reference-below', '2', 'run', '--', '/bin/true'])
    expect(below.stderr).not.toMatch(/not written yet/)
    expect(below.exitCode, below.stderr).toBe(0)
    expect((await minidocker(dir, ['--reference-below', 'x', 'run'])).stderr).toBe('minidocker: --reference-below needs a chapter number, e.g. --reference-below 4')
  })

  it('a missing chapter module is one line naming it and what to do', async () => {
    const dir = copy()
    rmSync(join(dir, PROCESS))
    const r = await minidocker(dir, ['run', '--', '/bin/true'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr.split('\n'), r.stderr).toHaveLength(1)
    expect(r.stderr).toMatch(/^minidocker: chapters\/01-process\/process\.ts does not exist \(imported by minidocker\/cli\.ts:\d+:\d+\): restore it with `git checkout chapters\/01-process\/process\.ts`/)
    rmSync(join(dir, 'solutions/01-process/process.ts'))
    const ref = await minidocker(dir, ['--reference', 'run', '--', '/bin/true'])
    expect(ref.stderr).toMatch(/^minidocker: solutions\/01-process\/process\.ts does not exist .*run without --reference/)
  })

  it('a syntax error is one line with its file, line and column', async () => {
    const dir = copy()
    appendFileSync(join(dir, PROCESS), '\nexport const broken = (\n')
    const r = await minidocker(dir, ['run', '--', '/bin/true'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr, r.stderr).toMatch(/^minidocker: chapters\/01-process\/process\.ts:\d+:\d+: .+$/)
  })
})
