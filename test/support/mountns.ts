/**
 * A helper in a mount namespace of its own, for tests that mount: its mounts vanish with it,
 * and the test reaches them from outside through /proc/PID/root. It also stands in for the
 * host when learner code sets up a container: the container's helper enters it first, so a
 * wrong mount, pivot_root or remount lands here and never in the machine's own namespace.
 *
 * The tests shape this namespace with util-linux's mount(8), run in it through nsenter(1), not
 * with the helper's own calls: what the stand-in host looks like is set up the way an admin
 * would set it up by hand.
 */
import { readFileSync, readlinkSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { execa } from 'execa'
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
   * Files that learner code may remount live here: a remount that reaches the filesystem
   * under a mount changes this tmpfs, never the filesystem the machine runs on.
   */
  tmpfs(): Promise<string>
  /** Run mount(8) with `args` in this namespace (never in the machine's: it refuses first). */
  mount(...args: string[]): Promise<void>
}

/** Run util-linux's mount(8) in the mount namespace of `pid`, which must not be this process's. */
export async function mountIn(pid: number, args: string[]): Promise<void> {
  const ns = `/proc/${pid}/ns/mnt`
  if (readlinkSync(ns) === readlinkSync('/proc/self/ns/mnt'))
    throw new Error(`test set-up: PID ${pid} is still in the machine's mount namespace; refusing to run mount ${args.join(' ')} there`)
  const run = await execa('nsenter', [`--mount=${ns}`, 'mount', ...args], { reject: false, stdin: 'ignore' })
  if (run.exitCode !== 0) throw new Error(`test set-up: mount ${args.join(' ')} in PID ${pid}'s namespace failed: ${run.stderr}`)
}

/**
 * Start a helper with a mount namespace of its own, cut off from the machine's: nothing
 * mounted in either shows in the other. With `shared`, / is then shared again, as systemd makes
 * it, but its peers are all in this namespace and the ones copied from it.
 */
export async function mountNamespace(options: { shared?: boolean } = {}): Promise<MountNamespace> {
  const helper = startHelper()
  await helper.unshare(['mount'])
  const mount = (...args: string[]) => mountIn(helper.pid, args)
  await mount('--make-rprivate', '/')
  if (options.shared) await mount('--make-rshared', '/')
  // Whatever the machine mounts from now on must stay out: nothing may be shared with it.
  const peers = readFileSync(`/proc/${helper.pid}/mountinfo`, 'utf8').match(/ master:\d+/)
  if (peers) throw new Error(`test set-up: the stand-in host still receives the machine's mounts (${peers[0]})`)
  return {
    helper,
    inside: (path) => `/proc/${helper.pid}/root${path}`,
    mounts: () => readFile(`/proc/${helper.pid}/mounts`, 'utf8'),
    mountinfo: () => readFile(`/proc/${helper.pid}/mountinfo`, 'utf8'),
    enter: async (other) => void (await other.setns(`/proc/${helper.pid}/ns/mnt`)),
    mount,
    tmpfs: async () => {
      const dir = tempDir('minidocker-tmpfs-')
      await mount('-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', dir)
      if (options.shared) await mount('--make-shared', dir)
      return dir
    },
  }
}
