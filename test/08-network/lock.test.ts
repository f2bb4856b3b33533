/**
 * withLock's take-over of a lock whose holder died, when several runs find it at once and when
 * runs are killed while they take it over: pure file system, in temp directories.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { removeDead, withLock } from '#ch/08-network/ipam.ts'
import { allocate } from '../../lib/addresses.ts'
import { processStart } from '../../lib/net.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'

const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))
const SECTION = '(see "Two runs, one dead holder")'

/** The lock content of a process that has ended: its PID and start time, as a holder writes them. */
async function deadHolder(): Promise<string> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' })
  const exited = once(child, 'exit')
  const owner = JSON.stringify({ pid: child.pid, start: processStart(child.pid!) })
  child.kill('SIGKILL')
  await exited
  return owner
}

/** A locker.ts process on `dir`; `line` resolves to its first line of output ('' if it said nothing). */
function locker(dir: string, mode: string): { line: Promise<string>; exited: Promise<unknown>; kill(): void } {
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(START)}).start('locker', 'test/08-network/locker.ts')`, dir, '10.0.8.0/24', mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  let out = ''
  const line = new Promise<string>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()).includes('\n') && resolve(out.split('\n')[0]!))
    void exited.then(() => resolve(out.split('\n')[0]!))
  })
  // Only while it has not been reaped: its PID cannot have been reused before then.
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')
  onCleanup(async () => {
    kill()
    await exited
  })
  return { line, exited, kill }
}

/** Throw what a locker reported: its NotImplementedError as one, so a starter fails with it. */
function reported(line: string): string {
  if (!line.startsWith('{')) return line
  const { error } = JSON.parse(line) as { error: { name: string; message: string; fn?: string } }
  if (error.name === 'NotImplementedError') throw new NotImplementedError('08-network', error.fn ?? 'withLock')
  return `${error.name}: ${error.message}`
}

/** `promise`, or 'timeout' after `ms`. */
const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([promise, sleep(ms, 'timeout' as const)])

/** After runs were killed in `dir`: a fresh allocation must get the lock soon and leave ipam.json alone. */
async function freshRun(dir: string, what: string): Promise<void> {
  const lease = await within(allocate(dir, '10.0.8.0/24', process.pid), 5000)
  expect(lease, `${what}, and a fresh run had not got the lock 5 s later: what did the killed run leave that every later run waits for? ${SECTION}`).toMatchObject({ address: '10.0.8.2' })
  expect(readdirSync(dir).sort(), `${what}, and after a fresh run the state directory holds more than ipam.json: who removes what a killed run left? ${SECTION}`).toEqual(['ipam.json'])
}

/**
 * `rounds` times, 8 runs arrive at once at an ipam.lock holding `planted` (`what` says what that
 * is), each checking that it is alone inside.
 */
async function eightAtOnce(planted: string, what: string, rounds: number): Promise<void> {
  const marks = tempDir()
  for (let round = 1; round <= rounds; round++) {
    const dir = join(tempDir(), 'ipam')
    mkdirSync(dir)
    writeFileSync(join(dir, 'ipam.lock'), planted)
    let inside = 0
    let most = 0
    // Arriving a little apart, each run meets the others at another step of their take-over.
    const run = async (_: unknown, i: number) => {
      await sleep(i % 4)
      return withLock(dir, async () => {
        most = Math.max(most, ++inside)
        // Another process's view of "alone": a file only one can create.
        const mark = join(marks, 'inside')
        closeSync(openSync(mark, 'wx'))
        await sleep(2)
        unlinkSync(mark)
        inside--
      })
    }
    const all = await within(
      Promise.all(Array.from({ length: 8 }, run)).catch((error: unknown) => {
        if (error instanceof NotImplementedError) throw error
        return error
      }),
      10_000,
    )
    expect(most, `round ${round}: ${what} and 8 runs came at once; ${most} of them were inside withLock together: when a run removes the lock it judged dead, is it still the lock it judged? ${SECTION}`).toBe(1)
    expect(all, `round ${round}: ${what} and 8 runs came at once; they did not all get the lock within 10 s ${SECTION}`).toBeInstanceOf(Array)
  }
}

/**
 * The lock content of a process that has exited but is not reaped: its parent (a shell) is stopped
 * with SIGSTOP before the child is killed, so nobody waits for it while the test runs. Both go
 * after the test, by PID: the parent killed, the child reaped with it.
 */
async function unreapedHolder(): Promise<{ owner: string; pid: number }> {
  const parent = spawn('sh', ['-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const exited = once(parent, 'exit')
  onCleanup(async () => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL')
    await exited
  })
  const [line] = (await once(parent.stdout, 'data')) as [Buffer]
  const pid = Number(line.toString().trim())
  const owner = JSON.stringify({ pid, start: processStart(pid) })
  parent.kill('SIGSTOP')
  process.kill(pid, 'SIGKILL')
  // The kernel makes it a zombie as it dies: wait for that, not for a time.
  const state = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0]
  }
  for (const until = Date.now() + 10_000; state() !== 'Z'; ) {
    if (Date.now() > until) throw new Error(`the killed child ${pid} of a stopped shell did not become a zombie within 10 s`)
    await sleep(5)
  }
  return { owner, pid }
}

describe('withLock, two runs and one dead holder', () => {
  it('a holder that was killed and that its stopped parent has not reaped', async () => {
    const { owner, pid } = await unreapedHolder()
    const dir = join(tempDir(), 'ipam')
    mkdirSync(dir)
    writeFileSync(join(dir, 'ipam.lock'), owner)
    const lease = await within(allocate(dir, '10.0.8.0/24', process.pid), 5000)
    expect(lease, `ipam.lock named process ${pid}, killed by SIGKILL; its parent is stopped and has not waited for it yet, so /proc/${pid} is still there with its start time. 5 s later a run had not got the lock: what is left of a process that has exited, until its parent waits, and what can it still hold? (proc(5), /proc/PID/stat) ${SECTION}`).toMatchObject({ address: '10.0.8.2' })
    expect(readdirSync(dir).sort(), `after a run took over the lock of an exited, unreaped process, the state directory holds more than ipam.json ${SECTION}`).toEqual(['ipam.json'])
  })


  it('a run whose work inside withLock threw, then the next run of the same process', async () => {
    const dir = join(tempDir(), 'ipam')
    const failure = new Error('the work inside the lock failed')
    const said = await withLock(dir, () => Promise.reject(failure)).catch((error: unknown) => error)
    if (said instanceof NotImplementedError) throw said
    expect(said, 'withLock ran work that threw, and did not reject with that work\'s error: what did its caller learn?').toBe(failure)
    const next = await within(withLock(dir, async () => 'next'), 5000)
    expect(next, `a run's work inside withLock threw, and 5 s later the next withLock of the same, still running, process had not got the lock: what did the first leave behind? ${SECTION}`).toBe('next')
  })

  it('8 runs at once find a dead holder, 200 times', async () => {
    await eightAtOnce(await deadHolder(), 'ipam.lock named a dead process', 200)
  }, 60_000)

  it('8 runs at once find an ipam.lock its writer left empty, then one it left cut short, 100 times each', async () => {
    await eightAtOnce('', 'ipam.lock was empty, as a writer killed before it wrote leaves it,', 100)
    await eightAtOnce('{"pid":4', 'ipam.lock held {"pid":4 and nothing more, as a writer killed while it wrote leaves it,', 100)
  }, 60_000)

  it('two dead ipam.locks with one text, one after the other, then a live one and the same take-over', async () => {
    const dir = join(tempDir(), 'ipam')
    mkdirSync(dir)
    const lock = join(dir, 'ipam.lock')
    for (const which of ['first', 'second']) {
      writeFileSync(lock, '')
      const removed = await within(removeDead(lock, ''), 5000)
      expect(removed, `the ${which} empty ipam.lock a dead writer left, taken over by one removeDead(lock, ''), alone: it said ${String(removed)}${which === 'second' ? ', after the first such file had been taken over' : ''}. What does a take-over leave that the next take-over of the same text meets? (removeDead's doc comment) ${SECTION}`).toBe(true)
    }
    const live = JSON.stringify({ pid: process.pid, start: processStart(process.pid) })
    writeFileSync(lock, live)
    const removed = await within(removeDead(lock, ''), 5000)
    const now = await readFile(lock, 'utf8').catch(() => undefined)
    expect(now, `ipam.lock held a live run's lock, and a late removeDead(lock, ''), from a run that had read one of the empty files before, said ${String(removed)} and left ${now === undefined ? 'no lock' : JSON.stringify(now)}: is what it removes still the file it judged? ${SECTION}`).toBe(live)
    expect(removed, 'removeDead said it removed a file that is still there').toBe(false)
    expect(readdirSync(dir), `after three take-overs the state directory holds more than the live lock: who removes what a take-over made? ${SECTION}`).toEqual(['ipam.lock'])
  })

  it('6 take-overs of one dead lock while 2 live runs wait to take it, 200 times', async () => {
    const dead = await deadHolder()
    const removedUnder = 'when a run removes the lock it judged dead, is it still the lock it judged?'
    for (let round = 1; round <= 200; round++) {
      const root = tempDir()
      const dir = join(root, 'ipam')
      mkdirSync(dir)
      const lock = join(dir, 'ipam.lock')
      writeFileSync(lock, dead)
      const seen: [string, string][] = []
      let holding = 0
      let over = false
      // A live run: it waits until the dead lock is gone without judging it, then takes the
      // lock with withLock and watches that it stays its own while it holds it.
      const live = async (): Promise<void> => {
        const until = Date.now() + 10_000
        while ((await readFile(lock, 'utf8').catch(() => undefined)) === dead) {
          if (over) return
          if (Date.now() > until) return void seen.push(['the dead lock was still there 10 s later', 'which of the runs that judged it dead removes it?'])
          await new Promise(setImmediate)
        }
        await withLock(dir, async () => {
          const content = await readFile(lock, 'utf8').catch(() => undefined)
          if (++holding > 1) seen.push(['two live runs held ipam.lock at once', removedUnder])
          for (let tick = 0; tick < 3; tick++) {
            await sleep(1)
            const now = await readFile(lock, 'utf8').catch(() => undefined)
            if (now === content) continue
            seen.push([`a live run's ipam.lock was ${now === undefined ? 'removed' : 'replaced'} while it held it`, removedUnder])
            break
          }
          holding--
        })
      }
      // Runs that read the dead lock at once reach their take-over together or some ms apart.
      const takeOver = async (ms: number): Promise<boolean> => {
        await sleep(ms)
        return removeDead(lock, dead)
      }
      const takeOvers = Promise.all([0, 0, 1, 2, 4, 8].map(takeOver)).catch((error: unknown) => {
        over = true
        throw error
      })
      const [said] = await Promise.all([takeOvers, live(), live()])
      const [what, ask] = seen[0] ?? []
      expect(what, `round ${round}: 6 runs found ipam.lock naming a dead process and took it over at once (removeDead), while 2 live runs waited to take the lock; ${what}: ${ask} ${SECTION}`).toBeUndefined()
      const removed = said.filter((yes) => yes === true).length
      expect(removed, `round ${round}: 6 runs took one dead ipam.lock over at once, and ${removed} of their removeDead calls say they removed it: ${removed === 0 ? 'it is gone, so which one did?' : 'only one file was ever dead there'} (removeDead's doc comment) ${SECTION}`).toBe(1)
    }
  }, 60_000)

  it('runs killed after each step of their take-over of a dead lock', async () => {
    const dead = await deadHolder()
    for (let step = 1; ; step++) {
      expect(step, 'a run that meets a dead lock made 60 file system changes before it finished one allocation').toBeLessThan(60)
      const dir = join(tempDir(), 'ipam')
      mkdirSync(dir)
      writeFileSync(join(dir, 'ipam.lock'), dead)
      const run = locker(dir, String(step))
      const said = reported(await run.line)
      await run.exited
      if (said === 'done') break
      expect(said, `a run meeting a dead lock, to be killed after its change number ${step}, failed instead`).toBe('')
      await freshRun(dir, `a run meeting a dead lock was killed right after its file system change number ${step}`)
    }
  }, 120_000) // a process started per change: a dozen on a busy machine

  it('runs killed at random moments while they take or hold the lock', async () => {
    const dir = join(tempDir(), 'ipam')
    for (let round = 1; round <= 3; round++) {
      const runs = Array.from({ length: 4 }, () => locker(dir, 'loop'))
      for (const run of runs) {
        const said = reported(await run.line)
        expect(said, `round ${round}: a run allocating and releasing in a loop beside 3 others failed`).toBe('looping')
      }
      // One at a time, so that those left find each one's lock dead while they wait.
      for (const run of runs) {
        await sleep(20 + Math.random() * 80)
        run.kill()
      }
      await Promise.all(runs.map((run) => run.exited))
    }
    await freshRun(dir, '12 runs that allocated and released in loops were killed at random moments')
  }, 60_000)
})
