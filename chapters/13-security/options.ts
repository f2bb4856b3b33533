/**
 * Chapter 13, the daemon's side: from `docker run`'s --cap-add, --cap-drop, --privileged and
 * --security-opt (HostConfig's CapAdd, CapDrop, Privileged, SecurityOpt) to the fields of
 * config.json the runtime applies, as moby's WithCapabilities and WithSeccomp do.
 *
 * Check your work with `npx workbook check 13`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Capabilities, Seccomp } from '../../lib/oci.ts'

/** The HostConfig fields of `docker run` this module reads. */
export interface SecurityHostConfig {
  CapAdd?: string[] | null
  CapDrop?: string[] | null
  Privileged?: boolean
  SecurityOpt?: string[] | null
}

/** What goes into config.json for them. */
export interface ContainerSecurity {
  capabilities: Capabilities
  noNewPrivileges: boolean
  seccomp?: Seccomp
  maskedPaths: string[]
  readonlyPaths: string[]
}

// #region capabilityList
/**
 * The container's capabilities for `docker run`'s --cap-add (`add`), --cap-drop (`drop`) and
 * --privileged, as dockerd works them out, `ALL` on either side included. Names come in any
 * case, with or without `CAP_`; an unknown one is refused, a message the tests read:
 * `unknown capability: "CAP_NAME"`.
 */
export function capabilityList(add: string[], drop: string[], privileged: boolean): string[] {
  // TODO(13): --cap-add, --cap-drop and --privileged as one list of names.
  //   1. Docker's 14 are lib/engine.ts's DEFAULT_CAPABILITIES; "every capability" means every
  //      one this kernel has (/proc/sys/kernel/cap_last_cap, lib/security-tables.ts).
  //   2. Users write `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN`: one spelling inside.
  //   3. What does ALL mean in add, and in drop, and which side wins when a name is in both?
  //   Where to look: moby's oci/caps/utils.go (TweakCapabilities), the chapter's "The daemon's defaults".
  throw new NotImplementedError('13-security', 'capabilityList')
}
// #endregion capabilityList

// #region containerSecurity
/**
 * config.json's security fields for a container's HostConfig. The capability sets bounding,
 * effective and permitted all hold capabilityList(). SecurityOpt holds `no-new-privileges`
 * (alone, or `=true`/`=false`) and `seccomp=unconfined` or `seccomp=PROFILE` (the docker CLI
 * sends the file's JSON, not its name); `KEY:VALUE` is the older spelling of `KEY=VALUE`;
 * `label` and `apparmor` options are accepted and have no effect on these machines; anything
 * else is refused: `invalid --security-opt 2: "OPT"`. Without an option, Docker's default
 * profile for the container's capabilities. Privileged: no filter, no masked or read-only paths.
 */
export function containerSecurity(host: SecurityHostConfig): ContainerSecurity {
  // TODO(13): the daemon's half of the chapter: what `docker run` asked for, as config.json fields.
  //   1. Docker's default profile depends on the capabilities (a container with CAP_SYS_ADMIN
  //      may mount): lib/docker-security.ts builds it for a list of them, and has the paths.
  //   2. --privileged turns off more than capabilities: which protections of this chapter
  //      and of chapter 09 does it remove?
  //   3. A profile file never reaches the daemon: the CLI reads it and sends its JSON, in
  //      Docker's profile format (moby's profiles/seccomp/default.json); the tests' file uses
  //      only what that format shares with linux.seccomp (defaultAction, syscalls with names,
  //      action, errnoRet), without `architectures`. A profile that is not JSON, or an option
  //      you do not know, must fail the container.
  //   Where to look: moby's daemon/oci_linux.go (WithCapabilities), daemon/seccomp_linux.go
  //   (WithSeccomp), the chapter's "The daemon's defaults".
  throw new NotImplementedError('13-security', 'containerSecurity')
}
// #endregion containerSecurity
