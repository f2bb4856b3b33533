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
  /** Run in its own session, outliving the caller (a runtime's `create` needs this). */
  detached?: boolean
  /** Further fds passed to the helper as 4, 5, ... (e.g. a sync pipe for waitFd). */
  extraFds?: number[]
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
}

export class Helper {
  /** The helper's PID on the host: after fork(), the relay that mirrors the child's exit. */
  readonly pid: number
  /** The spawned process, for its piped stdio (stdout, stderr, stdin) when asked for. */
  readonly process: ChildProcess
  /** Settles when the helper (or the program it exec'd) has exited. */
  readonly exited: Promise<ExitStatus>
  #control: Duplex
  #buffered = ''
  #pending: Pending[] = []
  #closed = false

  private constructor(proc: ChildProcess) {
    if (proc.pid === undefined) throw new Error(`cannot start ${HELPER_PATH}`)
    this.pid = proc.pid
    this.process = proc
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

  /** Start a helper whose stdio is wired as asked; it waits for requests. */
  static start(options: HelperOptions = {}): Helper {
    if (!existsSync(HELPER_PATH))
      throw new Error(`the native helper is not built (${HELPER_PATH}): run \`npm install\``)
    const extra = options.extraFds ?? []
    const proc = spawn(HELPER_PATH, ['3'], {
      stdio: [options.stdin ?? 'ignore', options.stdout ?? 'inherit', options.stderr ?? 'inherit', 'pipe', ...extra],
      detached: options.detached ?? false,
      env: {},
    })
    if (options.detached) proc.unref()
    return new Helper(proc)
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

  /** execve(); PATH is searched in `env` when `file` has no slash. Resolves once exec happened. */
  async exec(file: string, argv: string[], env: string[]): Promise<void> {
    const reply = await this.#request('exec', file, String(argv.length), ...argv, ...env)
    if (reply === null) return // close-on-exec closed the socket: the new program runs
    throw new SyscallError(
      String(reply.code), -(reply.errno ?? 0), 'execve', reply.call ?? 'execve', reply.path,
      undefined, reply.message,
    )
  }

  /** fork(): later requests go to the child; returns the child's PID on the host. */
  async fork(): Promise<number> {
    return (await this.#call('fork')).pid!
  }

  unshare(namespaces: Namespace[]): Promise<unknown> {
    return this.#call('unshare', namespaces.join(','))
  }

  /** Join the namespace behind a path such as /proc/PID/ns/net. */
  setns(path: string): Promise<unknown> {
    return this.#call('setns', path)
  }

  sethostname(name: string): Promise<unknown> {
    return this.#call('sethostname', name)
  }

  mount(source: string | null, target: string, fstype: string | null, flags: MountFlag[] = [], data: string | null = null): Promise<unknown> {
    return this.#call('mount', source ?? '', target, fstype ?? '', flags.join(','), data ?? '')
  }

  umount2(target: string, flags: UmountFlag[] = []): Promise<unknown> {
    return this.#call('umount2', target, flags.join(','))
  }

  pivotRoot(newRoot: string, putOld: string): Promise<unknown> {
    return this.#call('pivot_root', newRoot, putOld)
  }

  chroot(path: string): Promise<unknown> {
    return this.#call('chroot', path)
  }

  chdir(path: string): Promise<unknown> {
    return this.#call('chdir', path)
  }

  mkdir(path: string, mode = 0o755): Promise<unknown> {
    return this.#call('mkdir', path, String(mode))
  }

  rmdir(path: string): Promise<unknown> {
    return this.#call('rmdir', path)
  }

  /** mknod() a device node with exactly `mode` (the umask is not applied). */
  mknod(path: string, type: 'c' | 'b', mode: number, major: number, minor: number): Promise<unknown> {
    return this.#call('mknod', path, type, String(mode), String(major), String(minor))
  }

  symlink(target: string, linkPath: string): Promise<unknown> {
    return this.#call('symlink', target, linkPath)
  }

  /** Write a whole file as the helper sees it (its mount namespace, its root). */
  writeFile(path: string, data: string): Promise<unknown> {
    return this.#call('write_file', path, data)
  }

  /** prctl(PR_SET_CHILD_SUBREAPER): orphans below this process are reparented to it. */
  setSubreaper(): Promise<unknown> {
    return this.#call('prctl', 'subreaper', '')
  }

  /** prctl(PR_SET_PDEATHSIG): get `signal` when the parent dies. */
  setParentDeathSignal(signal: number): Promise<unknown> {
    return this.#call('prctl', 'pdeathsig', String(signal))
  }

  setNoNewPrivs(): Promise<unknown> {
    return this.#call('prctl', 'no_new_privs', '')
  }

  setgroups(gids: number[]): Promise<unknown> {
    return this.#call('setgroups', ...gids.map(String))
  }

  setgid(gid: number): Promise<unknown> {
    return this.#call('setgid', String(gid))
  }

  setuid(uid: number): Promise<unknown> {
    return this.#call('setuid', String(uid))
  }

  setsid(): Promise<unknown> {
    return this.#call('setsid')
  }

  /** Close every inherited fd from 3 up, so none leaks into the container. */
  closeFds(): Promise<unknown> {
    return this.#call('close_fds')
  }

  /** lsetxattr(): set an extended attribute on `path` itself (not on a symlink's target). */
  setxattr(path: string, name: string, value: string): Promise<unknown> {
    return this.#call('setxattr', path, name, value)
  }

  /** lgetxattr(): an extended attribute's value as text (ENODATA when it is not set). */
  async getxattr(path: string, name: string): Promise<string> {
    return (await this.#call('getxattr', path, name)).value ?? ''
  }

  /** Block until a reader opens this fifo (runc's exec.fifo). */
  waitFifo(path: string): Promise<unknown> {
    return this.#call('wait_fifo', path)
  }

  /** Block until one byte arrives on an inherited fd. */
  waitFd(fd: number): Promise<unknown> {
    return this.#call('wait_fd', String(fd))
  }

  /** Stop sending requests: the helper exits once it has nothing left to do. */
  close(): void {
    this.#control.end()
  }

  /** Kill the helper (and, through the relay, nothing else: the caller decides). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.process.kill(signal)
  }
}

/** "exit code 3" / "killed by signal 9 (SIGKILL)" */
export function describe(status: ExitStatus): string {
  if (status.signal === null) return `exit code ${status.code}`
  const name = Object.entries(constants.signals).find(([, n]) => n === status.signal)?.[0]
  return `killed by signal ${status.signal}${name ? ` (${name})` : ''}`
}
