/**
 * `minirunc` for crash.test.ts, the command line's own code with one of a test's hooks in front:
 *   die N REPORT ARGS...        minirunc ARGS, killed with SIGKILL right before its helper request
 *                               number N (from 0); REPORT gets the names of those it made, as JSON
 *   dieafter N ARGS...          minirunc ARGS, killed with SIGKILL right after its Nth call (from 1)
 *                               that creates, renames or removes a file (test/support/dying.ts)
 *   lockstep SYNC NAME ROOT ARGS...
 *                               minirunc ARGS whose every file-system call on ROOT or below waits
 *                               until the process SYNC/OTHER (OTHER being the other of `a` and `b`)
 *                               has come as far in its own: two creates that check and then act
 *                               both check before either acts
 *   holdlook SYNC ARGS...       minirunc ARGS that, once it has opened an exec.fifo, stops right
 *                               before its next look at a process (a path under /proc/PID/, or a
 *                               signal 0): it writes SYNC/held and waits for SYNC/go; SYNC/done
 *                               says it never stopped
 */
import { beforeEachRequest, dieAfter, dieBeforeRequest } from '../support/dying.ts'

const fs = process.getBuiltinModule('node:fs')
// Started as `node -e CODE ARGS...`: ARGS follow the node binary.
const [mode, ...rest] = process.argv.slice(1)

if (mode === 'die') {
  const [n, report] = rest.splice(0, 2) as [string, string]
  dieBeforeRequest(Number(n), report)
} else if (mode === 'dieafter') {
  dieAfter(Number(rest.shift()))
} else if (mode === 'lockstep') {
  const [sync, name, root] = rest.splice(0, 3) as [string, string, string]
  lockstep(sync, name, root)
} else if (mode === 'holdlook') {
  holdLook(rest.shift()!)
} else {
  throw new Error(`crasher: unknown mode ${mode}`)
}
// minirunc reads its arguments from the third on, as when it is started by its own name.
process.argv.splice(1, process.argv.length, 'minirunc', ...rest)
void import('../../minidocker/minirunc.ts')

function lockstep(sync: string, name: string, root: string): void {
  const real = { ...fs } as Record<string, unknown>
  const write = real.writeFileSync as typeof fs.writeFileSync
  const rename = real.renameSync as typeof fs.renameSync
  const read = real.readFileSync as typeof fs.readFileSync
  const other = `${sync}/${name === 'a' ? 'b' : 'a'}`
  const publish = (text: string) => {
    write(`${sync}/.${name}`, text)
    rename(`${sync}/.${name}`, `${sync}/${name}`)
  }
  const pause = new Int32Array(new SharedArrayBuffer(4))
  let calls = 0
  const inStep = () => {
    publish(String(++calls))
    for (const until = Date.now() + 10_000; Date.now() < until; Atomics.wait(pause, 0, 0, 1)) {
      let theirs: string
      try {
        theirs = read(other, 'utf8')
      } catch {
        continue // not started yet
      }
      if (theirs === 'done' || Number(theirs) >= calls) return
    }
  }
  process.on('exit', () => publish('done'))
  const under = (path: unknown) => typeof path === 'string' && (path === root || path.startsWith(`${root}/`))
  const wrap = (target: Record<string, unknown>, from: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(from)) {
      if (typeof value !== 'function' || /^[A-Z]/.test(key)) continue
      target[key] = (...args: unknown[]) => {
        if (under(args[0])) inStep()
        return (value as (...a: unknown[]) => unknown)(...args)
      }
    }
  }
  wrap(fs as unknown as Record<string, unknown>, real)
  wrap(fs.promises as unknown as Record<string, unknown>, { ...fs.promises })
}

function holdLook(sync: string): void {
  const real = { ...fs } as Record<string, unknown>
  const write = real.writeFileSync as typeof fs.writeFileSync
  const exists = real.existsSync as typeof fs.existsSync
  const pause = new Int32Array(new SharedArrayBuffer(4))
  let fifo = false
  let held = false
  const hold = () => {
    held = true
    write(`${sync}/held`, '')
    for (const until = Date.now() + 30_000; Date.now() < until && !exists(`${sync}/go`); ) Atomics.wait(pause, 0, 0, 2)
  }
  const opens = (key: string, path: unknown) => /^(open|createReadStream|readFile)/.test(key) && typeof path === 'string' && path.endsWith('exec.fifo')
  const look = (path: unknown) => {
    if (fifo && !held && typeof path === 'string' && /^\/proc\/\d+\//.test(path)) hold()
  }
  process.on('exit', () => write(`${sync}/done`, held ? 'held' : 'never held'))
  const wrap = (target: Record<string, unknown>, from: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(from)) {
      if (typeof value !== 'function' || /^[A-Z]/.test(key)) continue
      target[key] = (...args: unknown[]) => {
        if (opens(key, args[0])) fifo = true
        look(args[0])
        return (value as (...a: unknown[]) => unknown)(...args)
      }
    }
  }
  wrap(fs as unknown as Record<string, unknown>, real)
  wrap(fs.promises as unknown as Record<string, unknown>, { ...fs.promises })
  // A look by signal 0, and an exec.fifo named to the helper, count too.
  const kill = process.kill.bind(process)
  process.kill = ((pid: number, signal?: string | number) => {
    if (fifo && !held && (signal === 0 || signal === '0')) hold()
    return kill(pid, signal)
  }) as typeof process.kill
  beforeEachRequest((_name, args) => {
    if (args.some((arg) => typeof arg === 'string' && arg.endsWith('exec.fifo'))) fifo = true
    else for (const arg of args) look(arg)
  })
}
