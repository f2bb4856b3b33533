/**
 * Chapter 09: an OCI runtime with runc's life cycle. `create` sets the container up (with the
 * same code `minidocker run` uses) and leaves its process parked on ROOT/ID/exec.fifo; `start`
 * opens the fifo and the process execs; `kill` signals it; `delete` removes what is left.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { NotImplementedError } from '../../lib/errors.ts'
import type { Cgroup } from '../../lib/cgroup.ts'
import type { Mount, Spec } from '../../lib/oci.ts'
import type { Attachment, NetworkRequest } from '#ch/08-network/network.ts'
import { processStartTime, RuntimeError, type ContainerRecord, type RuntimeLog } from '../../lib/runtime.ts'
import type { Helper } from '../../native/helper.ts'
import { containerStatus } from './state.ts'

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

// #region findExecutable
/**
 * The file to exec for process.args[0] in the container whose process is `pid`, as the
 * container will see it once its root is `/`: checked before the container waits for `start`,
 * so that `create` can still report a missing program (runc's init looks it up there too). A
 * relative path is relative to process.cwd. Errors are chapter 01's words: `exec: "NAME":
 * executable file not found in $PATH`, `exec: "PATH": stat PATH: no such file or directory`,
 * `exec: "PATH": permission denied` (Go's LookPath says which is which).
 */
export function findExecutable(pid: number, process: Spec['process']): string {
  // TODO(09): find the program before the container parks on exec.fifo, so create can report it.
  //   1. Chapter 01 already knows which files to try for a name; here each must be looked at as
  //      the container will see it. Which host path shows the container's root, and why must a
  //      symlink found there be resolved inside that root, not by the host's kernel (the text's
  //      "create"; chapter 03's secureJoin)?
  //   2. Which candidate is the one: what would execve(2) refuse?
  //   3. The three errors in the doc comment are what the caller sees. A path that exists but
  //      is no executable file (args ["/"]) is not "no such file": which does runc say (Go's
  //      LookPath), and which exit code does docker give it, 126 or 127?
  throw new NotImplementedError('09-runtime', 'findExecutable')
}
// #endregion findExecutable

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
  //      process included. A create killed with SIGKILL undoes nothing: at each moment of it,
  //      what would a later `delete --force` find on disk, and would that name everything
  //      made so far?
  //   2. Two creates of one ID may race, each looking before it acts: what decides, in one
  //      step, which one wins, and what may the loser touch on its way out?
  //   3. exec.fifo: opening a fifo blocks (fifo(7)), and after pivot_root the process no longer
  //      sees the host's path to it. So who opens it, when, and how does runc's init still reach
  //      it from inside? Node cannot make a fifo (mkfifo(1) can).
  //   4. config.json may ask for linux.resources and name no cgroupsPath (runc spec's does):
  //      where would runc put such a container (libcontainer/specconv, createCgroupConfig)?
  //      The set-up is minidocker run's (prepare()), namespaces given by path included
  //      (chapter 02 joins them). prepare() has a moment for the prestart and createRuntime hooks and
  //      one for createContainer's: what does their state need that only then exists?
  //      `minidocker run` hands you its network (options.network): prepare() knows when chapter
  //      08 wires it, and the caller must be able to undo what was attached.
  //   5. What config.json asks beyond chapters 01-08 (applyProcessLimits, applySysctl,
  //      createDeviceNodes, protectPaths, applyDeviceRules, applyCpuset, a terminal's
  //      setupConsole) each has its moment: find it from what it needs (root, the namespaces,
  //      the container's mounts). So has mountCgroups, for config.json's `cgroup` mounts, which
  //      chapter 03's setupRootfs cannot make as they stand (a v1 hierarchy mounted again is
  //      EBUSY): what does it need to see, and what must already be mounted below it?
  //      The user and chapter 13's secure() come last, once nothing
  //      privileged is left; keep its seccomp filter in the record, exec needs it.
  //   6. create exits while the process waits: everything the process does after `start` must
  //      be asked of it now, in order, and nothing of the runtime may leak into the program.
  //      The caller may read the pid file the moment it exists. And once create has gone, who
  //      can hear that the exec failed (the program removed before start), and how? Try it
  //      with runc: create, remove the program from the rootfs, start; then runc state, what
  //      the container printed, and how its process ended (the text's "After start").
  //   7. detach: once create has exited, the process's exit must reach whoever ran create (the
  //      shim), with the status the program gave it, and the process must outlive create.
  //   Given below: noteIgnored (what this runtime leaves out of config.json), writeAtomically,
  //   killAndWait.
  throw new NotImplementedError('09-runtime', 'create')
}
// #endregion create


// #region start
/**
 * runc start: only a created container may start (`cannot start a container that has stopped`,
 * `cannot start an already running container`). When start returns, the process has been
 * released to run its program and every later command sees it running; start never hangs, even
 * when the process died while it waited. The startContainer hooks run first, in the container
 * (one that fails stops the container and start fails); the poststart hooks after, and their
 * failure is only logged.
 */
export async function start(root: string, id: string, log: RuntimeLog): Promise<void> {
  // TODO(09): runc start: release the process parked on exec.fifo (runtime-spec runtime.md,
  //   "Start"; runc's container_linux.go, exec).
  //   1. Only a created container may start, and the kernel says which it is (containerStatus);
  //      the refusals are in the doc comment.
  //   2. Opening a fifo for reading blocks until a writer comes, and the writer may be dead.
  //      How do you take what the process hands over without ever hanging (fifo(7), open(2))?
  //      What does a read return before the writer has opened its end, and after? A fast
  //      program writes, execs and exits within one of your polls: has it started? And a
  //      process killed between create and start: in whose words is start refused?
  //   3. Once released, what makes every later command see "running" rather than "created"?
  //   4. The startContainer hooks run inside the container before its program, with their path
  //      looked up there (runHooks' `inside`); the poststart hooks after it.
  throw new NotImplementedError('09-runtime', 'start')
}
// #endregion start

// #region applyProcessLimits
/**
 * process.rlimits and process.oomScoreAdj, in force for the container's process before it runs
 * its program, hard limits that go up included. A limit of 2^64-1 is RLIM_INFINITY, unlimited.
 */
export async function applyProcessLimits(helper: Helper, pid: number, process: Spec['process']): Promise<void> {
  // TODO(09): the limits config.json puts on the process (config.md, "POSIX process").
  //   1. Limits are per process and survive exec (getrlimit(2)); Node cannot set them for
  //      another process, the helper can set its own. Why must it happen before the user
  //      changes (the hard limits)?
  //   2. JSON numbers are doubles: what does 2^64-1, the spec's "unlimited", become after
  //      JSON.parse, and what must the helper receive instead?
  //   3. The OOM score is written from outside (proc(5), /proc/PID/oom_score_adj).
  throw new NotImplementedError('09-runtime', 'applyProcessLimits')
}
// #endregion applyProcessLimits

// #region applySysctl
/**
 * linux.sysctl: each key written under /proc/sys (dots become slashes) so that it lands in the
 * container's namespaces, never the host's (proc(5), /proc/sys/net). Only a key that belongs
 * to a namespace the container does not share with the host is allowed, as
 * runc's validator allows it (libcontainer/configs/validate, its sysctl check; which keys each
 * namespace owns: network_namespaces(7), ipc_namespaces(7)); the tests write a net.* key with a
 * network namespace of the container's own. Anything else would change the host and is refused
 * before anything is written: `sysctl "KEY" is not in a separate kernel namespace`.
 */
export async function applySysctl(helper: Helper, spec: Spec): Promise<void> {
  // TODO(09): linux.sysctl, as runc writes it (libcontainer/configs/validate's sysctl rules).
  //   1. Whose /proc/sys/net do you see when you open it: the process's, or the namespace it
  //      was mounted in? (proc(5), "/proc/sys/net"; ipc_namespaces(7) for the IPC keys.) So
  //      who must write, and when?
  //   2. Which keys belong to a namespace at all, and which namespace? A key the container
  //      shares with the host must be refused before anything is written, in the words above.
  throw new NotImplementedError('09-runtime', 'applySysctl')
}
// #endregion applySysctl

// #region v1Cgroup
/**
 * The container's directory in cgroup v1 hierarchy `controller` (freezer, devices, cpuset),
 * which chapter 04 does not use: at the same path within the hierarchy as the container's other
 * cgroups, made if needed; and the directories made here, deepest first, which are all that
 * may be removed of it later.
 */
export function v1Cgroup(cgroup: Cgroup, controller: string): { dir: string; removeOrder: string[] } {
  // TODO(09): the v1 hierarchies runc uses beyond chapter 04's (the text's "the devices cgroup";
  //   runc's fs/paths.go, subsysPath, in github.com/opencontainers/cgroups; cgroups(7)).
  //   1. cgroup.dirs has the container's directory in the hierarchies chapter 04 made: what is
  //      its path within its hierarchy, and where is the same path in another one?
  //   2. Other containers, or the runtime itself, may own the directories above the leaf
  //      (a shared cgroupsPath, the runtime's own cgroup): which of them may delete remove,
  //      and how will it know?
  throw new NotImplementedError('09-runtime', 'v1Cgroup')
}
// #endregion v1Cgroup

// #region mountCgroups
/**
 * A `cgroup` entry of config.json's mounts (dockerd writes one at /sys/fs/cgroup, options ro,
 * nosuid, noexec, nodev), made below spec.root.path by the container's process, in its mount
 * namespace, before pivot_root: the container's view of its own cgroups, as runc's
 * mountCgroupV1 and mountCgroupV2 make it. A program inside reads its own limits where it
 * would on the host (/sys/fs/cgroup/memory/memory.limit_in_bytes on v1); it never sees its
 * parents' cgroups or anyone else's, and with `ro` it changes none. On v1 a program finds each
 * hierarchy the container has a cgroup in at the path it would read on a host like this one,
 * under every name it may look for it by. `cgroup` is the container's (undefined: none).
 */
export async function mountCgroups(helper: Helper, spec: Spec, mount: Mount, cgroup: Cgroup | undefined): Promise<void> {
  // TODO(09): the container's /sys/fs/cgroup (the text's "The container's /sys/fs/cgroup";
  //   runc's mountCgroupV1 and mountCgroupV2 in libcontainer/rootfs_linux.go).
  //   1. Today a program inside finds an empty directory there. What must it find: which
  //      directories, whose files, under which names (look at the host's /sys/fs/cgroup, and at
  //      /proc/self/cgroup of a process in a container's cgroup)? What must it never see?
  //   2. On v1 a hierarchy cannot be mounted a second time with other options (EBUSY), and a
  //      fresh mount would show its root, not the container's cgroup: so how does the
  //      container's directory of each hierarchy get there, and under what at the destination
  //      (mount(2))? Some hosts mount two controllers as one hierarchy: by which names will
  //      programs look for it, and what does runc leave them?
  //   3. "ro": which of the mounts you make take it when they are made, and which need a
  //      second step (mount(2), "MS_BIND", "MS_REMOUNT")? The destination itself must end up
  //      read-only too, after what is inside it is in place.
  //   4. On v2 there is one hierarchy. Without a cgroup namespace, what would a cgroup2 mount
  //      show? With one of the container's own (dockerd on v2 asks for one), it shows the
  //      namespace's root (cgroup_namespaces(7)): which cgroup is that here, given when
  //      prepare() joins the cgroup and when chapter 02 makes the namespaces?
  throw new NotImplementedError('09-runtime', 'mountCgroups')
}
// #endregion mountCgroups

// #region applyDeviceRules
/**
 * linux.resources.devices on cgroup v1: the devices cgroup at the container's cgroup path (a
 * hierarchy chapter 04 does not use) holds the spec's rules and runc's own defaults
 * (ALLOWED_DEVICES), and it holds the process before the process runs anything. Saved in the
 * record for exec and delete. On cgroup v2 the device rules are an eBPF program, which this
 * runtime does not load (noted).
 */
export async function applyDeviceRules(dir: string, record: ContainerRecord, pid: number, spec: Spec): Promise<void> {
  // TODO(09): the devices cgroup (cgroup-v1/devices.rst; runc's cgroup code, devices/).
  //   1. Which directory, and how do you keep delete able to remove exactly what you made
  //      (lib/runtime.ts has the plumbing)?
  //   2. The rules are ordered, and the kernel's list starts from its parent's: what does the
  //      usual first rule, deny everything, do, and why must every rule be written before the
  //      process is moved in?
  //   3. docker's list denies nearly everything, counting on the runtime to add runc's own
  //      defaults (lib/runtime.ts says which): what would docker run -it meet without them?
  //   4. exec'd processes must obey the same rules: where does the record keep the directory?
  throw new NotImplementedError('09-runtime', 'applyDeviceRules')
}
// #endregion applyDeviceRules

// #region applyCpuset
/**
 * linux.resources.cpu.cpus and mems, the CPUs and memory nodes the container may use: the
 * cpuset controller, which chapter 04 does not use. On cgroup v1 it is a hierarchy of its own,
 * at the container's cgroup path, with the traps runc's cpuset.go deals with (the text's "cpus
 * and mems"); the process is in it before it runs anything. Saved in the record for exec and
 * delete. On v2 the two files are the container's own cgroup's, once its parents enable cpuset.
 */
export async function applyCpuset(dir: string, record: ContainerRecord, pid: number, spec: Spec): Promise<void> {
  // TODO(09): the cpuset cgroup (cgroup-v1/cpusets.rst; runc's cgroup code, fs/cpuset.go).
  //   1. Nothing to do without cpus or mems, or without a cgroup. Which directory on v1, and
  //      how does delete know what to remove (as applyDeviceRules does)?
  //   2. Make a cgroup with mkdir and read its cpuset.cpus: what is in it, and what does the
  //      kernel answer a process that joins it? A list must also stay within its parent's:
  //      what of the directories the path added above the leaf?
  //   3. v2: which parent files must list cpuset before the leaf has the two files
  //      (chapter 04 did the same for memory)?
  throw new NotImplementedError('09-runtime', 'applyCpuset')
}
// #endregion applyCpuset

// #region createDeviceNodes
/**
 * linux.devices: each node exists in the container's /dev as runc's createDevices makes it, its
 * path resolved in the container's root, never through a symlink to the host's: its parent
 * directories made, with the given type (c, b, u as c, or p for a fifo), major, minor and
 * fileMode (0666 when absent), owned by uid:gid (0:0 when absent). A node that exists already
 * is kept, as runc keeps it.
 */
export async function createDeviceNodes(helper: Helper, pid: number, spec: Spec): Promise<void> {
  // TODO(09): the device nodes config.json lists (dockerd adds one per --device).
  //   1. Who makes a node, and in which view of the files: the container's process after
  //      pivot_root, or the runtime on the host? What could an image's symlink in /dev do
  //      to a node made through a host path?
  //   2. The spec's fields (config-linux.md, "Devices") and their defaults; "u" is an
  //      unbuffered character device. The helper's mknod keeps the mode exactly; which of
  //      its calls could set the owner, and if none, how can Node reach the node without
  //      going through a symlink the image put on the way?
  //   3. A node that is already there is not an error.
  //   runc: createDevices() and createDeviceNode() in libcontainer/rootfs_linux.go;
  //   chapter: "What else config.json asks of the process".
  throw new NotImplementedError('09-runtime', 'createDeviceNodes')
}
// #endregion createDeviceNodes

// #region protectPaths
/**
 * linux.maskedPaths and linux.readonlyPaths, in the container's mount namespace after
 * pivot_root (the paths are the container's, /proc/kcore, /proc/sys, ...), as runc's maskPath
 * and readonlyPath make them: a masked file reads as empty, a masked directory lists nothing, a
 * read-only path refuses writes. A path the container does not have is skipped.
 */
export async function protectPaths(helper: Helper, pid: number, spec: Spec): Promise<void> {
  // TODO(09): hide and protect what the container's /proc and /sys show of the host.
  //   1. The paths are the container's: after pivot_root, in its mount namespace. How does
  //      the runtime find out, from the host, whether each is a file, a directory or absent?
  //   2. What can be mounted over a file, and what over a directory, so that reading shows
  //      nothing (runc's maskPath)?
  //   3. Read-only for a bind mount: what does mount(2) ("MS_BIND", "MS_REMOUNT") say about
  //      flags given with the first bind?
  throw new NotImplementedError('09-runtime', 'protectPaths')
}
// #endregion protectPaths

// #region setupConsole
/**
 * process.terminal: a pseudo-terminal for the container's process, whose master goes to the
 * caller through the console socket (`socket`, the helper's connected fd of --console-socket). The pty belongs
 * to the container's own devpts (/dev/pts/0 inside), and the slave becomes the process's stdin,
 * stdout, stderr and controlling terminal. The master is sent with the name runc sends,
 * `/dev/ptmx` (runc's setupConsole and utils.SendFile).
 */
export async function setupConsole(helper: Helper, socket: number): Promise<void> {
  // TODO(09): a terminal for the container's process, the way runc's init makes one
  //   (the text's "A terminal"; runc's setupConsole in libcontainer/init_linux.go).
  //   1. Start from the goal in the doc comment: which steps does it take? Then place each one
  //      by what it needs, here and in create (where you call this is yours too). The kernel
  //      refuses some orders; others succeed on the wrong pty, or leave the program holding
  //      what it must not.
  //   2. Node cannot pass an fd; what the helper can be asked is in native/helper.ts.
  //   3. After exec, who may still hold the master?
  throw new NotImplementedError('09-runtime', 'setupConsole')
}
// #endregion setupConsole

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
  //      the freezer is a hierarchy of its own, with the same relative path as the others.
  //      Remember what you made (record.freezer, saved), so delete removes that and no more.
  //   2. v1: freezing a cgroup stops the processes in it, not those of the container outside
  //      it. How do you get every process in while the container keeps forking and exiting,
  //      thousands a second? What of one born, outside, of a parent you had not moved yet, and of
  //      one that exited between your listing and its move (cgroups(7), cgroup.procs)?
  //   3. Writing the file starts the change; when is it done, and what if new processes keep
  //      the kernel from finishing? (v1's FREEZING; v2's cgroup.events.) Never wait for ever:
  //      the error names the container and the file.
  throw new NotImplementedError('09-runtime', 'setFrozen')
}
// #endregion setFrozen

// #region pause
/** runc pause and resume: only a running container pauses (`container not running`), only a paused one resumes (`container not paused`). */
export async function pause(root: string, id: string, paused: boolean): Promise<void> {
  // TODO(09): runc pause and resume.
  //   1. Which status may pause, and which may resume? Ask the kernel, as every command does
  //      (containerStatus); the refusals are in the doc comment, in runc's words.
  //   2. The freezing itself is setFrozen's.
  throw new NotImplementedError('09-runtime', 'pause')
}
// #endregion pause

// #region parseSignal
/** A signal by number (`9`) or name (`KILL`, `SIGKILL`, any case), refused otherwise: `invalid signal: TEXT`. */
export function parseSignal(text: string): number {
  // TODO(09): turn the text kill was given into a signal number.
  //   1. containerd sends numbers, people type names, with or without SIG, in any case.
  //   2. Anything else, including a number no signal has, is `invalid signal: TEXT`.
  throw new NotImplementedError('09-runtime', 'parseSignal')
}
// #endregion parseSignal

// #region kill
/**
 * runc kill: send `signal` to the container's process, or with `all` to every process in its
 * cgroup. A stopped container is refused with `container not running`, words containerd takes to
 * mean "already gone".
 */
export async function kill(root: string, id: string, signal: number, all: boolean): Promise<void> {
  // TODO(09): runc kill.
  //   1. Signalling a PID from an old record could hit a stranger: check the status first.
  //      A stopped container is refused in the words containerd expects (doc comment).
  //   2. With `all`, which processes belong to the container (cgroupPids, given)?
  //   3. A process may exit between the listing and the signal: that is no error.
  throw new NotImplementedError('09-runtime', 'kill')
}
// #endregion kill

// #region deleteContainer
/**
 * runc delete: remove a stopped container's cgroup and state directory, then run its poststop
 * hooks (a failure is logged). A running container is refused, `cannot delete container ID that
 * is not stopped: running`, unless `force`, which kills every process in it first and waits
 * for them; a created container is killed and deleted as runc does.
 */
export async function deleteContainer(root: string, id: string, force: boolean, log: RuntimeLog): Promise<void> {
  // TODO(09): runc delete, per the runtime spec (runtime.md, "Delete").
  //   1. Which statuses may be deleted without --force, and what does runc do with "created"?
  //      A refusal must change nothing.
  //   2. With --force: nothing of the container may survive (killAndWait, given), before its
  //      cgroup can go (chapter 04 removes it; it refuses while a process is in it), and the
  //      v1 cgroups create and pause made (devices, cpuset, freezer), if any. A paused
  //      container too: can a frozen process die (cgroup-v1's freezer-subsystem.rst)? And
  //      what could its processes get up to between running again and being dead?
  //   3. The poststop hooks get the state as it was; their failure is only a warning.
  throw new NotImplementedError('09-runtime', 'deleteContainer')
}
// #endregion deleteContainer

// #region execProcess
/**
 * runc exec: run `process` inside running container `id`, as one more process of it: in its
 * namespaces and its cgroups, with its limits, working directory, user, capabilities and
 * seccomp filter (chapter 13's secure()), and a terminal when asked.
 * A container that is not running is refused: `cannot exec in a stopped container`. With
 * `detach` it returns once the program runs, leaving it to the caller's subreaper as create
 * does, and writes `pidFile`; otherwise it waits and resolves to the exit code.
 */
export async function execProcess(root: string, id: string, options: ExecOptions): Promise<number> {
  // TODO(09): runc exec: a second process in a running container, the way nsenter(1) enters one
  //   (runc's setns_init_linux.go; the text's "exec").
  //   1. Which of the container's namespaces are worth joining (how do two /proc/PID/ns links
  //      tell?), and in which order, given that after the mount namespace the host's /proc is
  //      no longer what you see?
  //   2. What does joining a PID namespace do for the caller itself (pid_namespaces(7),
  //      setns(2))? So what must happen before the process is in it, and before it can join
  //      the cgroups?
  //   3. From there it is create's end: which of create's steps apply to one more process of the
  //      same container, and which belong to the container's first process only? The devices
  //      and cpuset cgroups create made hold exec'd processes too (the record has them).
  //   4. With detach, the same hand-over to the caller's subreaper as create's.
  throw new NotImplementedError('09-runtime', 'execProcess')
}
// #endregion execProcess

// #region run
/** runc run: create, start, wait for the exit, delete; resolves to the exit code `docker run` would give. */
export async function run(root: string, id: string, options: CreateOptions, log: RuntimeLog): Promise<number> {
  // TODO(09): runc run is create, start, wait, delete, with one difference from create.
  //   1. Who can report the container's exit code to this process? (create's `detach`.)
  //   2. Signals sent to run (Ctrl-C, a supervisor's SIGTERM) are the container's business.
  //   3. Whatever happens, the container is deleted at the end.
  throw new NotImplementedError('09-runtime', 'run')
}
// #endregion run

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']

/** The host PIDs in the container's cgroup (runc ps), or its process alone without a cgroup. */
export function cgroupPids(record: ContainerRecord): number[] {
  const dir = record.cgroup && Object.values(record.cgroup.dirs)[0]
  // No cgroup, or one already removed (another container with the same cgroupsPath was deleted).
  if (!dir || !existsSync(dir)) return processStartTime(record.pid) === record.startTime ? [record.pid] : []
  const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
  // A record that names a hierarchy's root or the runtime's own cgroup would have kill --all and
  // delete --force signal the machine's processes: that is never the container's cgroup.
  if (!existsSync(join(dirname(dir), 'cgroup.procs')) || pids.includes(process.pid) || pids.includes(process.ppid))
    throw new RuntimeError(`container ${record.id}: ${dir} is not a cgroup of the container's own`)
  return pids
}

/** SIGKILL everything in the container and wait until its process has gone (or is a zombie for its parent to collect), for 10 seconds at most. */
async function killAndWait(record: ContainerRecord, dir: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const pids = cgroupPids(record)
    if (containerStatus(dir, record) === 'stopped' && pids.length === 0) return
    for (const pid of pids.length ? pids : [record.pid]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    await sleep(10)
  }
  throw new RuntimeError(`container ${record.id} did not die within 10 seconds of SIGKILL`)
}

/** What config.json asks for that this runtime does not do yet, noted once per container (given the spec as loaded). */
function noteIgnored(spec: Spec, log: RuntimeLog): void {
  const raw = spec as unknown as Record<string, any>
  const ignored = [
    // capabilities, noNewPrivileges and seccomp are chapter 13's: secure() notes them when it is not done.
    // On a cgroup v2 host device rules would need an eBPF program.
    ['linux.resources.devices (cgroup v2)', raw.linux?.resources?.devices && existsSync('/sys/fs/cgroup/cgroup.controllers') ? true : undefined],
  ].filter(([, value]) => value !== undefined).map(([name]) => name)
  if (ignored.length) log.write('warning', `not applied by this runtime yet: ${ignored.join(', ')}`)
}

/** The caller may read the pid file as soon as it exists: it must never be seen half-written. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
