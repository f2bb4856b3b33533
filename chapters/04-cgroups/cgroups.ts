/**
 * Chapter 04: cgroups. The container gets a cgroup of its own with memory, CPU and process
 * limits (config.json's linux.resources), its PID 1 joins it before exec, an OOM kill is
 * noticed, and the cgroup is removed when the container is gone.
 *
 * Two kernel interfaces, one idea. cgroup v1 has a hierarchy per controller
 * (/sys/fs/cgroup/memory, /sys/fs/cgroup/pids, ...); cgroup v2 has one tree where each
 * directory holds every controller's files. This module speaks both, chosen by what the host
 * has, and takes the cgroup filesystem's root as a parameter so it can be tried on a plain
 * directory laid out the same way.
 *
 * Check your work with `npx workbook check 4`.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CGROUP_ROOT, cgroupVersion, enableControllers, forkIntoCgroup, joinCgroup, oomKilled, readKeyed, V1_CONTROLLERS, writeCgroupFile,
  type Cgroup, type CgroupExit, type CgroupOptions, type Controller,
} from '../../lib/cgroup.ts'
import { cgroupDirs, resourceFiles } from '../../lib/cgroup-files.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import type { Resources, Spec } from '../../lib/oci.ts'
import type { Helper } from '../../native/helper.ts'

// Given (lib/cgroup.ts): CGROUP_ROOT, the Controller, Cgroup, CgroupOptions and CgroupExit
// types, writeCgroupFile (errors that name the file and value), readKeyed (flat-keyed files),
// cgroupVersion (which version a mount is), enableControllers (v2's subtree_control, top down),
// joinCgroup (a PID into every hierarchy), forkIntoCgroup (the container's process joins between
// chapter 02's fork and its exec) and oomKilled (the memory controller's oom_kill counter).
// Given (lib/cgroup-files.ts): cgroupDirs (the container's directory for each controller, from
// cgroupsPath and the caller's /proc/self/cgroup) and resourceFiles (linux.resources as
// [controller, file, value] in the order a new cgroup takes them; what each file means is the
// text's "From linux.resources to files").
export {
  CGROUP_ROOT, cgroupDirs, cgroupVersion, enableControllers, forkIntoCgroup, joinCgroup, oomKilled, readKeyed, resourceFiles, V1_CONTROLLERS,
  type Cgroup, type CgroupExit, type CgroupOptions, type Controller,
}

// #region createCgroup
/**
 * Create the container's cgroup from spec.linux.cgroupsPath and write spec.linux.resources into
 * it; options give another mount or /proc/self/cgroup text, to try it on a plain directory.
 * Resolves to the Cgroup: its directories and what removeCgroup may try to remove. What it must
 * do when it is not alone, or fails half-way, is the chapter's question ("Creating it, and
 * undoing a failure", "When the leaf is already there").
 */
export async function createCgroup(spec: Spec, options: CgroupOptions = {}): Promise<Cgroup> {
  // TODO(04): make the cgroup and write its limits: all of it, or nothing.
  //   1. No cgroupsPath in the spec: a ContainerError (125). cgroupDirs and resourceFiles (given)
  //      say where and what; the caller's place comes from options.self (or /proc/self/cgroup),
  //      the mount from options.root (or CGROUP_ROOT).
  //   2. Other containers run at the same time with a cgroupsPath beside this one (every
  //      minidocker run is minidocker/ID), so the parents cgroupsPath names are shared: another
  //      run may be creating them, or removing them, between any two of this run's steps. The
  //      create must end with its cgroup in place even when a parent it saw, or made, is gone at
  //      its next step; the last container out must leave no parent behind, whoever made it; and
  //      no run may take the base it nested in. (Cgroup.removeOrder; chapter text: "Creating it,
  //      and undoing a failure", and "Removing it".)
  //   3. On v2 a controller's files appear in a cgroup only once every parent enables it
  //      (cgroup-v2.rst, "Enabling and Disabling"; enableControllers is given). Which ones, at
  //      which levels? A hybrid host's cgroup2 tree offers none.
  //   4. Any write can fail (a quota under the kernel's minimum, a controller the parent lacks).
  //      Then nothing may be left behind, and the error that comes out names the file and the
  //      value (writeCgroupFile, given, does that). A file may also not be there at all: what
  //      does a swap request mean on a kernel that accounts no swap? (chapter text: "From
  //      linux.resources to files", the last paragraphs)
  //   5. The leaf itself may be there already: left by a run that was killed (empty, old limits,
  //      maybe frozen), or another run's with the same cgroupsPath, with its processes in it or
  //      about to be. Take it, or refuse it? Can anything you read in a leaf tell
  //      a leftover from another create's leaf whose process has not joined yet? If not, how can
  //      exactly one of two creates at the same moment end up with it, and what does `mkdir -p`
  //      tell you about a leaf that was there? On
  //      v1 a leaf may be found in one hierarchy after you made it in others: which of those may
  //      your undo take, and which must it never? (mkdir(2), "EEXIST"; chapter text: "When the
  //      leaf is already there".)
  throw new NotImplementedError('04-cgroups', 'createCgroup')
}
// #endregion createCgroup

// #region updateCgroup
/**
 * Change the limits of a cgroup that is in use, as `runc update` (and `docker update --memory
 * --memory-swap --cpus --pids-limit`) does: only what `resources` sets changes. A refused update
 * fails with the kernel's refusal that stopped it; what the container runs with afterwards, and
 * what the caller learns of it, is the chapter's question ("Changing the limits of a running
 * container", "When setting back is refused too").
 */
export async function updateCgroup(cgroup: Cgroup, resources: Resources): Promise<void> {
  // TODO(04): new limits for a cgroup whose process is running: the files are those of
  //   resourceFiles, but the cgroup no longer holds a new cgroup's defaults.
  //   1. The kernel checks each write against the limits in force at that moment. On a fresh
  //      cgroup those are known; here they are whatever the last create or update left. For
  //      each pair of v1 files the kernel checks against each other, find an old and a new pair
  //      of values for which your create order is refused, and one for which the opposite order
  //      is. What decides the order, and where do you learn it?
  //   2. A write can be refused half-way (a quota under the kernel's minimum, a memory limit
  //      below what the container already uses). A failed update leaves the limits as they
  //      were, all of them, not half old and half new, and the error that comes out is the
  //      refusal (writeCgroupFile's, which names the file and the value). Going back is writing
  //      too: what must be true of those writes for the kernel to accept every one?
  //   3. The container keeps running while you write, and its memory use grows into whatever
  //      room your writes give it. What does that do to going back, on v1 and on v2? And
  //      something outside can change meanwhile (a parent's CPU limit lowered): if a file then
  //      cannot go back, what does the caller believe the container's limits are?
  //   4. An update names only what changes, and OCI's memory.swap counts memory + swap. A memory
  //      limit given alone: what total does the container have afterwards on each version, and
  //      which one did the caller mean to keep?
  //   5. cgroup-v1/memory.rst ("limit_in_bytes") and cgroup-v2.rst ("memory.max") say what a
  //      lower limit does to a cgroup that uses more; scheduler/sched-bwc.rst what a quota is
  //      checked against. Chapter text: "Changing the limits of a running container" and "When
  //      setting back is refused too".
  throw new NotImplementedError('04-cgroups', 'updateCgroup')
}
// #endregion updateCgroup

// #region removeCgroup
/** Remove the container's cgroup: what removeOrder lists, deepest first. */
export async function removeCgroup(cgroup: Cgroup): Promise<void> {
  // TODO(04): remove what createCgroup made, deepest first.
  //   1. A cgroup's files are the kernel's: only rmdir removes a cgroup, and only once it holds
  //      no process and no child cgroup. Try rmdir by hand on a cgroup with a process in it and
  //      on one with a child: does the errno tell them apart (kernel/cgroup/cgroup.c,
  //      cgroup_destroy_locked)? If not, what does? A plain directory, like the fake v2 tree's,
  //      answers differently.
  //   2. The container's last processes may still be on their way out when this is called, and
  //      a container may have made cgroups of its own inside its cgroup. Which refusal will go
  //      away if you wait a moment, which never will, and whose is each directory in the way?
  //   3. Other containers below the same parents come and go while this runs, between any two
  //      of its steps. The container's own cgroup must go, and a leaf that stays is an error;
  //      the last one out leaves no parent behind. What does each rmdir answer mean then?
  throw new NotImplementedError('04-cgroups', 'removeCgroup')
}
// #endregion removeCgroup

// #region withCgroup
/**
 * Run a container in a cgroup: create it, `run` (which must join the container's process to it
 * before exec and return the exit code), note an OOM kill, and remove the cgroup, whatever
 * happens. Rejects when the create or `run` does; what is left of the container then is the
 * chapter's question ("When is a container over?").
 */
export async function withCgroup(
  spec: Spec,
  run: (cgroup: Cgroup) => Promise<number>,
  options: CgroupOptions = {},
): Promise<CgroupExit> {
  // TODO(04): a cgroup's whole life around one run.
  //   1. The cgroup exists before `run` starts the process; `run` resolves when PID 1 has exited,
  //      to its exit code. oomKilled (given) reads the memory controller's counter.
  //   2. Is the container over when PID 1 is? What can still be in its cgroup then, what
  //      decides it (chapter 02's namespaces), and where would you see it? And when `run` fails,
  //      where may its process be?
  //   3. cgroups(7), "Creating cgroups and moving processes"; pid_namespaces(7), on what the
  //      end of a namespace's init does. Chapter text: "When is a container over?".
  throw new NotImplementedError('04-cgroups', 'withCgroup')
}
// #endregion withCgroup
