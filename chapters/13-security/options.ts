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
 * --privileged: the same list dockerd works out for the same flags, `ALL` on either side
 * included. Names come in any case, with or without `CAP_`; an unknown one is refused, a
 * ContainerError whose message names it.
 */
export function capabilityList(add: string[], drop: string[], privileged: boolean): string[] {
  // TODO(13): --cap-add, --cap-drop and --privileged as one list of names.
  //   1. Docker's 14 are lib/engine.ts's DEFAULT_CAPABILITIES; "every capability" means every
  //      one this kernel has (/proc/sys/kernel/cap_last_cap, lib/security-tables.ts).
  //   2. Users write `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN`: how do you compare them, and
  //      where is a name checked so that a typo never reaches config.json?
  //   3. What does ALL mean in add, and in drop? Which side wins when a name is in both? Fill a
  //      table of cases from the real dockerd (`docker run --cap-add ... probe /probe status`,
  //      the chapter's "The daemon's defaults") before you write code; moby's oci/caps is for
  //      checking the table afterwards, not for copying.
  throw new NotImplementedError('13-security', 'capabilityList')
}
// #endregion capabilityList

// #region containerSecurity
/**
 * config.json's security fields for a container's HostConfig, as dockerd fills them for the
 * same flags: the capability sets bounding, effective and permitted all hold capabilityList();
 * --security-opt takes the spellings dockerd takes for `no-new-privileges` and `seccomp`
 * (unconfined, or a profile, which the docker CLI sends as the file's JSON, not its name);
 * `label` and `apparmor` options are accepted and have no effect on these machines; anything
 * else, or a profile that is not JSON, is refused with a ContainerError naming the option.
 */
export function containerSecurity(host: SecurityHostConfig): ContainerSecurity {
  // TODO(13): the daemon's half of the chapter: what `docker run` asked for, as config.json fields.
  //   1. What does a container get when `docker run` says nothing? Compare /proc/PID/status and
  //      the masked paths of a container under dockerd; lib/docker-security.ts holds Docker's
  //      profile and paths as data.
  //   2. --privileged turns off more than capabilities: which protections of this chapter
  //      and of chapter 09 does it remove?
  //   3. Which spellings of each option does dockerd accept (with and without a value, `=` or
  //      the older separator)? Try them against the real dockerd, or read its parser.
  //   4. A profile file never reaches the daemon: the CLI reads it and sends its JSON, in
  //      Docker's profile format (moby's profiles/seccomp/default.json); the tests' file uses
  //      only what that format shares with linux.seccomp (defaultAction, syscalls with names,
  //      action, errnoRet), without `architectures`.
  //   Where to look: moby's daemon/oci_linux.go (WithCapabilities), daemon/daemon_unix.go
  //   (parseSecurityOpt), daemon/seccomp_linux.go (WithSeccomp), the chapter's "The daemon's defaults".
  throw new NotImplementedError('13-security', 'containerSecurity')
}
// #endregion containerSecurity
