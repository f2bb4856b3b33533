/**
 * The OCI runtime spec (config.json), the subset this workbook fills in.
 *
 * This is the central type: chapter 01 fills `process`, 02 `hostname` and
 * `linux.namespaces`, 03 `root` and `mounts`, 04 `linux.resources`, and chapter 09 writes
 * the whole object to a bundle's config.json, exactly as containerd hands one to runc.
 * Field names and meanings follow github.com/opencontainers/runtime-spec (config.md).
 */

import { ContainerError } from './errors.ts'

export interface Spec {
  ociVersion: string
  process: Process
  root?: Root
  hostname?: string
  mounts?: Mount[]
  linux?: Linux
  annotations?: Record<string, string>
  /** chapter 09: programs the runtime runs at points of the container's life (config.md, "POSIX-platform Hooks") */
  hooks?: Hooks
}

/** One hook: a program, run with the container's state JSON on its stdin. */
export interface Hook {
  path: string
  /** argv, args[0] included */
  args?: string[]
  env?: string[]
  /** seconds */
  timeout?: number
}

export interface Hooks {
  prestart?: Hook[]
  createRuntime?: Hook[]
  createContainer?: Hook[]
  startContainer?: Hook[]
  poststart?: Hook[]
  poststop?: Hook[]
}

/** The state of a container, as `runc state` prints it and hooks read it (runtime.md, "State"). */
export interface State {
  ociVersion: string
  id: string
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused'
  /** the container's process on the host; 0 once stopped */
  pid: number
  /** the bundle's absolute path */
  bundle: string
  rootfs: string
  /** RFC 3339 */
  created: string
  annotations: Record<string, string>
  owner: string
}

export interface Process {
  /** argv; args[0] is looked up in the env's PATH when it has no slash */
  args: string[]
  /** "KEY=value" strings */
  env: string[]
  /** absolute path inside the container */
  cwd: string
  terminal?: boolean
  /** umask: the process's file mode creation mask (umask(2)), e.g. 0o022 */
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number }
  /** setrlimit(2)'s limits, e.g. { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 } */
  rlimits?: { type: string; soft: number; hard: number }[]
  /** written to /proc/PID/oom_score_adj: -1000 (never OOM-killed) to 1000 (first) */
  oomScoreAdj?: number
  /** chapter 13: the capability sets, by name ("CAP_CHOWN", ...); a set left out is empty */
  capabilities?: Capabilities
  /** chapter 13: prctl(PR_SET_NO_NEW_PRIVS) before exec */
  noNewPrivileges?: boolean
}

/** The five capability sets of the process (capabilities(7)). */
export interface Capabilities {
  bounding?: string[]
  effective?: string[]
  permitted?: string[]
  inheritable?: string[]
  ambient?: string[]
}

/** linux.seccomp (config-linux.md, "Seccomp"): what the filter does with each system call. */
export interface Seccomp {
  /** the action for a system call no rule matches, e.g. "SCMP_ACT_ERRNO" */
  defaultAction: string
  /** the errno of a default SCMP_ACT_ERRNO (EPERM when left out) */
  defaultErrnoRet?: number
  /** the ABIs the filter accepts, e.g. "SCMP_ARCH_X86_64"; a call from another ABI is killed */
  architectures?: string[]
  flags?: string[]
  syscalls?: SeccompRule[]
}

export interface SeccompRule {
  names: string[]
  action: string
  errnoRet?: number
  /** every condition must hold (and) for the rule to match */
  args?: { index: number; value: number; valueTwo?: number; op: string }[]
}

export interface Root {
  /** the root filesystem, absolute or relative to the bundle */
  path: string
  readonly?: boolean
}

export interface Mount {
  destination: string
  type?: string
  source?: string
  /** fstab-style options: "bind", "rbind", "ro", "nosuid", "mode=755", ... */
  options?: string[]
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time'

export interface Linux {
  namespaces?: { type: NamespaceType; path?: string }[]
  resources?: Resources
  cgroupsPath?: string
  maskedPaths?: string[]
  readonlyPaths?: string[]
  /** the propagation of the container's mounts, by mount(8)'s names: rprivate, rslave, shared, ... (config-linux.md, "Rootfs Mount Propagation"); dockerd asks for shared when a volume is rshared */
  rootfsPropagation?: string
  /** namespaced kernel parameters by their dotted names, e.g. "net.ipv4.ip_unprivileged_port_start": "0" */
  sysctl?: Record<string, string>
  /** device nodes to make in the container (config-linux.md, "Devices"): c, b, u (unbuffered c) or p (fifo) */
  devices?: { path: string; type: 'c' | 'b' | 'u' | 'p'; major?: number; minor?: number; fileMode?: number; uid?: number; gid?: number }[]
  /** chapter 13: the system call filter */
  seccomp?: Seccomp
  /** with a user namespace: which host ids the container's ids are (chapter 13) */
  uidMappings?: IdMapping[]
  gidMappings?: IdMapping[]
}

/** `size` ids from `containerID` in the container are `hostID` and up on the host. */
export interface IdMapping {
  containerID: number
  hostID: number
  size: number
}

export interface Resources {
  /** bytes */
  memory?: { limit?: number; swap?: number }
  /** CFS bandwidth: `quota` microseconds of CPU time every `period` microseconds; the CPUs and memory nodes allowed, as lists ("0-1,3") */
  cpu?: { quota?: number; period?: number; shares?: number; cpus?: string; mems?: string }
  pids?: { limit: number }
  /** the devices cgroup's rules, in order: the first matching one decides (v1 devices.allow / devices.deny) */
  devices?: { allow: boolean; type?: 'a' | 'c' | 'b'; major?: number; minor?: number; access?: string }[]
}

/** The PATH Docker puts in a container's env when the image sets none. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** A spec that runs `args` with nothing else set: the starting point every chapter adds to. */
export function baseSpec(args: string[], env: string[] = [DEFAULT_PATH]): Spec {
  return { ociVersion: '1.0.2', process: { args, env, cwd: '/' } }
}

/** The mounts every container gets, as Docker's default spec lists them (oci/defaults.go). */
export const DEFAULT_MOUNTS: Mount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
]

/**
 * The devices the runtime spec says every container has (config-linux.md, "Default Devices"):
 * name, major, minor of each character device, mode 0666.
 */
export const DEFAULT_DEVICES: [name: string, major: number, minor: number][] = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
]

/** The /dev symlinks of the runtime spec ("Dev symbolic links"), and ptmx into the container's devpts: [target, link]. */
export const DEV_SYMLINKS: [target: string, link: string][] = [
  ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'], ['pts/ptmx', '/dev/ptmx'],
]

/** The largest uid or gid: 2^32-1 is (uid_t)-1, which setuid() and chown() read as "no change". */
export const MAX_ID = 2 ** 32 - 2

/** A uid or gid written as a number (minidocker's `-u` with numbers only), refused with runc's words where runc refuses it. */
export function checkId(text: string, what: 'uid' | 'gid'): number {
  const id = /^\d+$/.test(text) ? Number(text) : NaN
  if (!(id <= MAX_ID)) throw new ContainerError(`invalid ${what} ${JSON.stringify(text)}: uids and gids must be in range 0-${MAX_ID}`, 125)
  return id
}
