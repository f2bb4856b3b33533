/**
 * The learner's commands, driven as a learner drives them: `workbook`, `check`, `hint`, `reset`,
 * `watch`, and the one-line errors, in a temporary copy of the workbook (fixture.ts).
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadChapters } from '../../workbook/chapters.ts'
import { environmentProblems } from '../../workbook/preflight.ts'
import { commit, FIRST, SECOND, solve, workbook, workbookCopy } from './fixture.ts'

const COLOUR = /\x1b\[/
/** every chapter on the map, written or planned */
const TOTAL = loadChapters().length
const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8')

describe('workbook (no arguments)', () => {
  it('shows the progress bar, the current chapter, its files and the command to run next', { timeout: 240_000 }, async () => {
    const dir = await workbookCopy()
    const fresh = await workbook(dir, [])
    expect(fresh.exitCode, fresh.stderr).toBe(0)
    expect(fresh.stdout, 'output to a pipe must carry no colour codes').not.toMatch(COLOUR)
    expect(fresh.stdout).toMatch(new RegExp(`░+ {2}0/${TOTAL} chapters done`))
    expect(fresh.stdout, 'a later chapter is not run while an earlier one fails: its functions are counted').toMatch(/02 .+\d+ functions to write/)
    expect(fresh.stdout).toMatch(/· +01 Running a process +0\/\d+ tests/)
    expect(fresh.stdout).toContain('Now: chapter 01, Running a process')
    expect(fresh.stdout).toContain(`read  chapters/${FIRST}/README.md`)
    expect(fresh.stdout).toContain(`edit  chapters/${FIRST}/process.ts`)
    expect(fresh.stdout).toContain('run   npx workbook watch')

    solve(dir, FIRST)
    const check = await workbook(dir, ['check', '1'])
    expect(check.exitCode, check.stdout).toBe(0)
    expect(check.stdout, 'a passed chapter points at its debrief, then the reference').toContain(`Chapter 01 is done. Now read how the real tools do it: solutions/${FIRST}/debrief.md\nand compare your code with the reference: solutions/${FIRST}/`)

    const after = await workbook(dir, [])
    expect(after.stdout, 'chapter 01 was just checked: its result is remembered, not run again').not.toContain('checking chapter 01')
    expect(after.stdout).toContain('checking chapter 02')
    expect(after.stdout).toMatch(new RegExp(`█+░+ {2}1/${TOTAL} chapters done`))
    expect(after.stdout).toMatch(new RegExp(`✓ +01 Running a process +(\\d+)/\\1 tests +read: solutions/${FIRST}/debrief\\.md`))
    expect(after.stdout).toContain('Now: chapter 02')
    expect(after.stdout).toContain(`edit  chapters/${SECOND}/process.ts`)
  })
})

describe('workbook check', () => {
  it('shows how to get a hint when nothing is written yet', { timeout: 180_000 }, async () => {
    const dir = await workbookCopy()
    const check = await workbook(dir, ['check', '2'])
    expect(check.exitCode, 'a chapter that does not pass exits 1').toBe(1)
    expect(check.stdout).toMatch(/NotImplementedError: \w+\(\) is not written yet/)
    expect(check.stdout).toMatch(/Stuck\? 0 of \d+ hints used: npx workbook hint 2 for the next/)
    expect(check.stdout, 'a starter type-checks: the compiler must find its own lib files from the bundled command').not.toContain('does not type-check')
  })

  it("shows the compiler's errors, then every failing test: the first with its diff, the others by their messages", { timeout: 180_000 }, async () => {
    const dir = await workbookCopy()
    solve(dir, SECOND)
    const file = join(dir, `chapters/${SECOND}/process.ts`)
    const code = read(dir, `chapters/${SECOND}/process.ts`)
    expect(code, 'the fixture breaks the reference exitCode()').toContain('return 128 + status.signal')
    writeFileSync(file, code.replace('return 128 + status.signal', 'return status.signal') + "\nexport const notANumber: number = 'nine'\n")
    const check = await workbook(dir, ['check', '2'])
    expect(check.exitCode).toBe(1)
    expect(check.stdout, "the compiler's error with file and line").toMatch(new RegExp(`chapters/${SECOND}/process\\.ts:\\d+:\\d+ Type 'string' is not assignable to type 'number'`))
    expect(check.stdout, 'the expected/received diff of the first failure').toMatch(/- Expected\n.*\+ Received[\s\S]*- 137\n.*\+ 9/)
    expect(check.stdout, "the first failure's line in the test file").toMatch(new RegExp(`at test/${SECOND}/\\S+\\.test\\.ts:\\d+:\\d+`))
    expect(check.stdout, "another failing test's teaching message").toContain('killed by SIGKILL (9): what does `docker run` exit with for a container killed so?')
    expect(check.stdout).toMatch(/2 more failing:/)
  })
})

describe('workbook hint', () => {
  it('reveals one more hint each time and remembers how many in .workbook/state.json', async () => {
    const dir = await workbookCopy()
    const first = await workbook(dir, ['hint', '1'])
    expect(first.stdout).toMatch(/hints \(1 of (\d+)\):\n\n {2}1\. /)
    expect(first.stdout).not.toContain('2. ')
    const second = await workbook(dir, ['hint', '01-process'])
    expect(second.stdout).toMatch(/hints \(2 of \d+\)/)
    expect(second.stdout, 'earlier hints stay on screen').toContain('  1. ')
    expect(JSON.parse(read(dir, '.workbook/state.json')).hints).toEqual({ '01': 2 })
  })
})

describe('workbook reset', () => {
  it("restores the starter and keeps the learner's version in .workbook/saved/", async () => {
    const dir = await workbookCopy({ git: true })
    const starter = read(dir, `chapters/${FIRST}/process.ts`)
    solve(dir, FIRST)
    writeFileSync(join(dir, `chapters/${FIRST}/notes.md`), 'my notes\n')
    // The learner committed their work: the starter is still found in the history.
    await commit(dir, 'my chapter 01')

    const reset = await workbook(dir, ['reset', '1'])
    expect(reset.exitCode, reset.stderr).toBe(0)
    const saved = /kept in (\.workbook\/saved\/01-process-[\w-]+)\//.exec(reset.stdout)?.[1]
    expect(saved, `reset should say where the learner's version went:\n${reset.stdout}`).toBeDefined()
    expect(read(dir, `${saved}/process.ts`), "the learner's code is kept").toBe(read(dir, `solutions/${FIRST}/process.ts`))
    expect(read(dir, `${saved}/notes.md`)).toBe('my notes\n')
    expect(read(dir, `chapters/${FIRST}/process.ts`), 'the starter is back').toBe(starter)
    expect(existsSync(join(dir, `chapters/${FIRST}/notes.md`)), 'files the starter does not have move aside too').toBe(false)

    const again = await workbook(dir, ['reset', '1'])
    expect(again.stdout).toContain('already holds the starter')
    expect(readdirSync(join(dir, '.workbook/saved')), 'nothing more was saved').toHaveLength(1)
  })
})

describe('errors a learner can hit', () => {
  it('a renamed chapter folder: one line that says how to rename it back', async () => {
    const dir = await workbookCopy()
    renameSync(join(dir, `chapters/${FIRST}`), join(dir, 'chapters/01-processes'))
    for (const args of [[], ['check', '1'], ['watch']]) {
      const run = await workbook(dir, args)
      expect(run.exitCode, `workbook ${args.join(' ')}`).toBe(2)
      expect(run.stderr.trim()).toBe(`workbook: chapters/01-processes should be chapters/${FIRST}: rename it back (mv chapters/01-processes chapters/${FIRST}), or run \`npx workbook reset 1\` for a fresh starter`)
    }
  })

  it('the native helper not built: one line that says to run npm install', async () => {
    const dir = await workbookCopy()
    rmSync(join(dir, 'native/build/minidocker-helper'))
    const run = await workbook(dir, ['check', '1'])
    expect(run.exitCode).toBe(2)
    expect(run.stderr.trim()).toBe('workbook: the native helper is not built (native/build/minidocker-helper is missing): run `npm install`')
  })

  it('an unknown chapter or command names what exists', async () => {
    const dir = await workbookCopy()
    const chapter = await workbook(dir, ['hint', '99'])
    expect(chapter.exitCode).toBe(2)
    expect(chapter.stderr).toMatch(/^workbook: no chapter "99": the chapters are 01 process, 02 namespaces/)
    const planned = await workbook(dir, ['check', '3'])
    expect(planned.stderr.trim()).toBe('workbook: chapter 03 (A root filesystem of its own) is not written yet')
    const command = await workbook(dir, ['chek'])
    expect(command.stderr).toMatch(/^workbook: unknown command "chek"\. usage: npx workbook/)
  })

  it('not Linux, or not root: what to do instead', () => {
    const mac = environmentProblems(undefined, { platform: 'darwin', uid: 501 })
    expect(mac.fatal).toEqual(['this is darwin, not Linux: containers are Linux kernel features, so work in the VM (see vm/README.md)'])
    const user = environmentProblems(undefined, { platform: 'linux', uid: 1000 })
    expect(user.fatal).toEqual([])
    expect(user.warnings).toEqual([
      'you are not root, so the kernel tests will skip and chapters past 01 cannot pass: run as root, or in the VM (see vm/README.md)',
    ])
  })
})

describe('workbook watch', () => {
  it('re-runs when a file changes, answers keys, and moves on when the chapter passes', { timeout: 240_000 }, async () => {
    const dir = await workbookCopy()
    // Its own process group, so that a failing test can stop the launcher, the CLI and vitest at once.
    const child = workbook(dir, ['watch'], { detached: true })
    onTestFinished(() => {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM')
    })
    let output = ''
    child.stdout!.on('data', (data: Buffer) => (output += data.toString()))
    const screens = () => output.split('watching chapters/ for changes').length - 1
    async function until(what: string, done: () => boolean): Promise<void> {
      for (let waited = 0; !done(); waited += 100) {
        if (waited > 200_000 || child.exitCode !== null) throw new Error(`watch never showed ${what}; it printed:\n${output}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }

    await until('its first screen', () => screens() === 1)
    expect(output).toMatch(/Chapter 01: Running a process +░+ {2}0\/\d+ tests pass/)
    expect(output, 'the first failure with its message').toMatch(/✗ .+\n +NotImplementedError: \w+\(\) is not written yet/)
    expect(output).toContain('h hint  n next chapter  l list  r re-run  q quit')

    child.stdin!.write('h\n')
    await until('a hint', () => /Hint 1 of \d+:/.test(output))
    child.stdin!.write('l\n')
    await until('the list of chapters', () => output.includes('? 02 Namespaces: UTS, PID and IPC  not run yet'))
    expect(output).toMatch(/· 01 Running a process {2}0\/\d+\n/)

    solve(dir, FIRST)
    await until("chapter 02's screen", () => screens() === 3)
    expect(output, 'the change triggered the run').toMatch(/──── run 2: chapter 01 \(chapters\/01-process\/process\.ts changed\) ────/)
    expect(output).toContain(`✓ Chapter 01 is done. Now read how the real tools do it: solutions/${FIRST}/debrief.md`)
    expect(output).toContain(`On to chapter 02: Namespaces: UTS, PID and IPC. Read chapters/${SECOND}/README.md`)
    expect(output).toMatch(/run 3: chapter 02 \(chapter 01 passed\)[^]*Chapter 02: Namespaces/)

    child.stdin!.write('n\n')
    await until('that there is no next chapter', () => output.includes('this is the last written chapter'))
    child.stdin!.write('q\n')
    const result = await child
    expect(result.exitCode, 'q quits cleanly').toBe(0)
    expect(output, 'output to a pipe must carry no colour codes').not.toMatch(COLOUR)
  })
})
