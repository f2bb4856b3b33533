/** A gate that lets `atOnce` jobs run at a time: each waits for a free place and frees it when it settles. */
export type Gate = <T>(job: () => Promise<T>) => Promise<T>

export function gate(atOnce: number): Gate {
  let free = atOnce
  const waiting: (() => void)[] = []
  const acquire = (): Promise<void> => (free > 0 ? (free--, Promise.resolve()) : new Promise((resolve) => waiting.push(resolve)))
  const release = (): void => {
    const next = waiting.shift()
    if (next) next()
    else free++
  }
  return (job) => acquire().then(job).finally(release)
}

/**
 * Start `jobs` through `through` (a gate, or a number of jobs at a time; each job is a vitest
 * run that mostly waits on processes and daemons), and give their promises in the jobs' order,
 * so that each one's lines can be printed together, in order, as the earlier ones finish.
 */
export function inOrder<T>(jobs: (() => Promise<T>)[], through: Gate | number): Promise<T>[] {
  const run = typeof through === 'number' ? gate(through) : through
  const runs = jobs.map((job) => run(job))
  for (const r of runs) r.catch(() => {}) // awaited in order by the caller; a later one may fail first
  return runs
}
