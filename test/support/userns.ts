/**
 * Chapter 13's bundles: the probe's bundle with a user namespace (container ids 0..65535 are
 * host ids HOST_ID and up), a bind-mounted directory the container's root may write to, and a
 * stand-in for a host secret, a file of the real root with mode 0600. It does not import vitest.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { shiftOwnership } from '../../lib/shift-ownership.ts'
import type { Spec } from '../../lib/oci.ts'
import { Helper } from '../../native/helper.ts'
import { probeBundle } from './runtime.ts'

/** The first host id of the container's range: far above any account this machine has. */
export const HOST_ID = 300000
export const MAPPINGS = [{ containerID: 0, hostID: HOST_ID, size: 65536 }]

export interface UsernsBundle {
  bundle: string
  rootfs: string
  /** bound at /shared, owned by the container's root (HOST_ID on the host) */
  shared: string
  /** bound at /hostsecret: holds `secret`, root's, mode 0600 */
  secretDir: string
}

/**
 * A bundle in `dir` (made traversable: the container's root is not root on the host) running
 * the probe with `steps`; `userns` false gives the same container without a user namespace.
 * Without a /dev tmpfs, the smallest bundle that shows the mappings (a test adds it back).
 */
export function usernsBundle(dir: string, steps: string[], userns = true, edit: (spec: Spec) => void = () => {}): UsernsBundle {
  mkdirSync(dir, { recursive: true })
  // The container's root, HOST_ID on the host, must be able to reach its rootfs.
  for (let d = dir; d !== tmpdir() && d !== '/'; d = dirname(d)) chmodSync(d, 0o755)
  const shared = join(dir, 'shared')
  const secretDir = join(dir, 'secret')
  mkdirSync(shared)
  chownSync(shared, HOST_ID, HOST_ID)
  mkdirSync(secretDir, { mode: 0o755 })
  writeFileSync(join(secretDir, 'secret'), 'host secret\n', { mode: 0o600 })
  const bundle = probeBundle(join(dir, 'bundle'), steps, (spec) => {
    spec.mounts = spec.mounts!.filter((m) => !m.destination.startsWith('/dev'))
    spec.mounts.push(
      { destination: '/shared', type: 'bind', source: shared, options: ['rbind'] },
      { destination: '/hostsecret', type: 'bind', source: secretDir, options: ['rbind', 'ro'] },
    )
    if (userns) {
      spec.linux!.namespaces!.push({ type: 'user' })
      spec.linux!.uidMappings = MAPPINGS
      spec.linux!.gidMappings = MAPPINGS
    }
    edit(spec)
  })
  return { bundle, rootfs: join(bundle, 'rootfs'), shared, secretDir }
}

/** Chapter 13's shiftOwnership of the bundle's rootfs, under its config.json, with a helper of its own. */
export async function shiftBundle(b: UsernsBundle): Promise<void> {
  const helper = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
  try {
    await shiftOwnership(b.rootfs, JSON.parse(readFileSync(join(b.bundle, 'config.json'), 'utf8')) as Spec, helper)
  } finally {
    helper.close()
    await helper.exited
  }
}
