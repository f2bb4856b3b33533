/**
 * A helper in a mount namespace of its own, for tests that mount: its mounts vanish with it,
 * and the test reaches them from outside through /proc/PID/root. It also stands in for the
 * host when learner code sets up a container: the container's helper enters it first, so a
 * wrong mount, pivot_root or remount lands here and never in the machine's own namespace.
 */
import { readFile } from 'node:fs/promises'
import type { Helper } from '../../native/helper.ts'
import { tempDir } from './files.ts'
import { startHelper } from './helper.ts'

export interface MountNamespace {
  helper: Helper
  /** `path` as seen from inside the namespace, e.g. a mount point's content */
  inside(path: string): string
  /** the namespace's mount table (/proc/PID/mounts) */
  mounts(): Promise<string>
  /** the namespace's /proc/PID/mountinfo, which also shows each mount's propagation */
  mountinfo(): Promise<string>
  /** Move `helper` (a container's, before it does anything else) into this namespace. */
  enter(helper: Helper): Promise<void>
  /**
   * A fresh tmpfs mounted on a new temp dir in this namespace only, shared if / is.
   * Files that learner code may remount live here: a remount that forgets MS_BIND changes
   * this tmpfs, never the filesystem the machine runs on.
   */
  tmpfs(): Promise<string>
}

/**
 * Start a helper, unshare its mount namespace and make every mount in it private, which cuts
 * it off from the machine's. With `shared`, / is then made shared again, as systemd makes it,
 * but its peers are all in this namespace and the ones copied from it.
 */
export async function mountNamespace(options: { shared?: boolean } = {}): Promise<MountNamespace> {
  const helper = startHelper()
  await helper.unshare(['mount'])
  await helper.mount(null, '/', null, ['rec', 'private'])
  if (options.shared) await helper.mount(null, '/', null, ['rec', 'shared'])
  return {
    helper,
    inside: (path) => `/proc/${helper.pid}/root${path}`,
    mounts: () => readFile(`/proc/${helper.pid}/mounts`, 'utf8'),
    mountinfo: () => readFile(`/proc/${helper.pid}/mountinfo`, 'utf8'),
    enter: async (other) => void (await other.setns(`/proc/${helper.pid}/ns/mnt`)),
    tmpfs: async () => {
      const dir = tempDir('minidocker-tmpfs-')
      await helper.mount('tmpfs', dir, 'tmpfs', [], 'mode=755')
      if (options.shared) await helper.mount(null, dir, null, ['shared'])
      return dir
    },
  }
}
