/**
 * Chapter 09's given code for the cgroup v1 hierarchies chapter 04 does not use (devices,
 * cpuset, freezer): the container's directory in one of them, the device rules and the
 * cpuset, each saved in the container's record so that exec joins it and delete removes it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { CGROUP_ROOT, enableControllers, writeCgroupFile, type Cgroup } from './cgroup.ts'
import type { Spec } from './oci.ts'
import { ALLOWED_DEVICES, saveRecord, type ContainerRecord } from './runtime.ts'

/**
 * The container's directory in cgroup v1 hierarchy `controller` (freezer, devices, cpuset),
 * which chapter 04 does not use, at the same path within the hierarchy as the container's other
 * cgroups; and `removeOrder`, the directories of that path that do not exist yet, deepest
 * first. It makes nothing.
 */
export function v1Cgroup(cgroup: Cgroup, controller: string): { dir: string; removeOrder: string[] } {
  const [used, own] = Object.entries(cgroup.dirs)[0]!
  const dir = join(CGROUP_ROOT, controller, relative(join(CGROUP_ROOT, used), own!))
  const removeOrder: string[] = []
  for (let d = dir; !existsSync(d); d = dirname(d)) removeOrder.push(d)
  return { dir, removeOrder }
}

/**
 * linux.resources.devices on cgroup v1: the devices cgroup at the container's cgroup path (a
 * hierarchy chapter 04 does not use) holds the spec's rules and runc's own defaults
 * (ALLOWED_DEVICES), and it holds the process before the process runs anything. Saved in the
 * record for exec and delete. On cgroup v2 the device rules are an eBPF program, which this
 * runtime does not load (noted).
 */
export async function applyDeviceRules(dir: string, record: ContainerRecord, pid: number, spec: Spec): Promise<void> {
  const rules = spec.linux?.resources?.devices
  if (!rules?.length || record.cgroup?.version !== 1) return
  record.devices = v1Cgroup(record.cgroup, 'devices')
  saveRecord(dir, record)
  mkdirSync(record.devices.dir, { recursive: true })
  for (const { allow, type, major, minor, access } of [...rules, ...ALLOWED_DEVICES])
    writeFileSync(join(record.devices.dir, allow ? 'devices.allow' : 'devices.deny'), `${type ?? 'a'} ${major ?? '*'}:${minor ?? '*'} ${access ?? 'rwm'}`)
  writeFileSync(join(record.devices.dir, 'cgroup.procs'), String(pid))
}

/**
 * linux.resources.cpu.cpus and mems, the CPUs and memory nodes the container may use: the
 * cpuset controller, which chapter 04 does not use. On cgroup v1 it is a hierarchy of its own,
 * at the container's cgroup path, with the traps runc's cpuset.go deals with (the text's "cpus
 * and mems"); the process is in it before it runs anything. Saved in the record for exec and
 * delete. On v2 the two files are the container's own cgroup's, once its parents enable cpuset.
 */
export async function applyCpuset(dir: string, record: ContainerRecord, pid: number, spec: Spec): Promise<void> {
  const { cpus, mems } = spec.linux?.resources?.cpu ?? {}
  if ((!cpus && !mems) || !record.cgroup) return
  let leaf = Object.values(record.cgroup.dirs)[0]!
  if (record.cgroup.version === 2) {
    enableControllers(CGROUP_ROOT, leaf, ['cpuset'])
  } else {
    record.cpuset = v1Cgroup(record.cgroup, 'cpuset')
    saveRecord(dir, record)
    mkdirSync(record.cpuset.dir, { recursive: true })
    leaf = record.cpuset.dir
    const top = join(CGROUP_ROOT, 'cpuset')
    const path: string[] = []
    for (let d = leaf; d !== top; d = dirname(d)) path.unshift(d)
    for (const d of path) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (readFileSync(join(d, file), 'utf8').trim() === '') writeCgroupFile(join(d, file), readFileSync(join(dirname(d), file), 'utf8').trim())
      }
    }
  }
  if (cpus) writeCgroupFile(join(leaf, 'cpuset.cpus'), cpus)
  if (mems) writeCgroupFile(join(leaf, 'cpuset.mems'), mems)
  if (record.cpuset) writeCgroupFile(join(leaf, 'cgroup.procs'), String(pid))
}
