/**
 * A real dockerd's side of the overlay2 layout, for chapter 05's tests: how moby's overlay2
 * driver reads a layer folder back and mounts it (daemon/graphdriver/overlay2/overlay.go), and
 * what of a helper process a later step can notice, for tests that must find it unchanged.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Helper } from '../../native/helper.ts'
import { caught } from './errors.ts'
import { startHelper } from './helper.ts'

/** An entry of a lower file resolved as moby's getLowerDirs does it. */
export function asDockerdReads(root: string, entry: string): string {
  try {
    return join(root, 'l', readlinkSync(join(root, entry)))
  } catch {
    return `${JSON.stringify(entry)}, which leads nowhere`
  }
}

/**
 * Mount layer `id` at its merged folder, in `helper`'s mount namespace, as moby's Get mounts it
 * when the absolute form is too long: mountFrom, a short-lived process of its own that stands in
 * the driver's root, with the data read from the layer's files. Gives the kernel's refusal, if
 * any, and the mount point.
 */
export async function mountAsDockerd(helper: Helper, root: string, id: string): Promise<{ failed?: Error; merged: string }> {
  const merged = join(root, id, 'merged')
  const data = `lowerdir=${readFileSync(join(root, id, 'lower'), 'utf8')},upperdir=${id}/diff,workdir=${id}/work`
  const child = startHelper()
  try {
    await child.setns(`/proc/${helper.pid}/ns/mnt`, 'mount')
    await child.chdir(root)
    return { failed: await caught(() => child.mount('overlay', merged, 'overlay', [], data)), merged }
  } finally {
    child.kill()
    await child.exited
  }
}

/** What identifies the file a /proc/PID link leads to, whatever it is called now. */
function identity(link: string): string {
  try {
    const st = statSync(link)
    return `${st.dev}:${st.ino} (${readlinkSync(link)})`
  } catch (error) {
    return `unreadable (${(error as Error).message})`
  }
}

/**
 * What a later caller of process `pid` could notice (man 5 proc), in words, one item a line:
 * the files its links lead to, the descriptors it holds, its mask and credentials.
 */
export function processSnapshot(pid: number): Map<string, string> {
  const proc = `/proc/${pid}`
  const state = new Map<string, string>()
  for (const link of ['cwd', 'root', 'exe']) state.set(link, identity(join(proc, link)))
  for (const ns of ['mnt', 'pid', 'net', 'uts', 'ipc', 'user']) state.set(`ns/${ns}`, readlinkSync(join(proc, 'ns', ns)))
  const status = readFileSync(join(proc, 'status'), 'utf8')
  for (const field of ['Umask', 'Uid', 'Gid', 'Groups', 'CapEff', 'NoNewPrivs'])
    state.set(field, /^(\w+):\s*(.*)$/m.exec(status.split('\n').find((l) => l.startsWith(`${field}:`)) ?? '')?.[2] ?? '')
  for (const fd of readdirSync(join(proc, 'fd'))) state.set(`fd ${fd}`, identity(join(proc, 'fd', fd)))
  return state
}

/** What differs between two snapshots of one process, in words ("" when nothing does). */
export function snapshotChanges(before: Map<string, string>, after: Map<string, string>): string {
  const keys = [...new Set([...before.keys(), ...after.keys()])]
  return keys.filter((k) => before.get(k) !== after.get(k))
    .map((k) => `${k}: ${before.get(k) ?? 'none'} before, ${after.get(k) ?? 'none'} after`).join('; ')
}
