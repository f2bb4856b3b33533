/**
 * A helper in a mount namespace of its own, for tests that mount: its mounts vanish with it,
 * and the test reaches them from outside through /proc/PID/root.
 */
import { readFile } from 'node:fs/promises'
import type { Helper } from '../../native/helper.ts'
import { startHelper } from './helper.ts'

export interface MountNamespace {
  helper: Helper
  /** `path` as seen from inside the namespace, e.g. a mount point's content */
  inside(path: string): string
  /** the namespace's mount table (/proc/PID/mounts) */
  mounts(): Promise<string>
}

/** Start a helper, unshare its mount namespace and make every mount in it private. */
export async function mountNamespace(): Promise<MountNamespace> {
  const helper = startHelper()
  await helper.unshare(['mount'])
  await helper.mount(null, '/', null, ['rec', 'private'])
  return {
    helper,
    inside: (path) => `/proc/${helper.pid}/root${path}`,
    mounts: () => readFile(`/proc/${helper.pid}/mounts`, 'utf8'),
  }
}
