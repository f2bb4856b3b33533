/**
 * Chapter 13, the daemon's side: from `docker run`'s --cap-add, --cap-drop, --privileged and
 * --security-opt (HostConfig's CapAdd, CapDrop, Privileged, SecurityOpt) to the fields of
 * config.json the runtime applies, as moby's WithCapabilities and WithSeccomp do.
 *
 * Check your work with `npx workbook check 13`.
 */
import { readFileSync } from 'node:fs'
import { DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS, dockerDefaultProfile } from '../../lib/docker-security.ts'
import { DEFAULT_CAPABILITIES } from '../../lib/engine.ts'
import { ContainerError } from '../../lib/errors.ts'
import type { Capabilities, Seccomp } from '../../lib/oci.ts'
import { CAPABILITY_NUMBERS } from '../../lib/security-tables.ts'

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

/** Every capability the running kernel has, by name. */
function allCapabilities(): string[] {
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'))
  return Object.keys(CAPABILITY_NUMBERS).filter((name) => CAPABILITY_NUMBERS[name]! <= last)
}

// #region capabilityList
/**
 * The container's capabilities, as moby's TweakCapabilities works them out: all of them with
 * `privileged`; otherwise Docker's 14 less `drop` plus `add`; `ALL` in `add` means every
 * capability less `drop`, in `drop` means `add` alone. Names come in any case, with or without
 * `CAP_`; an unknown one is refused, a ContainerError whose message names it.
 */
export function capabilityList(add: string[], drop: string[], privileged: boolean): string[] {
  if (privileged) return allCapabilities()
  const normal = (name: string) => {
    const upper = name.toUpperCase()
    if (upper === 'ALL') return upper
    const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`
    if (CAPABILITY_NUMBERS[full] === undefined) throw new ContainerError(`unknown capability: ${JSON.stringify(full)}`, 125)
    return full
  }
  const adds = add.map(normal), drops = drop.map(normal)
  if (adds.includes('ALL')) return allCapabilities().filter((c) => !drops.includes(c))
  if (drops.includes('ALL')) return [...new Set(adds)]
  return [...new Set([...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds])]
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
  const privileged = host.Privileged === true
  const caps = capabilityList(host.CapAdd ?? [], host.CapDrop ?? [], privileged)
  let noNewPrivileges = false
  let seccomp: Seccomp | undefined = privileged ? undefined : dockerDefaultProfile(caps)
  for (const option of host.SecurityOpt ?? []) {
    const [, key, value] = /^([\w-]+)(?:[=:]([\s\S]*))?$/.exec(option) ?? []
    if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) noNewPrivileges = value !== 'false'
    else if (key === 'seccomp' && value === 'unconfined') seccomp = undefined
    else if (key === 'seccomp' && value) {
      try {
        seccomp = JSON.parse(value) as Seccomp
      } catch (error) {
        throw new ContainerError(`Decoding seccomp profile failed: ${(error as Error).message}`, 125)
      }
    } else if (key !== 'label' && key !== 'apparmor') throw new ContainerError(`invalid --security-opt 2: ${JSON.stringify(option)}`, 125)
  }
  return {
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges,
    seccomp,
    maskedPaths: privileged ? [] : DOCKER_MASKED_PATHS,
    readonlyPaths: privileged ? [] : DOCKER_READONLY_PATHS,
  }
}
// #endregion containerSecurity
