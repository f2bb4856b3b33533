/**
 * Steps of others between the file-system steps of the code under test, for race tests. A test
 * file mocks node:fs with `watch()` (inside vi.hoisted and vi.mock, which run before imports);
 * while `state.step` is set, a watched call on a path at or below `state.below` first runs
 * `state.step`, whose own file-system calls run straight through.
 */
export function interposer() {
  const state = { below: '', step: undefined as (() => void) | undefined, inside: false }
  const inRace = (path: unknown) => typeof path === 'string' && state.below !== '' && (path.includes(`${state.below}/`) || path.endsWith(state.below))
  const watch = <T extends object>(real: T, names: string[]): T => {
    const wrapped = { ...real } as Record<string, unknown>
    for (const name of names) {
      const fn = (real as Record<string, unknown>)[name] as (...args: unknown[]) => unknown
      wrapped[name] = (...args: unknown[]) => {
        if (state.step && !state.inside && inRace(args[0])) {
          state.inside = true
          try {
            state.step()
          } finally {
            state.inside = false
          }
        }
        return fn(...args)
      }
    }
    return { ...wrapped, default: wrapped } as T
  }
  return { state, watch }
}
