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
 * "uid", "uid:gid", "name" or "name:group" to numbers, with the primary and supplementary
 * groups, as runc does it, looking names up in the container's own /etc/passwd and /etc/group.
 * A name they do not know is a ContainerError (exit code 125) that names it; an ID out of range
 * is an Error saying "must be in range 0-4294967294".
 */
export function resolveUser(user: string, files: UserFiles = {}): { uid: number; gid: number; additionalGids?: number[] } {
  // TODO(06): turn -u / User into numbers, the way runc looks them up.
  //   1. The forms: "" (root), "uid", "name", each optionally followed by ":group" (a gid or a
  //      group name). Names are looked up in the container's files (passwd(5), group(5) give the
  //      fields), never in the host's.
  //   2. A name the files do not know is an error (the doc comment says which); a number needs
  //      no entry, but must fit: what does "4294967296" become on its way to setuid(2)?
  //   3. The primary group when none is given: where does it come from, and what is it for a
  //      number passwd does not have?
  //   4. Supplementary groups: which ones does runc add, where does it find them, and does the
  //      form of -u change that? Leave the key out when there are none.
  //   5. "1000" could be a name as well as a number: which does runc take it for?
  //   Where: runc's libcontainer/user (GetExecUser).
  throw new NotImplementedError('06-images', 'resolveUser')
}
// #endregion resolveUser

// #region applyImageConfig
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
  // TODO(06): what `docker run` takes from the image.
  //   1. args: what does a command do to the image's Entrypoint and Cmd, and what does
  //      --entrypoint do to its Cmd? The Dockerfile reference, "Understand how CMD and ENTRYPOINT
  //      interact"; the docker run reference, --entrypoint.
  //   2. Env: what does -e do to an image entry with the same key, and where does the result
  //      stand? When does Docker's DEFAULT_PATH come in, and where?
  //   3. Nothing to run at all is a ContainerError with exit code 125.
  //   4. Keep what spec.process already holds; replace args, env, cwd and user. Return the spec.
  //   Where: "What docker run takes from the config" in README.md; moby's daemon/commit.go (merge).
  throw new NotImplementedError('06-images', 'applyImageConfig')
}
// #endregion applyImageConfig
