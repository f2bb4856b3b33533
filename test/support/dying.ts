/** A process of a test's own that kills itself part way through what it does. */

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
