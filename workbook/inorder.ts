/**
 * Start `jobs`, `atOnce` at a time (each is a vitest run that mostly waits on processes and
 * daemons), and give their promises in the jobs' order, so that each one's lines can be printed
 * together, in order, as the earlier ones finish.
 */
export function inOrder<T>(jobs: (() => Promise<T>)[], atOnce: number): Promise<T>[] {
  let free = atOnce
  const waiting: (() => void)[] = []
  const acquire = (): Promise<void> => (free > 0 ? (free--, Promise.resolve()) : new Promise((resolve) => waiting.push(resolve)))
  const release = (): void => {
    const next = waiting.shift()
    if (next) next()
    else free++
  }
  const runs = jobs.map((job) => acquire().then(job).finally(release))
  for (const run of runs) run.catch(() => {}) // awaited in order by the caller; a later one may fail first
  return runs
}
