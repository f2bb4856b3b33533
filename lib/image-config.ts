/**
 * Given for chapter 06: the image config, and what `docker run` takes from it, as dockerd
 * merges it (moby's daemon/commit.go, merge) and runc resolves a user (libcontainer/user,
 * GetExecUser). The config is the JSON whose digest is the image ID; its "config" object is
 * the part a container starts from.
 */
import { ContainerError } from './errors.ts'
import type { ImageConfig } from './image.ts'
import { checkId, DEFAULT_PATH, type Spec } from './oci.ts'

/** What `docker run` flags can override: --entrypoint, the command, -e, -w, -u. */
export interface RunOptions {
  entrypoint?: string[]
  command?: string[]
  env?: string[]
  workdir?: string
  user?: string
}

/** The container's /etc/passwd and /etc/group, to look user and group names up in. */
export interface UserFiles {
  passwd?: string
  group?: string
}

const keyOf = (entry: string) => entry.split('=', 1)[0]!

/**
 * "uid", "uid:gid", "name" or "name:group" to numbers, with the primary and supplementary
 * groups, as runc does it, looking names up in the container's own /etc/passwd and /etc/group.
 * A name they do not know is a ContainerError (exit code 125) that names it; an ID out of range
 * is an Error saying "must be in range 0-4294967294".
 */
export function resolveUser(user: string, files: UserFiles = {}): { uid: number; gid: number; additionalGids?: number[] } {
  if (user === '') return { uid: 0, gid: 0 }
  const [who, group] = user.split(':', 2) as [string, string | undefined]
  const passwd = (files.passwd ?? '').split('\n').filter(Boolean).map((l) => l.split(':'))
  const groups = (files.group ?? '').split('\n').filter(Boolean).map((l) => l.split(':'))
  // a number is always an ID, never a name, even where passwd has a user of that name (GetExecUser)
  const sameId = (field: string | undefined, text: string) => /^\d+$/.test(text) && field !== undefined && /^\d+$/.test(field) && Number(field) === Number(text)
  const entry = passwd.find((f) => (/^\d+$/.test(who) ? sameId(f[2], who) : f[0] === who))
  if (!entry && !/^\d+$/.test(who)) throw new ContainerError(`unable to find user ${who}: no matching entries in passwd file`, 125)
  const uid = checkId(entry ? entry[2]! : who, 'uid')
  let gid = entry ? checkId(entry[3]!, 'gid') : 0
  if (group !== undefined) {
    const g = groups.find((f) => (/^\d+$/.test(group) ? sameId(f[2], group) : f[0] === group))
    if (!g && !/^\d+$/.test(group)) throw new ContainerError(`unable to find group ${group}: no matching entries in group file`, 125)
    gid = checkId(g ? g[2]! : group, 'gid')
  }
  // supplementary groups only when the group is left to passwd: a named group is the whole answer
  const name = group === undefined ? entry?.[0] : undefined
  const additionalGids = name ? groups.filter((f) => (f[3] ?? '').split(',').includes(name)).map((f) => Number(f[2])) : []
  return additionalGids.length ? { uid, gid, additionalGids } : { uid, gid }
}

/**
 * Fill spec.process from the image config and the run flags, as dockerd does:
 *   args = the entrypoint, then the command, from --entrypoint, the command, Entrypoint and
 *          Cmd combined as `docker run` combines them
 *   env  = the image's Env and the -e flags, merged as dockerd merges them (DEFAULT_PATH is
 *          Docker's PATH)
 *   cwd  = -w, or WorkingDir, or "/"
 *   user = -u, or User, resolved with resolveUser()
 */
export function applyImageConfig(spec: Spec, image: ImageConfig, run: RunOptions = {}, files: UserFiles = {}): Spec {
  const c = image.config ?? {}
  const entrypoint = run.entrypoint ?? c.Entrypoint ?? []
  const cmd = run.command?.length ? run.command : run.entrypoint ? [] : (c.Cmd ?? [])
  const args = [...entrypoint, ...cmd]
  if (args.length === 0) throw new ContainerError('no command specified: the image has no Cmd or Entrypoint and none was given', 125)
  const given = [...(c.Env ?? []), ...(run.env ?? [])]
  const env = new Map<string, string>()
  if (!given.some((e) => keyOf(e) === 'PATH')) env.set('PATH', DEFAULT_PATH)
  for (const entry of given) env.set(keyOf(entry), entry)
  spec.process = {
    ...spec.process,
    args,
    env: [...env.values()],
    cwd: run.workdir || c.WorkingDir || '/',
    user: resolveUser(run.user ?? c.User ?? '', files),
  }
  return spec
}
