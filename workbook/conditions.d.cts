/** The resolver conditions ("ref-NN") that pick solutions/ for the mode in `env`. */
export function conditionsFor(env?: Record<string, string | undefined>): string[]
