/**
 * The cgroup hierarchies mounted here and this process's own cgroup in each, as it was when
 * the tests started. Nothing here imports vitest: the daemons' cleanup (daemons.ts) needs it,
 * and so does the finale's stack, which runs outside the tests.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** This process's cgroup in each hierarchy as it was when the tests started, by the line's controllers: "" is v2's. */
const startedIn = new Map([...readFileSync('/proc/self/cgroup', 'utf8').matchAll(/^\d+:([^:\n]*):(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const))

/** Every mounted cgroup hierarchy: its mount point, this process's path in it, and its controllers as /proc/PID/cgroup names them ("" for v2). */
export function hierarchies(): { mount: string; own: string; controllers: string }[] {
  const found: { mount: string; own: string; controllers: string }[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ')
    const [fstype, , options] = (after ?? '').split(' ')
    const mount = before?.split(' ')[4]
    if (!mount || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue
    const wanted = fstype === 'cgroup2' ? [] : options!.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('clone_children') && o !== 'relatime' && o !== 'noprefix')
    const key = [...startedIn.keys()].find((k) => k.split(',').filter(Boolean).sort().join() === [...wanted].sort().join())
    if (key !== undefined) found.push({ mount, own: startedIn.get(key)!, controllers: key })
  }
  return found
}

/** Every cgroup.procs file in `dir` and below it, deepest first. */
export function procsFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  const below = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => procsFiles(join(dir, e.name)))
  return [...below, join(dir, 'cgroup.procs')].filter((file) => existsSync(file))
}

/**
 * Thaw the cgroup `dir` if a freezer holds it: v1's freezer.state, v2's cgroup.freeze. A task
 * frozen by v1's freezer never acts on SIGKILL (v2 lets it die), so a cleanup that kills what a
 * cgroup holds thaws first; and on v1 its parents too, for as long as one of them is what
 * freezes it (freezer.parent_freezing). A cgroup without the file, or gone meanwhile, is left.
 */
function thaw(dir: string): void {
  for (const [file, value] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
    try {
      writeFileSync(join(dir, file), value, { flag: 'r+' }) // r+: never create the file
    } catch {
      // no such freezer here, or the cgroup is gone
    }
  }
  try {
    if (readFileSync(join(dir, 'freezer.parent_freezing'), 'utf8').trim() === '1') thaw(dirname(dir))
  } catch {
    // not a v1 freezer cgroup below the root
  }
}

/**
 * SIGKILL the process `pid` once the cgroups it is in are thawed, in every mounted hierarchy
 * with a freezer (the v1 freezer's own hierarchy, v2's); a process gone meanwhile is no error.
 */
export function thawAndKill(pid: number): void {
  try {
    const mounts = new Map(hierarchies().map((h) => [h.controllers, h.mount]))
    for (const [, controllers, path] of readFileSync(`/proc/${pid}/cgroup`, 'utf8').matchAll(/^\d+:([^:\n]*):(.*)$/gm)) {
      const mount = mounts.get(controllers!)
      if (mount !== undefined && (controllers === '' || controllers!.split(',').includes('freezer'))) thaw(join(mount, path!))
    }
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone meanwhile
  }
}
