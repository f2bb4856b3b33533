import type { Helper } from '../../native/helper.ts'

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

/**
 * `helper` as the code under test sees it, except that `swap` runs right before the helper's request
 * number `at` (from 0): whatever your code looked at before that request, the name it looked
 * at names something else from then on. With `again`, it runs before every later request too
 * (given how many times it ran before). Records the requests, the one the swap first preceded,
 * and the one under way (`current`). `after`, when given, looks at the scene once each request
 * has returned (or failed), given that request.
 */
export function swappedBeforeRequest(helper: Helper, at: number, swap: (times: number) => Promise<unknown>, again = false, after?: (request: string) => Promise<void>) {
  const state = { requests: 0, before: '', current: '' }
  const swapping = new Proxy(helper, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        const request = state.requests++
        const call = `${String(key)}(${args.map((a) => JSON.stringify(a)).join(', ')})`
        if (request === at || (again && request > at)) {
          await swap(request - at)
          if (request === at) state.before = call
        }
        state.current = call
        try {
          return await (value as (...a: unknown[]) => unknown).apply(target, args)
        } finally {
          await after?.(call)
        }
      }
    },
  })
  return { swapping, state }
}
