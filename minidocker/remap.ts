/**
 * minidockerd's `--userns-remap NAME`, as dockerd 20.10 does it (moby daemon/daemon_unix.go,
 * parseRemappedRoot, setupRemappedRoot and setupDaemonRoot; pkg/idtools): NAME's subordinate
 * ranges (chapter 13's remapMappings) become every container's user namespace, the daemon keeps
 * its images and containers under DATA_ROOT/UID.GID (the host ids of the container's root), and
 * the layers there are owned by the range: root in a container is an unprivileged user on the
 * host, and its image's files are still root's as it sees them.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { remapMappings } from '#ch/13-security/userns.ts'
import { hostId } from '../lib/id-mappings.ts'
import { shiftOwnership } from '../lib/shift-ownership.ts'
import type { RemapUser } from '../lib/subid.ts'
import { Daemon, type DaemonOptions } from '#ch/11-daemon/daemon.ts'
import { SPEC_TYPE_URL, type Containerd } from '../lib/containerd.ts'
import { prepareStore, storePaths } from '../lib/image.ts'
import { allLayers } from '../lib/image-store.ts'
import type { IdMapping, Spec } from '../lib/oci.ts'
import { layerPaths } from '../lib/overlay2.ts'
import { Helper } from '../native/helper.ts'

/**
 * For tests only: a folder read instead of /etc for passwd, group, subuid and subgid, so that a
 * test can give the daemon a user and ranges without touching the machine's files.
 */
export const ETC_ENV = 'MINIDOCKERD_TEST_ETC'
const etc = (name: string) => join(process.env[ETC_ENV] || '/etc', name)

/** The user dockerd creates for `--userns-remap default`. */
export const DEFAULT_REMAP_USER = 'dockremap'

export interface Remap {
  user: RemapUser
  uidMappings: IdMapping[]
  gidMappings: IdMapping[]
  /** the host ids of the container's root: the first of each range */
  uid: number
  gid: number
}

/** The entries of a passwd(5) or group(5) file: name and numeric id. */
function idEntries(file: string): { name: string; id: number }[] {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  return text.split('\n').flatMap((line) => {
    const [name, , id] = line.split(':')
    return name && id !== undefined && /^\d+$/.test(id) ? [{ name, id: Number(id) }] : []
  })
}

/**
 * NAME as dockerd reads it: `default` (the dockremap user, which this daemon does not create),
 * `user`, `user:group`, `uid` or `uid:gid`, each looked up in passwd and group. Undefined for
 * root, which cannot be remapped onto itself (dockerd turns user namespaces off, with a warning).
 */
export function remapFor(spec: string): Remap | undefined {
  const parts = spec.split(':')
  if (parts.length > 2 || !parts[0]) throw new Error(`invalid user/group specification in --userns-remap: ${JSON.stringify(spec)}`)
  const users = idEntries(etc('passwd'))
  const groups = idEntries(etc('group'))
  const [who, group] = parts as [string, string | undefined]
  let found: { name: string; uid: number } | undefined
  if (/^\d+$/.test(who)) {
    const entry = users.find((u) => u.id === Number(who))
    if (!entry) throw new Error(`--userns-remap: uid ${who} has no entry in ${etc('passwd')}`)
    found = { name: entry.name, uid: entry.id }
  } else {
    const name = who === 'default' ? DEFAULT_REMAP_USER : who
    const entry = users.find((u) => u.name === name)
    if (!entry && who === 'default')
      throw new Error(`--userns-remap default: the user ${DEFAULT_REMAP_USER} does not exist in ${etc('passwd')}, and minidockerd does not create users (dockerd would): add it and its ranges to subuid and subgid, or name another user`)
    if (!entry) throw new Error(`--userns-remap: no user ${JSON.stringify(name)} in ${etc('passwd')}`)
    found = { name: entry.name, uid: entry.id }
  }
  const groupName = group ?? (/^\d+$/.test(who) ? who : found.name)
  const groupEntry = groups.find((g) => (/^\d+$/.test(groupName) ? g.id === Number(groupName) : g.name === groupName))
  if (!groupEntry) throw new Error(`--userns-remap: no group ${JSON.stringify(groupName)} in ${etc('group')}`)
  const user: RemapUser = { ...found, group: { name: groupEntry.name, gid: groupEntry.id } }
  if (user.uid === 0) {
    process.stderr.write('minidockerd: --userns-remap: root cannot be remapped onto itself; user namespaces are off\n')
    return undefined
  }
  const read = (name: string) => ({ path: etc(name), text: existsSync(etc(name)) ? readFileSync(etc(name), 'utf8') : '' })
  const { uidMappings, gidMappings } = remapMappings(user, read('subuid'), read('subgid'))
  const uid = hostId(0, uidMappings)
  const gid = hostId(0, gidMappings)
  if (uid === undefined || gid === undefined) throw new Error(`--userns-remap: the ranges of ${user.name} do not map the container's root (id 0)`)
  return { user, uidMappings, gidMappings, uid, gid }
}

/** Where a remapping daemon keeps its store: DATA_ROOT/UID.GID, the host ids of the container's root. */
const remapDataRoot = (dataRoot: string, remap: Remap): string => join(dataRoot, `${remap.uid}.${remap.gid}`)

/**
 * Make the remapped store and open it to the range as dockerd's setupDaemonRoot does: DATA_ROOT
 * 0711, the store DATA_ROOT/UID.GID (chapter 06's prepareStore) and its containers folder 0710
 * and of group GID, so the container's root reaches what is bind-mounted from there (hostname,
 * hosts, resolv.conf) and nothing else. Every folder above must let others through (o+x), or no
 * container could start: refused now, as dockerd does. Returns the store's root.
 */
export function openRemappedRoot(dataRoot: string, remap: Remap): string {
  const root = remapDataRoot(dataRoot, remap)
  mkdirSync(dataRoot, { recursive: true, mode: 0o711 })
  chmodSync(dataRoot, 0o711)
  prepareStore(root)
  for (const dir of [root, storePaths(root).containers]) {
    chownSync(dir, 0, remap.gid)
    chmodSync(dir, 0o710)
  }
  for (let dir = dirname(dataRoot); dir !== '/'; dir = dirname(dir))
    if (!(statSync(dir).mode & 0o001))
      throw new Error(`--userns-remap: ${dir}, above the data root, does not let other users through (o+x), so the remapped root (uid ${remap.uid}) could not reach its containers' files`)
  return root
}

/**
 * Chapter 13's shiftOwnership over `dir`, with the remapping's ranges as the container's
 * mappings, through a helper of its own (for the extended attributes).
 */
async function shiftTree(dir: string, remap: Remap): Promise<void> {
  const helper = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
  try {
    await shiftOwnership(dir, { linux: { uidMappings: remap.uidMappings, gidMappings: remap.gidMappings } } as Spec, helper)
  } finally {
    helper.close()
    await helper.exited
  }
}

const SHIFTED = 'shifted'
let shifting: Promise<void> = Promise.resolve()

/**
 * Shift every layer of the store not shifted yet, and mark it (a file in its folder). dockerd
 * shifts while it unpacks; here the layers are shifted after a pull and before a container
 * is created, one shift after the other, so two requests never shift one layer twice.
 */
export function shiftStoreLayers(root: string, remap: Remap): Promise<void> {
  const shift = shifting.then(async () => {
    const graph = storePaths(root).graph
    const unshifted = allLayers(root).map((layer) => layerPaths(graph, layer.cacheId)).filter(({ dir }) => !existsSync(join(dir, SHIFTED)))
    for (const { dir, diff } of unshifted) {
      await shiftTree(diff, remap)
      writeFileSync(join(dir, SHIFTED), `${remap.uid}.${remap.gid}`)
    }
  })
  shifting = shift.catch(() => {})
  return shift
}

/** The daemon of chapter 11, whose images and containers belong to the remapped range. */
export class RemappedDaemon extends Daemon {
  constructor(options: DaemonOptions, readonly remap: Remap) {
    super(options)
  }

  /** The image's layers shifted first, then the container's own two layers and its folder (dockerd's rootIdentity). */
  override async create(...args: Parameters<Daemon['create']>): ReturnType<Daemon['create']> {
    await shiftStoreLayers(this.options.root, this.remap)
    const c = await super.create(...args)
    const graph = storePaths(this.options.root).graph
    for (const id of [`${c.ID}-init`, c.ID]) await shiftTree(layerPaths(graph, id).dir, this.remap)
    const dir = dirname(c.HostnamePath)
    chownSync(dir, 0, this.remap.gid)
    chmodSync(dir, 0o710)
    return c
  }
}

/**
 * containerd's Containers.Create with the user namespace added to the spec, as dockerd's
 * WithNamespaces does when it remaps: a `user` namespace and the mappings, so runc makes the
 * container's root the range's first id. containerd then opens the bundle to that id's group.
 */
export function withUserNamespace(containerd: Containerd, remap: Remap): Containerd {
  const create = (request: { container: { spec: { type_url: string; value: Uint8Array } } }) => {
    const spec = JSON.parse(Buffer.from(request.container.spec.value).toString('utf8')) as Spec
    spec.linux = { ...spec.linux, uidMappings: remap.uidMappings, gidMappings: remap.gidMappings }
    spec.linux.namespaces = [...(spec.linux.namespaces ?? []).filter((n) => n.type !== 'user'), { type: 'user' }]
    const value = Buffer.from(JSON.stringify(spec))
    return containerd.containers.Create({ ...request, container: { ...request.container, spec: { type_url: SPEC_TYPE_URL, value } } })
  }
  const containers = new Proxy(containerd.containers, { get: (target, method) => (method === 'Create' ? create : Reflect.get(target, method)) })
  return { ...containerd, containers }
}
