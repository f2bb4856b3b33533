/**
 * What dockerd gives a container by default, for chapter 13's daemon side: its masked and
 * read-only paths, and its default seccomp profile, built here from the rules of moby's
 * profiles/seccomp/default.json (not a copy of it): everything not allowed fails with EPERM; a
 * long list of ordinary calls is allowed; a few are allowed only with an argument condition
 * (personality's personas, clone without namespace flags, socket but AF_VSOCK); and calls that
 * need a capability are allowed when the container holds it, as GetDefaultProfile resolves them.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_CAPABILITIES } from './engine.ts'
import { ContainerError } from './errors.ts'
import type { Capabilities, Seccomp, SeccompRule } from './oci.ts'
import { CAPABILITY_NUMBERS } from './security-tables.ts'

/** The paths dockerd masks in every unprivileged container (moby oci/defaults.go). */
export const DOCKER_MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap']

/** The paths dockerd makes read-only in every unprivileged container. */
export const DOCKER_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

/** Calls any container may make: files, memory, signals, time, processes without namespaces, IPC, sockets. */
const ALLOWED = `
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr
llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64
preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl
semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat
shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall
socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
arch_prctl modify_ldt
kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace
`.split(/\s+/).filter(Boolean)

/** Calls allowed only to a container holding the capability (the profile's "includes": {"caps": [...]}). */
const BY_CAPABILITY: Record<string, string[]> = {
  CAP_SYS_ADMIN: ['bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount', 'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare'],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
}

/** The flags of clone() that make namespaces (CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET). */
const CLONE_NAMESPACE_FLAGS = 0x7e020000
const AF_VSOCK = 40

/** Docker's default profile for a container holding `capabilities`, on x86_64. */
export function dockerDefaultProfile(capabilities: string[]): Seccomp {
  const held = new Set(capabilities)
  const rules: SeccompRule[] = [{ names: ALLOWED, action: 'SCMP_ACT_ALLOW' }]
  // personality: the personas programs really ask for (Linux, and with ADDR_NO_RANDOMIZE or UNAME26), and the query.
  for (const value of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) rules.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })
  rules.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] })
  const extra = Object.entries(BY_CAPABILITY).filter(([cap]) => held.has(cap)).flatMap(([, names]) => names)
  if (extra.length) rules.push({ names: [...new Set(extra)], action: 'SCMP_ACT_ALLOW' })
  if (!held.has('CAP_SYS_ADMIN')) {
    // Threads and processes, but no namespaces; clone3 hides its flags in memory a filter cannot read, so ENOSYS sends glibc back to clone.
    rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] })
    rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 })
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: rules }
}

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

/** The daemon's security fields for a container's HostConfig (create checks them, start writes them): containerSecurity(). */
export function daemonSecurity(host: object): ContainerSecurity {
  return containerSecurity(host as SecurityHostConfig)
}
