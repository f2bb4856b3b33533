/**
 * The mounts a container asks for, as strings: docker's `-v` flag, and the fstab-style options
 * of a spec.mounts entry. String work, given to chapter 03, whose setup (lib/rootfs-setup.ts)
 * and read-only remount read them.
 */
import { isAbsolute } from 'node:path'
import { ContainerError } from './errors.ts'
import type { Mount } from './oci.ts'
import type { MountFlag } from '../native/helper.ts'

/**
 * `-v /host/path:/container/path[:ro|:rw]` as the bind mount it asks for, or a ContainerError
 * (125) for a flag Docker refuses.
 */
export function parseVolume(flag: string): Mount {
  const [source, destination, mode, ...rest] = flag.split(':')
  if (!source || !destination || rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
    throw new ContainerError(`invalid volume "${flag}": expected /host/path:/container/path[:ro]`, 125)
  if (!isAbsolute(source)) throw new ContainerError(`invalid volume "${flag}": the host path must be absolute (named volumes are not supported)`, 125)
  if (!isAbsolute(destination)) throw new ContainerError(`invalid volume "${flag}": the container path must be absolute`, 125)
  if (destination.split('/').includes('..')) throw new ContainerError(`invalid volume "${flag}": the container path may not contain ".."`, 125)
  return { destination, type: 'bind', source, options: mode === 'ro' ? ['rbind', 'ro'] : ['rbind'] }
}

const FLAG_OPTIONS: Record<string, MountFlag[]> = {
  ro: ['rdonly'], nosuid: ['nosuid'], nodev: ['nodev'], noexec: ['noexec'], bind: ['bind'],
  rbind: ['bind', 'rec'], relatime: ['relatime'], noatime: ['noatime'], strictatime: ['strictatime'],
  nodiratime: ['nodiratime'],
}

/** The propagation options (mount_namespaces(7), "Shared subtrees"). */
const PROPAGATION_OPTIONS: Record<string, MountFlag[]> = {
  private: ['private'], rprivate: ['private', 'rec'], slave: ['slave'], rslave: ['slave', 'rec'],
  shared: ['shared'], rshared: ['shared', 'rec'], unbindable: ['unbindable'], runbindable: ['unbindable', 'rec'],
}

/**
 * fstab-style options ("ro", "nosuid", "mode=755", "rprivate") split into mount(2) flags, its
 * data string, and its propagation flags (runc's PropagationFlags).
 */
export function mountOptions(options: string[] = []): { flags: MountFlag[]; data: string; propagation: MountFlag[] } {
  const flags = new Set<MountFlag>()
  const propagation = new Set<MountFlag>()
  const data: string[] = []
  for (const option of options) {
    if (option === 'rw') continue // the default: no flag
    const known = FLAG_OPTIONS[option]
    const change = PROPAGATION_OPTIONS[option]
    if (known) known.forEach((f) => flags.add(f))
    else if (change) change.forEach((f) => propagation.add(f))
    else data.push(option)
  }
  return { flags: [...flags], data: data.join(','), propagation: [...propagation] }
}
