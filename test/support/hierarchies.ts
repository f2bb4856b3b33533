/**
 * The cgroup hierarchies mounted here and this process's own cgroup in each, as it was when
 * the tests started. Nothing here imports vitest: the daemons' cleanup (daemons.ts) needs it,
 * and so does the finale's stack, which runs outside the tests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** This process's cgroup in each hierarchy as it was when the tests started, by the line's controllers: "" is v2's. */
const startedIn = new Map([...readFileSync('/proc/self/cgroup', 'utf8').matchAll(/^\d+:([^:\n]*):(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const))

/** Every mounted cgroup hierarchy: its mount point and this process's path in it. */
export function hierarchies(): { mount: string; own: string }[] {
  const found: { mount: string; own: string }[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ')
    const [fstype, , options] = (after ?? '').split(' ')
    const mount = before?.split(' ')[4]
    if (!mount || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue
    const wanted = fstype === 'cgroup2' ? [] : options!.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('clone_children') && o !== 'relatime' && o !== 'noprefix')
    const key = [...startedIn.keys()].find((k) => k.split(',').filter(Boolean).sort().join() === [...wanted].sort().join())
    if (key !== undefined) found.push({ mount, own: startedIn.get(key)! })
  }
  return found
}

/** Every cgroup.procs file in `dir` and below it, deepest first. */
export function procsFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  const below = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => procsFiles(join(dir, e.name)))
  return [...below, join(dir, 'cgroup.procs')].filter((file) => existsSync(file))
}
