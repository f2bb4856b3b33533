/**
 * A helper in a mount namespace of its own, for tests that mount: its mounts vanish with it,
 * and the test reaches them from outside through /proc/PID/root.
 */
import { afterEach } from 'vitest'
import { Helper } from '../../native/helper.ts'

const started: Helper[] = []

afterEach(async () => {
  for (const h of started.splice(0)) {
    h.kill()
    await h.exited
  }
})

export interface MountNamespace {
  helper: Helper
  /** `path` as seen from inside the namespace, e.g. a mount point's content */
  inside(path: string): string
  /** the namespace's mount table (/proc/PID/mounts) */
  mounts(): Promise<string>
}

/** Start a helper, unshare its mount namespace and make every mount in it private. */
export async function mountNamespace(): Promise<MountNamespace> {
  const helper = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
  started.push(helper)
  await helper.unshare(['mount'])
  await helper.mount(null, '/', null, ['rec', 'private'])
  const { readFile } = await import('node:fs/promises')
  return {
    helper,
    inside: (path) => `/proc/${helper.pid}/root${path}`,
    mounts: () => readFile(`/proc/${helper.pid}/mounts`, 'utf8'),
  }
}
