/**
 * Chapter 09: an OCI runtime with runc's life cycle. `create` sets the container up (with the
 * same code `minidocker run` uses) and leaves its process parked on ROOT/ID/exec.fifo; `start`
 * opens the fifo and the process execs; `kill` signals it; `delete` removes what is left.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Cgroup } from '../../lib/cgroup.ts'
import type { Mount, Spec } from '../../lib/oci.ts'
import type { Attachment, NetworkRequest } from '#ch/08-network/network.ts'
import type { ContainerRecord, RuntimeLog } from '../../lib/runtime.ts'
import type { Helper } from '../../native/helper.ts'

export interface ExecOptions {
  process: Spec['process']
  detach: boolean
  pidFile?: string
  consoleSocket?: string
}

export interface CreateOptions {
  bundle: string
  pidFile?: string
  consoleSocket?: string
  /**
   * `minidocker run`'s network (chapter 08), which runc's command line never carries: wired at
   * the moment dockerd's libnetwork-setkey prestart hook runs, and recorded in `attached` for
   * the caller to undo once the container is deleted.
   */
  network?: { request: NetworkRequest; attached: { network?: Attachment } }
}

// #region create
/**
 * runc create. When it returns, ROOT/ID holds the container's record and exec.fifo, and the
 * container's process exists, set up as `minidocker run` sets one up (prepare() and secure() in
 * minidocker/container.ts), its prestart and createRuntime hooks run once it had a PID; its
 * program has not run and will not until `start`. The pid file names it; it keeps create's
 * stdin, stdout and stderr. Refused in runc's words: an ID in use, `container with id exists:
 * ID`; process.terminal without a console socket, `cannot allocate tty if runc will detach
 * without setting console socket`; a console socket without process.terminal, `cannot use
 * console socket if runc will not detach or allocate tty`; a socket that cannot be reached,
 * `failed to connect to console socket PATH: REASON`, REASON being the helper's SyscallError
 * text. ROOT is made (0700) when missing, as runc makes it, and stays after a refused create.
 * What config.json asks for and this runtime does not do (device rules on a cgroup v2 host) is
 * named in one warning line of the log, which says "not applied by this runtime yet:
 * linux.resources.devices (cgroup v2)".
 *
 * What fails once `start` has released the process (its program or working directory removed
 * meanwhile) reaches whoever runc's init would reach: the process's stderr and its exit status.
 *
 * With `detach` (the command), the process is left to the caller's subreaper (containerd's
 * shim), as runc's init is; without it (`run`), the returned Helper's `exited` reports the
 * container's exit. A failure at any point leaves nothing: no process, cgroup or state directory.
 */
export async function create(root: string, id: string, options: CreateOptions, log: RuntimeLog, detach = true): Promise<Helper> {
  // TODO(09): runc create, the chapter's centre (the text's "create"; runtime-spec runtime.md,
  //   "Lifecycle"; runc's libcontainer/container_linux.go, Start and newParentProcess, and
  //   init_linux.go and standard_init_linux.go for the process's side).
  //   1. What can be refused before anything exists (the ID, the bundle, the terminal and its
  //      socket)? From the first thing made on, a failure must undo all of it, the container's
  //      process included. A create killed with SIGKILL undoes nothing, and it can be killed
  //      between any two of its steps, on disk as much as in the kernel: at each such moment,
  //      what would a later `state` and `delete --force` find, and would that name everything
  //      made so far?
  //   2. Two creates of one ID may race, each looking before it acts: what decides, in one
  //      step, which one wins, and what may the loser touch on its way out?
  //   3. exec.fifo: opening a fifo blocks (fifo(7)), and after pivot_root the process no longer
  //      sees the host's path to it. So who opens it, when, and how does the process still
  //      reach it from inside? And what on this machine can make a fifo at all?
  //   4. config.json may ask for linux.resources and name no cgroupsPath (runc spec's does):
  //      where would runc put such a container (libcontainer/specconv, createCgroupConfig)?
  //      The set-up is minidocker run's (prepare()), namespaces given by path included
  //      (chapter 02 joins them). prepare() has moments you can act in: which of create's steps
  //      (the prestart, createRuntime and createContainer hooks among them) needs which, from
  //      what it needs to exist? `minidocker run` hands you its network (options.network).
  //   5. What config.json asks beyond chapters 01-08 (rlimits, sysctls, device nodes and
  //      rules, cpus and mems, masked and read-only paths, a terminal) is given, in lib/
  //      (the text's "What else config.json asks of the process"); each has its moment: find
  //      it from what it needs. So has mountCgroups, for config.json's `cgroup` mounts, which
  //      chapter 03's setupRootfs cannot make as they stand (a v1 hierarchy mounted again is
  //      EBUSY). The user and chapter 13's secure() come last, once nothing privileged is
  //      left; exec will need the container's seccomp filter too.
  //   6. create exits while the process waits: everything the process does after `start` must
  //      be asked of it now, in order, and nothing of the runtime may reach the program (what
  //      does it find open when it starts?). The caller may read the pid file the moment it
  //      exists. And once create has gone, who can hear that the exec failed (the program
  //      removed before start), and how? Try it with runc: create, remove the program from the
  //      rootfs, start; then runc state, what the container printed, and how its process ended
  //      (the text's "After start").
  //   7. detach: once create has exited, the process's exit must reach whoever ran create (the
  //      shim), with the status the program gave it, and the process must outlive create.
  throw new NotImplementedError('09-runtime', 'create')
}
// #endregion create


// #region start
/**
 * runc start: only a created container may start (`cannot start a container that has stopped`,
 * `cannot start an already running container`). When start returns, the process has been
 * released to run its program and every later command sees it running; start never hangs, even
 * when the process died while it waited. The startContainer hooks run in the container before
 * its program, as runc runs them; the poststart hooks after it, and their failure is only logged.
 */
export async function start(root: string, id: string, log: RuntimeLog): Promise<void> {
  // TODO(09): runc start: release the process parked on exec.fifo (runtime-spec runtime.md,
  //   "Start"; runc's container_linux.go, exec).
  //   1. Only a created container may start, and the kernel says which it is (the given
  //      status in lib/); the refusals are in the doc comment.
  //   2. Opening a fifo for reading blocks until a writer comes, and the writer may be dead.
  //      How do you take what the process hands over without ever hanging (fifo(7), open(2))?
  //      How does start tell "not yet" from "never", whatever the moments at which the process
  //      writes, execs and exits? And a process killed between create and start: in whose
  //      words is start refused?
  //   3. Once released, what makes every later command see "running" rather than "created"?
  //   4. The startContainer hooks run inside the container before its program, with their path
  //      looked up there; the poststart hooks after it (the given runHooks). And when one fails:
  //      ask runc what its start says, what the container shows, and where its hook ran (the
  //      text's "Hooks"). Who must learn of it, and who cannot?
  throw new NotImplementedError('09-runtime', 'start')
}
// #endregion start

// #region mountCgroups
/**
 * A `cgroup` entry of config.json's mounts (dockerd writes one at /sys/fs/cgroup, options ro,
 * nosuid, noexec, nodev), made below spec.root.path by the container's process, in its mount
 * namespace, before pivot_root: the container's view of its own cgroups, as runc's
 * mountCgroupV1 and mountCgroupV2 make it. A program inside reads its own limits where it
 * would on the host (/sys/fs/cgroup/memory/memory.limit_in_bytes on v1); it never sees its
 * parents' cgroups or anyone else's, and with `ro` it changes none. On v1 a program finds each
 * hierarchy the container has a cgroup in wherever it would look for it on a host like this
 * one. `cgroup` is the container's (undefined: none).
 */
export async function mountCgroups(helper: Helper, spec: Spec, mount: Mount, cgroup: Cgroup | undefined): Promise<void> {
  // TODO(09): the container's /sys/fs/cgroup (the text's "The container's /sys/fs/cgroup";
  //   runc's mountCgroupV1 and mountCgroupV2 in libcontainer/rootfs_linux.go).
  //   1. Today a program inside finds an empty directory there. What must it find: which
  //      directories, whose files, under which names (look at the host's /sys/fs/cgroup, and at
  //      /proc/self/cgroup of a process in a container's cgroup)? What must it never see, in
  //      any hierarchy the host has (where is the container's process in each of them)?
  //   2. On v1 a hierarchy cannot be mounted a second time with other options (EBUSY), and a
  //      fresh mount would show its root, not the container's cgroup: so how does the
  //      container's directory of each hierarchy get there, and under what at the destination
  //      (mount(2))? And is every host's /sys/fs/cgroup laid out as yours (cgroups(7))?
  //   3. "ro": does each mount you make come out with the flags you asked of it (mount(2);
  //      /proc/self/mountinfo shows what you got)? And what could a program do in the
  //      directory that holds them?
  //   4. On v2 there is one hierarchy. What would a cgroup2 mount made by the container's
  //      process show, with a cgroup namespace and without (cgroup_namespaces(7))? Find out
  //      which cgroup is that namespace's root in this runtime before you rely on it.
  throw new NotImplementedError('09-runtime', 'mountCgroups')
}
// #endregion mountCgroups

// #region setFrozen
/**
 * Freeze (pause) or thaw (resume) every process of the container with the cgroup freezer, and
 * resolve once the kernel has done it; the freezer used is saved in the record (`status` reads
 * it, delete removes it). On cgroup v2 the freezer is the container's own cgroup's. On v1 it is a
 * hierarchy of its own that chapter 04 did not join: FREEZER/PATH, PATH being that of the
 * container's other cgroups. A container without a cgroup cannot be frozen: `container ID has
 * no cgroup to freeze`.
 */
export async function setFrozen(dir: string, record: ContainerRecord, frozen: boolean): Promise<void> {
  // TODO(09): the freezer, as runc's cgroup code uses it (fs/freezer.go, fs2/freezer.go).
  //   1. Which directory: on v2 every controller lives in the container's one cgroup; on v1
  //      the freezer is a hierarchy of its own, with the same relative path as the others
  //      (lib/cgroup-v1.ts). Remember what you made (record.freezer, saved), so status reads it
  //      and delete removes that and no more. pause can be killed between any two of its
  //      steps, as create can: at each, what would delete --force find named?
  //   2. v1: freezing a cgroup stops the processes in it, none outside it. The container may
  //      be forking and exiting thousands of times a second while you act, and may have moved
  //      some of its processes elsewhere in its hierarchies: when you report it frozen, can you
  //      show that no process of the container is still running (cgroups(7), cgroup.procs;
  //      cgroup-v1/freezer-subsystem.rst)?
  //   3. Writing the file asks for the change: when is it done (the same documents, and
  //      cgroup-v2.rst)? pause must answer, one way or the other, naming the container and the
  //      file when it cannot.
  throw new NotImplementedError('09-runtime', 'setFrozen')
}
// #endregion setFrozen

// #region deleteContainer
/**
 * runc delete: remove a stopped container's cgroup and state directory, then run its poststop
 * hooks (a failure is logged). A running container is refused, `cannot delete container ID that
 * is not stopped: running`, unless `force`, which kills every process in it first and waits
 * for them; a created container as runc treats one.
 */
export async function deleteContainer(root: string, id: string, force: boolean, log: RuntimeLog): Promise<void> {
  // TODO(09): runc delete, per the runtime spec (runtime.md, "Delete").
  //   1. Which statuses may be deleted without --force, and what does runc do with "created"?
  //      A refusal must change nothing.
  //   2. Nothing of the container may survive before its cgroup can go (chapter 04 removes it;
  //      it refuses while a process is in it), nor the v1 cgroups create and pause made
  //      (devices, cpuset, freezer), if any. Only a matter for --force? Of which of the
  //      container's processes does "stopped" speak (pid_namespaces(7))? A paused container
  //      too: can a frozen process die (cgroup-v1's freezer-subsystem.rst)? And what could its
  //      processes get up to between running again and being dead? Where, in the cgroup tree,
  //      can a process of the container be, and what of that does each file you read list?
  //   3. create can be killed between any two of its steps, and a shim then calls delete
  //      --force: what can each such moment have left under ROOT, and which of it can your
  //      commands load? What does runc's delete.go do with each?
  //   4. The poststop hooks read the container's state on their stdin: as of which moment of
  //      delete (ask runc, after delete --force of a running one)? Their failure is a warning.
  throw new NotImplementedError('09-runtime', 'deleteContainer')
}
// #endregion deleteContainer

// #region execProcess
/**
 * runc exec: run `process` inside container `id`, as one more process of it: in its
 * namespaces and its cgroups, with its limits, working directory, user, capabilities and
 * seccomp filter (chapter 13's secure()), and a terminal when asked.
 * A container that cannot take one more process is refused in runc's words (`cannot exec in a
 * stopped container` for one that has stopped). With `detach` it returns once the program runs, leaving
 * it to the caller's subreaper as create does, and writes `pidFile`; otherwise it waits and
 * resolves to the exit code.
 */
export async function execProcess(root: string, id: string, options: ExecOptions): Promise<number> {
  // TODO(09): runc exec: a second process in a container, the way nsenter(1) enters one
  //   (runc's setns_init_linux.go; the text's "exec").
  //   1. Which of the container's namespaces are worth joining, of every kind it may have been
  //      given (namespaces(7); how do two /proc/PID/ns links tell?), and in which order, given
  //      that after the mount namespace the host's /proc is no longer what you see?
  //   2. Once joined, is the process that will run the program in every one of the
  //      container's namespaces and cgroups? Compare its /proc/PID/ns links and the NSpid line
  //      of its /proc/PID/status with the container's process's (setns(2)).
  //   3. From there it is create's end: which of create's steps apply to one more process of the
  //      same container, and which belong to the container's first process only? And what does
  //      the new process inherit from whoever ran exec that config.json set for the first one? The devices
  //      and cpuset cgroups create made hold exec'd processes too (the record has them).
  //   4. Which of a container's statuses can take a new process, and what would become of
  //      that process, and of exec, in each of the others? Ask runc, status by status.
  //   5. With detach, the process goes to the caller's subreaper, as create's does. Is create's
  //      moment for that hand-over right here too, for a program that may end at once (the
  //      text's "exec")?
  throw new NotImplementedError('09-runtime', 'execProcess')
}
// #endregion execProcess
