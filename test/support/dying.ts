/** A process of a test's own that kills itself part way through what it does. */
import { Helper } from '../../native/helper.ts'

const fs = process.getBuiltinModule('node:fs')

/**
 * Count every call of this process that creates, links, renames or removes a file, and die
 * with SIGKILL right after the Nth: what a killed run leaves, one step at a time.
 */
export function dieAfter(n: number): void {
  let calls = 0
  const step = () => ++calls === n && process.kill(process.pid, 'SIGKILL')
  const changing = ['writeFile', 'appendFile', 'open', 'link', 'symlink', 'rename', 'copyFile', 'rm', 'rmdir', 'unlink', 'mkdir']
  const api = fs as unknown as Record<string, (...args: unknown[]) => unknown>
  const promises = fs.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  for (const name of changing) {
    const changeAsync = promises[name]!
    promises[name] = (...args) => changeAsync(...args).finally(step)
    const changeSync = api[`${name}Sync`]!
    api[`${name}Sync`] = (...args) => {
      try {
        return changeSync(...args)
      } finally {
        step()
      }
    }
  }
}

/**
 * Die with SIGKILL right before this process's helper request number `n` (from 0), whatever
 * helper makes it; the names of the requests made go to `report`, as JSON, at exit.
 */
export function dieBeforeRequest(n: number, report: string): void {
  const requests: string[] = []
  process.on('exit', () => fs.writeFileSync(report, JSON.stringify(requests)))
  beforeEachRequest((name) => {
    if (requests.push(name) - 1 === n) process.kill(process.pid, 'SIGKILL')
  })
}

/** Call `before` with the name and arguments of each helper request of this process, whatever helper makes it, right before it is made. */
export function beforeEachRequest(before: (name: string, args: unknown[]) => void): void {
  const proto = Helper.prototype as unknown as Record<string, (...args: unknown[]) => unknown>
  for (const name of Object.getOwnPropertyNames(Helper.prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(Helper.prototype, name)
    if (name === 'constructor' || typeof descriptor?.value !== 'function') continue
    const real = descriptor.value as (...args: unknown[]) => unknown
    proto[name] = function (this: unknown, ...args: unknown[]) {
      before(name, args)
      return real.apply(this, args)
    }
  }
}
