/**
 * The typed face of native/helper.c: one Helper per process-to-be, driven one syscall at a time.
 *
 * The helper is a separate single-threaded executable because the kernel refuses some
 * namespace operations to a multithreaded process such as Node (see ARCHITECTURE.md).
 * Each method sends one request and resolves when the helper has done it; a failure
 * rejects with a SyscallError that names the call, its arguments and the errno.
 *
 * It uses child_process.spawn rather than execa (used everywhere else) because it needs
 * exactly what spawn gives: an extra socket on fd 3 and the raw exit status.
 */
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Duplex } from 'node:stream'
import { spawn, type ChildProcess } from 'node:child_process'

export const HELPER_PATH = fileURLToPath(new URL('./build/minidocker-helper', import.meta.url))
export const PROBE_PATH = fileURLToPath(new URL('./build/probe', import.meta.url))
/** The init `docker run --init` puts first in a container (native/init.c, chapter 11). */
export const INIT_PATH = fileURLToPath(new URL('./build/minidocker-init', import.meta.url))

/** A failed syscall, shaped like Node's SystemError. */
export class SyscallError extends Error {
  override name = 'SyscallError'
  constructor(
    /** errno name, e.g. "EBUSY" */
    readonly code: string,
    /** negative errno, as Node reports it */
    readonly errno: number,
    readonly syscall: string,
    /** the whole call as text, e.g. pivot_root("/r", "/r/.old") */
    readonly call: string,
    readonly path?: string,
    readonly dest?: string,
    description = '',
  ) {
    super(`${call} failed: ${code} (${description})`)
  }
}

/** The namespaces unshare() and config.json know, by config.json's names. */
export type Namespace = 'mount' | 'uts' | 'ipc' | 'pid' | 'network' | 'user' | 'cgroup' | 'time'

/** mount(2) flags without their MS_ prefix. */
export type MountFlag =
  | 'rdonly' | 'nosuid' | 'nodev' | 'noexec' | 'remount' | 'bind' | 'rec' | 'private' | 'slave'
  | 'shared' | 'unbindable' | 'move' | 'relatime' | 'noatime' | 'strictatime' | 'nodiratime'

/** open(2) flags without their O_ prefix (O_CLOEXEC is always added). */
export type OpenFlag = 'rdonly' | 'wronly' | 'rdwr' | 'creat' | 'excl' | 'trunc' | 'nofollow' | 'directory' | 'path'

/** umount2(2) flags: MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW. */
export type UmountFlag = 'force' | 'detach' | 'expire' | 'nofollow'

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null
  signal: number | null
}

type StdioTarget = 'inherit' | 'pipe' | 'ignore' | number

export interface HelperOptions {
  stdin?: StdioTarget
  stdout?: StdioTarget
  stderr?: StdioTarget
  /** Run in its own session, so that it may outlive the caller. */
  detached?: boolean
  /** Further fds to hand to the helper (e.g. a sync pipe for waitFd): spawn's stdio array gives each its number in the helper. */
  extraFds?: number[]
  /** The helper executable to start (default HELPER_PATH). */
  binary?: string
}

interface Pending {
  resolve(reply: Reply | null): void
  reject(error: Error): void
}

interface Reply {
  ok: boolean
  pid?: number
  code?: string
  signal?: number
  syscall?: string
  call?: string
  errno?: number
  message?: string
  path?: string
  dest?: string
  value?: string
  fd?: number
  bytes?: number
}

export class Helper {
  /** The helper's PID on the host: after fork(), the relay that mirrors the child's exit. */
  readonly pid: number
  /**
   * The host PID of the process that serves requests now: the helper itself, or after fork()
   * the child. Node can read its /proc/PID (proc(5)).
   */
  get serving(): number {
    return this.#served ?? this.pid
  }
  /** The spawned process, for its piped stdio (stdout, stderr, stdin) when asked for. */
  readonly process: ChildProcess
  /** Settles when the helper (or the program it exec'd) has exited. */
  readonly exited: Promise<ExitStatus>
  /** How many fds HelperOptions.extraFds handed the helper when it was started. */
  readonly extraFdCount: number
  #control: Duplex
  #buffered = ''
  #pending: Pending[] = []
  #closed = false
  /** after fork(): the host PID of the child that now serves requests */
  #served: number | undefined

  private constructor(proc: ChildProcess, binary: string, extraFds: number) {
    if (proc.pid === undefined) throw new Error(`cannot start ${binary}`)
    this.pid = proc.pid
    this.process = proc
    this.extraFdCount = extraFds
    this.#control = proc.stdio[3] as Duplex
    this.#control.setEncoding('utf8')
    this.#control.on('data', (chunk: string) => this.#receive(chunk))
    this.#control.on('close', () => this.#eof())
    this.#control.on('error', () => this.#eof())
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) =>
        resolve({ code, signal: signal ? constants.signals[signal] : null }),
      ),
    )
  }

  /**
   * Start a helper whose stdio is wired as asked; it waits for requests.
   * @param options the helper's stdin, stdout and stderr (they become the container's), whether it runs detached in its own session, and extra fds passed on after those and the control socket
   * @throws Error when the helper is not built (run `npm install`).
   */
  static start(options: HelperOptions = {}): Helper {
    const binary = options.binary ?? HELPER_PATH
    if (!existsSync(binary))
      throw new Error(`the native helper is not built (${binary}): run \`npm install\``)
    const extra = options.extraFds ?? []
    const proc = spawn(binary, ['3'], {
      stdio: [options.stdin ?? 'ignore', options.stdout ?? 'inherit', options.stderr ?? 'inherit', 'pipe', ...extra],
      detached: options.detached ?? false,
      env: {},
    })
    if (options.detached) proc.unref()
    return new Helper(proc, binary, extra.length)
  }

  #receive(chunk: string): void {
    this.#buffered += chunk
    for (let nl; (nl = this.#buffered.indexOf('\n')) >= 0; ) {
      const line = this.#buffered.slice(0, nl)
      this.#buffered = this.#buffered.slice(nl + 1)
      this.#pending.shift()?.resolve(JSON.parse(line) as Reply)
    }
  }

  #eof(): void {
    this.#closed = true
    for (const p of this.#pending.splice(0)) p.resolve(null)
  }

  /** Send one request; null means the helper closed the socket instead of answering. */
  #request(op: string, ...args: string[]): Promise<Reply | null> {
    if (this.#closed) return Promise.reject(new Error(`helper ${this.pid} is gone: cannot ${op}`))
    const fields = [String(args.length + 1), op, ...args]
    if (fields.some((f) => f.includes('\0')))
      return Promise.reject(new TypeError(`${op}: arguments cannot contain NUL bytes`))
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject })
      this.#control.write(fields.join('\0') + '\0')
    })
  }

  async #call(op: string, ...args: string[]): Promise<Reply> {
    const reply = await this.#request(op, ...args)
    if (!reply) {
      const status = await this.exited
      throw new Error(`the helper exited during ${op} (${describe(status)})`)
    }
    if (!reply.ok) {
      throw new SyscallError(
        String(reply.code), -(reply.errno ?? 0), reply.syscall ?? op, reply.call ?? op,
        reply.path, reply.dest, reply.message,
      )
    }
    return reply
  }

  /**
   * execve(): replace the helper with the program at `path`. Resolves once the exec happened: the control socket is close-on-exec, so success is end-of-file.
   * @param path the program's path, as the helper sees the filesystem; no PATH is searched (a name without a slash is a file in the working directory)
   * @param argv the complete argv, argv[0] included
   * @param env the complete environment, as KEY=value strings
   * @throws ENOENT when there is no file at `path`.
   * @throws ENOTDIR when a component of `path` on the way is not a directory.
   * @throws EACCES when the file is not executable (a directory included), or a directory on the way is not searchable.
   * @throws ENOEXEC when the file is not a format the kernel can run.
   * @precondition Everything the process needs (namespaces, cgroup, root, working directory) is set up first: after the exec, the helper takes no more requests.
   */
  async exec(path: string, argv: string[], env: string[]): Promise<void> {
    const reply = await this.#request('exec', path, String(argv.length), ...argv, ...env)
    if (reply === null) return // close-on-exec closed the socket: the new program runs
    throw new SyscallError(
      String(reply.code), -(reply.errno ?? 0), 'execve', reply.call ?? 'execve', reply.path,
      undefined, reply.message,
    )
  }

  /**
   * fork(): later requests go to the child; the parent becomes a relay that forwards signals, reaps children and leaves exactly as the child leaves.
   * @param closeInParent fds the parent (the relay) closes once the fork has succeeded, before this returns; the child keeps its copies.
   * @returns the child's PID as the host sees it.
   * @throws EAGAIN when a pids limit (cgroup pids.max or RLIMIT_NPROC) is reached.
   */
  async fork(closeInParent: number[] = []): Promise<number> {
    this.#served = (await this.#call('fork', ...closeInParent.map(String))).pid!
    return this.#served
  }

  /**
   * unshare(2) with the CLONE_NEW* flag of each given kind.
   * @param namespaces config.json's names: mount, uts, ipc, pid, network, user, cgroup, time
   * @throws EPERM without CAP_SYS_ADMIN (outside a user namespace).
   * @throws EINVAL for a kind the kernel does not know, or for a user namespace in a threaded process (which, with a mount namespace that would hold only the calling thread, is why this is a separate, single-threaded program).
   * @throws EINVAL for an unknown name (the helper rejects it before any system call).
   */
  unshare(namespaces: Namespace[]): Promise<unknown> {
    return this.#call('unshare', namespaces.join(','))
  }

  /**
   * setns(2) on the namespace behind a path such as /proc/PID/ns/net, with nstype 0 (any
   * kind) or, given `type`, that kind's CLONE_NEW* flag.
   * @param path a /proc/PID/ns/KIND file, or a bind mount of one, looked up in the helper's mount namespace
   * @param type the kind of namespace the caller expects at `path`
   * @throws ENOENT when the path does not exist (the process is gone).
   * @throws EINVAL when the file is not a namespace, when `type` is given and the namespace is of another kind, or joining a mount namespace from a threaded process.
   * @throws EINVAL for an unknown `type` (the helper rejects it before any system call).
   * @throws EPERM without CAP_SYS_ADMIN in the namespace's owning user namespace.
   */
  setns(path: string, type?: Namespace): Promise<unknown> {
    return type ? this.#call('setns', path, type) : this.#call('setns', path)
  }

  /**
   * open(2) a file read-only and keep the fd (close-on-exec) for later requests, until
   * closeFd or the helper's exec.
   * @param path looked up now, in the helper's mount namespace and root
   * @returns the fd
   * @throws ENOENT when the path does not exist.
   * @throws EACCES when a directory on the way is not searchable.
   */
  async open(path: string): Promise<number> {
    return (await this.#call('open', path)).fd!
  }

  /**
   * openat(2): open `path` relative to the directory behind `dirfd` (or the working directory,
   * for 'cwd') and keep the fd (close-on-exec) until closeFd or the helper's exec. An absolute
   * `path` ignores dirfd; every component but the last is followed if it is a symlink.
   * @param flags open(2)'s flags by name, lower case without O_: rdonly, wronly, rdwr, creat, excl, trunc, nofollow, directory, path
   * @param mode the permission bits of a file O_CREAT makes, before the umask
   * @returns the fd
   * @throws ENOENT when a component does not exist (and O_CREAT is not given for the last).
   * @throws EEXIST, ELOOP, ENOTDIR and the rest of open(2)'s ERRORS, as it lists them for the flags given.
   * @throws EBADF when dirfd is not open.
   */
  async openAt(dirfd: number | 'cwd', path: string, flags: OpenFlag[], mode = 0o644): Promise<number> {
    return (await this.#call('openat', String(dirfd), path, flags.join(','), String(mode))).fd!
  }

  /**
   * mkdirat(2): make one directory at `path` relative to the directory behind `dirfd` (or the
   * working directory, for 'cwd'). A symlink at the last component is never followed.
   * @param mode its permission bits, before the umask
   * @throws EEXIST when the last component exists, a symlink (even a dangling one) included.
   * @throws ENOENT when a directory on the way does not exist.
   * @throws EBADF when dirfd is not open; ENOTDIR when it is not a directory.
   */
  mkdirAt(dirfd: number | 'cwd', path: string, mode = 0o755): Promise<unknown> {
    return this.#call('mkdirat', String(dirfd), path, String(mode))
  }

  /**
   * setns(2) on an fd the helper holds (from open), with nstype 0 (any kind) or, given `type`,
   * that kind's CLONE_NEW* flag. The fd stays open.
   * @throws EBADF when the fd is not open.
   * @throws EINVAL when the fd is not a namespace, or `type` is given and the namespace is of another kind.
   * @throws EPERM without CAP_SYS_ADMIN in the namespace's owning user namespace.
   */
  setnsFd(fd: number, type?: Namespace): Promise<unknown> {
    return type ? this.#call('setns_fd', String(fd), type) : this.#call('setns_fd', String(fd))
  }

  /**
   * close(2) one fd the helper holds (never its control socket).
   * @throws EBADF when the fd is not open.
   */
  closeFd(fd: number): Promise<unknown> {
    return this.#call('close', String(fd))
  }

  /**
   * fchdir(2): make the directory behind an fd the helper holds (from open or openAt, O_PATH
   * included) its working directory, wherever that directory is now and whatever its names.
   * @throws EBADF when the fd is not open.
   * @throws ENOTDIR when the fd is not a directory.
   */
  fchdir(fd: number): Promise<unknown> {
    return this.#call('fchdir', String(fd))
  }

  /**
   * sethostname(2) with `name`.
   * @param name the new hostname
   * @throws EINVAL when the name is longer than sethostname(2) takes.
   * @throws EPERM without CAP_SYS_ADMIN.
   */
  sethostname(name: string): Promise<unknown> {
    return this.#call('sethostname', name)
  }

  /**
   * mount(): attach a filesystem, make a bind mount, or change a mount's propagation or flags.
   * @param source a device, a directory to bind, or a name such as "proc"; null for none
   * @param target the mount point, which must exist
   * @param fstype proc, tmpfs, sysfs, overlay, ...; null for bind mounts and propagation changes
   * @param flags MS_ flags without the prefix: bind, rec, private, rdonly, remount, nosuid, ...
   * @param data the filesystem's own options, as text (man 8 mount lists them per filesystem); null for none
   * @throws ENOENT when the target (or a bind source) does not exist.
   * @throws EINVAL for an invalid combination of flags, or a propagation change on something that is not a mount point.
   * @throws EPERM without CAP_SYS_ADMIN.
   * @throws EBUSY when the source is already mounted.
   * @precondition In a mount namespace of its own, or the mount changes the host's. A new namespace copies the host's propagation: a mount below a shared mount also appears in every peer of it, the host's included (mount_namespaces(7), "Shared subtrees").
   */
  mount(source: string | null, target: string, fstype: string | null, flags: MountFlag[] = [], data: string | null = null): Promise<unknown> {
    return this.#call('mount', source ?? '', target, fstype ?? '', flags.join(','), data ?? '')
  }

  /**
   * umount2(): detach the filesystem mounted at `target`.
   * @param target a mount point
   * @param flags umount2(2)'s flags, lower-case and without their prefix: force, detach, expire, nofollow
   * @throws a SyscallError with the errno umount2(2) reports (its ERRORS).
   */
  umount2(target: string, flags: UmountFlag[] = []): Promise<unknown> {
    return this.#call('umount2', target, flags.join(','))
  }

  /**
   * pivot_root(): make `newRoot` the root of the caller's mount namespace, and put the old root at `putOld`.
   * @param newRoot the new root
   * @param putOld where the old root goes
   * @throws the errno the kernel answers; pivot_root(2), "ERRORS", says which condition each one means.
   */
  pivotRoot(newRoot: string, putOld: string): Promise<unknown> {
    return this.#call('pivot_root', newRoot, putOld)
  }

  /**
   * chroot(): change the helper's root directory (not its mount namespace).
   * @param path the new root
   * @throws ENOENT when the path does not exist.
   * @throws EPERM without CAP_SYS_CHROOT.
   * @precondition It changes the root only, not the working directory, which may stay outside the new root; from there `..` is never stopped at the root (chroot(2), "DESCRIPTION").
   */
  chroot(path: string): Promise<unknown> {
    return this.#call('chroot', path)
  }

  /**
   * chdir(): change the working directory (config.json's process.cwd).
   * @param path the new working directory, seen from the current root
   * @throws ENOENT when it does not exist.
   * @throws ENOTDIR when it is not a directory.
   * @throws EACCES when a directory on the way is not searchable.
   */
  chdir(path: string): Promise<unknown> {
    return this.#call('chdir', path)
  }

  /**
   * mkdir(): make one directory, as the helper sees the filesystem.
   * @param path the directory
   * @param mode its permission bits, before the umask
   * @throws EEXIST when it already exists.
   * @throws ENOENT when its parent does not exist.
   */
  mkdir(path: string, mode = 0o755): Promise<unknown> {
    return this.#call('mkdir', path, String(mode))
  }

  /**
   * rmdir(): remove an empty directory.
   * @param path the directory
   * @throws ENOTEMPTY when it is not empty.
   * @throws EBUSY when it is a mount point in use.
   */
  rmdir(path: string): Promise<unknown> {
    return this.#call('rmdir', path)
  }

  /**
   * mknod() a device node or a fifo with exactly `mode` (the umask is not applied).
   * @param path the node to create
   * @param type c for a character device, b for a block device, p for a fifo (major and minor 0)
   * @param mode its permission bits
   * @param major the device's major number
   * @param minor the device's minor number
   * @throws EEXIST when the path exists.
   * @throws EPERM without CAP_MKNOD, or inside a user namespace.
   */
  mknod(path: string, type: 'c' | 'b' | 'p', mode: number, major: number, minor: number): Promise<unknown> {
    return this.#call('mknod', path, type, String(mode), String(major), String(minor))
  }

  /**
   * symlink(): make `linkPath` a symbolic link to `target`.
   * @param target what the link points to; not checked
   * @param linkPath the link to create
   * @throws EEXIST when linkPath exists.
   * @throws ENOENT when its directory does not exist.
   */
  symlink(target: string, linkPath: string): Promise<unknown> {
    return this.#call('symlink', target, linkPath)
  }

  /**
   * Write a whole file as the helper sees it (its mount namespace, its root).
   * @param path the file, created or truncated
   * @param data its contents
   * @throws ENOENT when the directory does not exist.
   * @throws EROFS when the filesystem is mounted read-only.
   */
  writeFile(path: string, data: string): Promise<unknown> {
    return this.#call('write_file', path, data)
  }

  /**
   * prctl(PR_SET_CHILD_SUBREAPER): orphans below this process are reparented to it instead of to init.
   */
  setSubreaper(): Promise<unknown> {
    return this.#call('prctl', 'subreaper', '')
  }

  /**
   * prctl(PR_SET_PDEATHSIG, signal).
   * @param signal the signal number
   * @throws EINVAL for an invalid signal number.
   */
  setParentDeathSignal(signal: number): Promise<unknown> {
    return this.#call('prctl', 'pdeathsig', String(signal))
  }

  /**
   * prctl(PR_SET_NO_NEW_PRIVS): no exec can raise privileges from here on (setuid bits and file capabilities are ignored).
   */
  setNoNewPrivs(): Promise<unknown> {
    return this.#call('prctl', 'no_new_privs', '')
  }

  /**
   * prctl(PR_CAPBSET_DROP, cap): remove one capability from the bounding set.
   * @param cap the capability's number (capabilities(7), lib/security-tables.ts)
   * @throws EPERM, EINVAL as prctl(2) lists them.
   */
  dropBoundingCapability(cap: number): Promise<unknown> {
    return this.#call('prctl', 'capbset_drop', String(cap))
  }

  /**
   * prctl(PR_SET_KEEPCAPS): set or clear the calling thread's "keep capabilities" flag (prctl(2), capabilities(7)).
   */
  setKeepCapabilities(keep: boolean): Promise<unknown> {
    return this.#call('prctl', 'keepcaps', keep ? '1' : '0')
  }

  /**
   * prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap): add one capability to the ambient set.
   * @throws EPERM, EINVAL as prctl(2) lists them.
   */
  raiseAmbientCapability(cap: number): Promise<unknown> {
    return this.#call('prctl', 'ambient_raise', String(cap))
  }

  /**
   * capset(2): set the effective, permitted and inheritable sets at once, each a mask with bit N for capability N.
   * @throws EPERM as capset(2) lists it.
   */
  setCapabilities(effective: bigint, permitted: bigint, inheritable: bigint): Promise<unknown> {
    return this.#call('capset', effective.toString(16), permitted.toString(16), inheritable.toString(16))
  }

  /**
   * seccomp(SECCOMP_SET_MODE_FILTER): load a classic BPF program that decides every later system call of this process and its children; it cannot be removed.
   * @param program the filter's struct sock_filter array as bytes (8 per instruction, little-endian: code u16, jt u8, jf u8, k u32)
   * @throws EACCES when the kernel does not let this process load a filter (seccomp(2), ERRORS).
   * @throws EINVAL when the kernel's checker refuses the program (a jump out of range, no return at the end, a bad load).
   * @precondition From here on, every request the helper serves is a system call the filter judges.
   */
  loadSeccomp(program: Buffer): Promise<unknown> {
    return this.#call('seccomp', program.toString('hex'))
  }

  /**
   * setgroups(): set the supplementary groups.
   * @param gids the group IDs
   * @throws EPERM without CAP_SETGID, or in a user namespace whose setgroups file says deny.
   * The kernel checks CAP_SETGID of the calling thread at the time of the call (setgroups(2)).
   */
  setgroups(gids: number[]): Promise<unknown> {
    return this.#call('setgroups', ...gids.map(String))
  }

  /**
   * setgid(): set the real, effective and saved group ID.
   * @param gid the group ID
   * @throws EPERM without CAP_SETGID.
   * @throws EINVAL when the ID is not mapped in the user namespace.
   * Without CAP_SETGID, only to the real or saved group ID (setgid(2)).
   */
  setgid(gid: number): Promise<unknown> {
    return this.#call('setgid', String(gid))
  }

  /**
   * setuid(): set the real, effective and saved user ID (config.json's process.user.uid).
   * @param uid the user ID
   * @throws EPERM without CAP_SETUID.
   * @throws EINVAL when the ID is not mapped in the user namespace.
   */
  setuid(uid: number): Promise<unknown> {
    return this.#call('setuid', String(uid))
  }

  /**
   * umask(): set the file mode creation mask, the permission bits that files and directories this process and its children create do not get.
   * @param mask the mask, e.g. 0o022 (at most 0o777)
   */
  umask(mask: number): Promise<unknown> {
    return this.#call('umask', mask.toString(8))
  }

  /**
   * setsid(): start a new session, without a controlling terminal.
   * @throws EPERM when the helper already leads a process group (setsid(2)).
   */
  setsid(): Promise<unknown> {
    return this.#call('setsid')
  }

  /**
   * close_range(2) from `from` to the highest fd number; requests go on being served. Which of
   * the helper's own descriptors it leaves, and what each is by the time the program runs, is
   * op_close_fds in native/helper.c.
   * @param from where the range starts
   */
  closeFds(from = 3): Promise<unknown> {
    return this.#call('close_fds', String(from))
  }

  /**
   * Changes what the helper does with a request that fails from then on, and with the requests
   * after it: op_failures_to and fail() in native/helper.c say where the error goes, and how the
   * helper ends.
   * @param fd an fd of the helper's
   * @throws EBADF when `fd` is not open.
   */
  failuresTo(fd: number): Promise<unknown> {
    return this.#call('failures_to', String(fd))
  }

  /**
   * memfd_create() and fexecve(): the helper runs again from a copy of its own binary in
   * memory, with `seals` added to the copy (fcntl F_ADD_SEALS), and goes on serving requests;
   * /proc/PID/exe names the copy from then on, not the file on disk. Requests sent before the
   * answer are lost in the exec.
   * @param seals fcntl(2)'s F_SEAL_* flags by name, lower case without the prefix ('-' for '_'); EINVAL for one the helper does not know
   */
  memfdExec(seals: string[]): Promise<unknown> {
    return this.#call('memfd_exec', seals.join(','))
  }

  /**
   * lsetxattr(): set an extended attribute on `path` itself (not on a symlink's target).
   * @param path the file or directory
   * @param name the attribute, with its namespace prefix (xattr(7))
   * @param value its value, as text
   * @throws a SyscallError with the errno setxattr(2) reports (its ERRORS).
   */
  setxattr(path: string, name: string, value: string): Promise<unknown> {
    return this.#call('setxattr', path, name, value)
  }

  /**
   * lgetxattr(): an extended attribute's value as text.
   * @param path the file or directory (a symlink itself, not its target)
   * @param name the attribute
   * @returns the value.
   * @throws a SyscallError with the errno getxattr(2) reports (its ERRORS).
   */
  async getxattr(path: string, name: string): Promise<string> {
    return (await this.#call('getxattr', path, name)).value ?? ''
  }

  /**
   * lsetxattr() with a value of any bytes (a binary one, such as a struct in the kernel's format).
   * @param path the file or directory (a symlink itself, not its target)
   * @param name the attribute, with its namespace prefix
   * @param value its bytes, 4096 at most
   * @throws EPERM, EINVAL, ENOTSUP as setxattr(2) lists them.
   */
  setxattrBytes(path: string, name: string, value: Buffer): Promise<unknown> {
    return this.#call('setxattr_hex', path, name, value.toString('hex'))
  }

  /**
   * lgetxattr(): an extended attribute's value as the bytes the kernel returns.
   * @param path the file or directory (a symlink itself, not its target)
   * @param name the attribute
   * @throws a SyscallError with the errno getxattr(2) reports (its ERRORS).
   */
  async getxattrBytes(path: string, name: string): Promise<Buffer> {
    return Buffer.from((await this.#call('getxattr_hex', path, name)).value ?? '', 'hex')
  }

  /**
   * Block until one byte arrives on an inherited fd (a sync pipe).
   * @param fd the fd, as the helper sees it (for one of HelperOptions.extraFds: the number spawn gave it)
   * @throws EBADF when the fd is not open.
   * @throws EPIPE on end-of-file: the other side closed without writing.
   */
  waitFd(fd: number): Promise<unknown> {
    return this.#call('wait_fd', String(fd))
  }

  /**
   * setrlimit(): one resource limit of the helper, which the program it execs inherits.
   * @param resource the limit's name as config.json and getrlimit(2) spell it, e.g. RLIMIT_NOFILE
   * @param soft the soft limit (what the process gets), an rlim_t: an unsigned 64-bit number, passed on in decimal as given
   * @param hard the hard limit (how far it may raise the soft one), likewise
   * @throws EINVAL when soft is above hard.
   * @throws EPERM when raising a hard limit without CAP_SYS_RESOURCE (after setuid, say).
   */
  setrlimit(resource: string, soft: bigint | number, hard: bigint | number): Promise<unknown> {
    return this.#call('setrlimit', resource, String(soft), String(hard))
  }

  /**
   * Connect to a unix stream socket and keep the connection open as an fd of the helper's.
   * @param path the socket's path, as the helper sees the filesystem now
   * @returns the connected socket's fd (close-on-exec).
   * @throws ENOENT when nothing is at the path.
   * @throws ECONNREFUSED when no one listens there.
   */
  async connect(path: string): Promise<number> {
    return (await this.#call('connect', path)).fd!
  }

  /**
   * Open a pseudo-terminal multiplexer (a devpts's ptmx) and unlock the slave it made.
   * @param path the multiplexer, as the helper sees the filesystem now
   * @returns the master's fd (close-on-exec).
   * @throws ENOENT when there is no such file.
   * @throws ENODEV/ENXIO when the file is not a working pty multiplexer.
   */
  async openpt(path: string): Promise<number> {
    return (await this.#call('openpt', path)).fd!
  }

  /**
   * Make the slave of pty `master` the helper's stdin, stdout and stderr and its controlling terminal.
   * @param master a master's fd, from openpt
   * @throws EBADF/ENOTTY when the fd is not a pty master.
   * @throws EPERM when the kernel refuses the helper a controlling terminal (ioctl_tty(2), TIOCSCTTY).
   */
  setControllingTerminal(master: number): Promise<unknown> {
    return this.#call('set_ctty', String(master))
  }

  /**
   * sendmsg(): one message on a connected socket, with `name` as its data and `fd` as SCM_RIGHTS ancillary data, which Node cannot send.
   * @param socket the socket's fd, from connect
   * @param fd the fd to pass
   * @param name the data sent with it
   * @throws EBADF when either fd is not open.
   * @throws ENOTSOCK when `socket` is not a socket.
   * @throws EPIPE when the other side has closed.
   */
  sendFd(socket: number, fd: number, name: string): Promise<unknown> {
    return this.#call('send_fd', String(socket), String(fd), name)
  }

  /**
   * The bytes waiting unread in a FIFO's buffer (ioctl FIONREAD on a read end of the helper's own,
   * opened O_NONBLOCK, which reads nothing), which Node cannot ask.
   * @throws ENOENT when there is no such file.
   * @throws ENOTTY/EINVAL when it is not a FIFO.
   */
  async fifoUnread(path: string): Promise<number> {
    return (await this.#call('fifo_unread', path)).bytes!
  }

  /**
   * Become a terminal's keeper: listen on the console socket `path` (runc's --console-socket), open the FIFOs, answer; then accept one connection, receive the pty master it sends (SCM_RIGHTS, which Node cannot receive) and copy `stdin` into it and it into `stdout` until every slave is closed, when the helper exits. It takes no requests but windowSize() from then on.
   * @param stdin a FIFO to copy into the terminal ('' for none)
   * @param stdout a FIFO the terminal's output goes to ('' for none)
   * @throws EADDRINUSE when something is at `path` already.
   * @throws ENOENT when a FIFO or the socket's directory does not exist.
   */
  terminal(path: string, stdin: string, stdout: string): Promise<unknown> {
    return this.#call('terminal', path, stdin, stdout)
  }

  /**
   * ioctl TIOCSWINSZ on the master a terminal's keeper holds (after terminal()).
   * @throws EINVAL when no master has been received yet.
   */
  windowSize(rows: number, cols: number): Promise<unknown> {
    return this.#call('winsize', String(rows), String(cols))
  }

  /**
   * Fork, with a socket pair between the two sides. The parent stops serving requests: it
   * waits for each of its children (waitpid(-1)) until it has none left, writes a line "PID exit
   * CODE" or "PID signal SIG" to its end for each, then exits with the status of the child it
   * forked. The child goes on serving requests, with the other end at `fd`, not close-on-exec.
   * @param fd where the child gets its end (3 and up; it replaces whatever was there)
   * @returns the PID of the child.
   */
  async reaper(fd: number): Promise<number> {
    return (await this.#call('reaper', String(fd))).pid!
  }

  /** Stop sending requests: the helper exits once it has nothing left to do. */
  close(): void {
    this.#control.end()
  }

  /**
   * Stop sending requests; resolves once every request sent so far has reached the helper. The
   * promises of those still pending resolve to null.
   */
  async detach(): Promise<void> {
    for (const p of this.#pending.splice(0)) p.resolve(null)
    await new Promise<void>((resolve) => this.#control.end(resolve))
  }

  /**
   * Kill the helper. After fork() the signal goes to the process serving requests (the child,
   * until it execs): its relay reaps it and then dies of the same signal.
   */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      if (this.#served !== undefined) return void process.kill(this.#served, signal)
    } catch {
      // already gone: the relay is on its way out, or still there to be killed below
    }
    this.process.kill(signal)
  }
}

/** "exit code 3" / "killed by signal 9 (SIGKILL)" */
export function describe(status: ExitStatus): string {
  if (status.signal === null) return `exit code ${status.code}`
  const name = Object.entries(constants.signals).find(([, n]) => n === status.signal)?.[0]
  return `killed by signal ${status.signal}${name ? ` (${name})` : ''}`
}
