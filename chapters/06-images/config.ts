/**
 * Chapter 06: the image config, and what `docker run` takes from it. The config is the JSON
 * whose digest is the image ID; its "config" object is the part a container starts from.
 *
 * Check your work with `npx workbook check 6`.
 */
import { NotImplementedError, ContainerError } from '../../lib/errors.ts'
import type { ImageConfig } from '../../lib/image.ts'
import { DEFAULT_PATH, type Spec } from '../../lib/oci.ts'

export { parseImageConfig, type ImageConfig } from '../../lib/image.ts'

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

// #region resolveUser
/**
 * "uid", "uid:gid", "name" or "name:group" to numbers, as runc does it: names are looked up in
 * the container's own /etc/passwd and /etc/group; a user without a group gets the primary
 * group from passwd (0 when passwd does not know a numeric uid), plus every group in
 * /etc/group that lists the user by name. An ID outside 0..2^32-2 is an error, as runc makes
 * it: "4294967296" would wrap to 0 on its way to setuid() and run the container as root.
 */
export function resolveUser(user: string, files: UserFiles = {}): { uid: number; gid: number; additionalGids?: number[] } {
  // TODO(06): turn -u / User into numbers, the way runc looks them up.
  //   1. "" means root: { uid: 0, gid: 0 }.
  //   2. Split at the first ":" into user and an optional group. Parse passwd and group into lines
  //      of ":"-separated fields (name:x:uid:gid:... and name:x:gid:members).
  //   3. Find the passwd entry whose name is the user, or whose uid is it when it is a number. A
  //      name with no entry throws a ContainerError (exit code 125) naming the user.
  //   4. uid comes from the entry (or the number); gid from the entry's 4th field (0 without one).
  //   5. A group given after ":" replaces gid: looked up by name or gid in /etc/group, or taken as
  //      a number; an unknown name is a ContainerError too.
  //   6. additionalGids: every group whose member list (4th field, comma-separated) has the user's
  //      name. Leave the key out when there are none.
  throw new NotImplementedError('06-images', 'resolveUser')
}
// #endregion resolveUser

// #region applyImageConfig
/**
 * Fill spec.process from the image config and the run flags, as dockerd does:
 *   args = (--entrypoint or Entrypoint) + (the command, or Cmd); a --entrypoint drops Cmd
 *   env  = the image's Env, then -e flags replacing by key; PATH defaults when neither has one
 *   cwd  = -w, or WorkingDir, or "/"
 *   user = -u, or User, resolved with resolveUser()
 */
export function applyImageConfig(spec: Spec, image: ImageConfig, run: RunOptions = {}, files: UserFiles = {}): Spec {
  // TODO(06): what `docker run` takes from the image.
  //   1. c = image.config ?? {}. entrypoint = run.entrypoint ?? c.Entrypoint ?? [].
  //   2. cmd = run.command when it is non-empty; otherwise [] if run.entrypoint was given (a
  //      --entrypoint drops the image's Cmd), else c.Cmd ?? [].
  //   3. args = [...entrypoint, ...cmd]; none at all is a ContainerError (125): nothing to run.
  //   4. env: the image's Env, then run.env, the later replacing an earlier one with the same key
  //      (keep the first position, a Map does that); add DEFAULT_PATH first when neither sets PATH.
  //   5. cwd = run.workdir || c.WorkingDir || "/"; user = resolveUser(run.user ?? c.User ?? "", files).
  //   6. Set spec.process to the old process with args, env, cwd and user replaced; return spec.
  throw new NotImplementedError('06-images', 'applyImageConfig')
}
// #endregion applyImageConfig
