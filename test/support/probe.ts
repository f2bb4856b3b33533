/** Running the probe (native/probe.c) and reading its JSON lines. */
import { PROBE_PATH } from '../../native/helper.ts'

export { PROBE_PATH }

/** Every JSON line the probe printed, in order. */
export function probeLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

/** The first line that has `key`, e.g. probeValue(out, 'pid'). */
export function probeValue<T = unknown>(stdout: string, key: string): T {
  const line = probeLines(stdout).find((l) => key in l)
  if (!line) throw new Error(`the probe printed no "${key}" line; it printed:\n${stdout || '(nothing)'}`)
  return line[key] as T
}
