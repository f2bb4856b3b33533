/**
 * The native helper: every operation once on its success path and once on its failure path,
 * where the failure must come back as a SyscallError naming the call and the errno.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describe as describeStatus, Helper, PROBE_PATH, SyscallError } from '../../native/helper.ts'
import { describeKernel } from '../support/kernel.ts'
import { captureFile, runnableByAnyone, tempDir } from '../support/files.ts'
import { startHelper } from '../support/helper.ts'
import { probeLines, probeValue } from '../support/probe.ts'

const start = startHelper

/** The SyscallError a call rejects with. */
async function failure(call: Promise<unknown>): Promise<SyscallError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, 'expected the call to fail with a SyscallError').toBeInstanceOf(SyscallError)
  return error as SyscallError
}

/** exec the probe (or a copy of it at `path`) in `h` and return what it printed. */
async function probe(h: Helper, out: ReturnType<typeof captureFile>, ...steps: string[]): Promise<string> {
  return probeAt(PROBE_PATH, h, out, ...steps)
}

async function probeAt(path: string, h: Helper, out: ReturnType<typeof captureFile>, ...steps: string[]): Promise<string> {
  await h.exec(path, ['probe', ...steps], [])
  await h.exited
  return out.read()
}

describe('exec', () => {
  it('runs the program with the exact argv and env, and the exit status comes back', async () => {
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    await h.exec(PROBE_PATH, ['probe', 'env', 'argv', 'a b', ''], ['A=1', 'B=two'])
    expect(await h.exited).toEqual({ code: 0, signal: null })
    expect(probeValue(out.read(), 'env')).toEqual(['A=1', 'B=two'])
  })

  it('searches no PATH: a name without a slash is a file in the working directory', async () => {
    const dir = tempDir()
    copyFileSync(PROBE_PATH, join(dir, 'here'))
    const h = start()
    const e = await failure(h.exec('true', ['true'], ['PATH=/usr/bin:/bin']))
    expect(e, 'the PATH search is the TypeScript side\'s job, not the helper\'s').toMatchObject({ code: 'ENOENT', path: 'true' })
    await h.chdir(dir)
    await h.exec('here', ['here', 'exit:0'], ['PATH=/nonexistent'])
    expect(await h.exited).toEqual({ code: 0, signal: null })
  })

  it('fails with ENOENT for a missing program, and the helper stays usable', async () => {
    const h = start()
    const e = await failure(h.exec('/no/such/program', ['x'], []))
    expect(e).toMatchObject({ syscall: 'execve', code: 'ENOENT', path: '/no/such/program' })
    expect(e.message).toBe('execve("/no/such/program") failed: ENOENT (No such file or directory)')
    await h.chdir('/')
  })

  it('fails with EACCES for a file that is not executable', async () => {
    const file = join(tempDir(), 'data')
    writeFileSync(file, 'x', { mode: 0o644 })
    const e = await failure(start().exec(file, [file], []))
    expect(e.code).toBe('EACCES')
  })
})

describe('fork', () => {
  it('returns the child PID; the parent relays the child\'s exit code', async () => {
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    const child = await h.fork()
    expect(child).toBeGreaterThan(h.pid)
    const text = await probe(h, out, 'pid', 'exit:7')
    expect(await h.exited).toEqual({ code: 7, signal: null })
    expect(probeValue(text, 'ppid'), 'the child\'s parent is the helper, which relays').toBe(h.pid)
  })

  it('the relay dies of the same signal as the child', async () => {
    const h = start()
    await h.fork()
    await h.exec(PROBE_PATH, ['probe', 'kill:15'], [])
    expect(describeStatus(await h.exited)).toBe('killed by signal 15 (SIGTERM)')
  })

  it('the relay passes SIGTERM on to the child', async () => {
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    await h.fork()
    await h.exec(PROBE_PATH, ['probe', 'wait-signal'], [])
    for (let i = 0; i < 200 && !out.peek().includes('waiting'); i++) await new Promise((r) => setTimeout(r, 10))
    process.kill(h.pid, 'SIGTERM')
    expect(await h.exited).toEqual({ code: 0, signal: null })
    expect(probeValue(out.read(), 'signal')).toBe(15)
  })

  it('kill() after fork ends the serving child first, so nothing is left when exited settles', async () => {
    const h = start()
    const child = await h.fork()
    h.kill()
    expect(describeStatus(await h.exited)).toBe('killed by signal 9 (SIGKILL)')
    let gone = false
    try {
      process.kill(child, 0)
    } catch {
      gone = true
    }
    expect(gone, 'the child must be killed and reaped by its relay, not left running or as a zombie').toBe(true)
  })

  it('fails with EAGAIN when RLIMIT_NPROC is exhausted for the user', async () => {
    // Lower the limit while the helper is root, then drop to a uid the limit applies to.
    const h = start()
    execFileSync('prlimit', ['--pid', String(h.pid), '--nproc=0'])
    await h.setuid(65534)
    const e = await failure(h.fork())
    expect(e).toMatchObject({ syscall: 'fork', code: 'EAGAIN' })
  })
})

describeKernel('namespaces', () => {
  it('unshare gives the helper new namespaces', async () => {
    const h = start()
    await h.unshare(['uts', 'ipc', 'mount'])
    for (const ns of ['uts', 'ipc', 'mnt'])
      expect(readlinkSync(`/proc/${h.pid}/ns/${ns}`)).not.toBe(readlinkSync(`/proc/self/ns/${ns}`))
    expect(readlinkSync(`/proc/${h.pid}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'))
  })

  it('unshare fails with EPERM without privilege, and names the flags', async () => {
    const h = start()
    await h.setuid(65534)
    const e = await failure(h.unshare(['mount', 'pid']))
    expect(e.message).toBe('unshare(CLONE_NEWNS|CLONE_NEWPID) failed: EPERM (Operation not permitted)')
  })

  it('unshare refuses a namespace it does not know', async () => {
    const e = await failure(start().unshare(['bogus' as 'uts']))
    expect(e.code).toBe('EINVAL')
  })

  it('setns joins the namespace behind a /proc/PID/ns path', async () => {
    const a = start()
    await a.unshare(['uts'])
    await a.sethostname('joined-ns')
    const out = captureFile('out')
    const b = start({ stdout: out.fd })
    await b.setns(`/proc/${a.pid}/ns/uts`)
    expect(probeValue(await probe(b, out, 'hostname'), 'hostname')).toBe('joined-ns')
  })

  it('setns fails with ENOENT for a missing path and EINVAL for a file that is no namespace', async () => {
    const h = start()
    expect(await failure(h.setns('/proc/999999999/ns/uts'))).toMatchObject({ syscall: 'open', code: 'ENOENT' })
    expect(await failure(h.setns('/etc/hostname'))).toMatchObject({ syscall: 'setns', code: 'EINVAL' })
  })

  it('open holds a namespace after its last process has gone; setnsFd joins it by type; closeFd lets it go', async () => {
    const a = start()
    await a.unshare(['uts'])
    await a.sethostname('held-ns')
    const id = readlinkSync(`/proc/${a.pid}/ns/uts`)
    const out = captureFile('out')
    const b = start({ stdout: out.fd })
    const fd = await b.open(`/proc/${a.pid}/ns/uts`)
    expect(readlinkSync(`/proc/${b.pid}/fd/${fd}`), 'the held fd, seen from outside').toBe(id)
    a.kill()
    await a.exited
    expect(await failure(b.setnsFd(fd, 'ipc'))).toMatchObject({ syscall: 'setns', code: 'EINVAL' })
    await b.setnsFd(fd, 'uts')
    expect(readlinkSync(`/proc/${b.pid}/ns/uts`)).toBe(id)
    await b.closeFd(fd)
    expect(await failure(b.closeFd(fd))).toMatchObject({ syscall: 'close', code: 'EBADF' })
    expect(await failure(b.setnsFd(fd))).toMatchObject({ syscall: 'setns', code: 'EBADF' })
    expect(await failure(b.open('/proc/999999999/ns/uts'))).toMatchObject({ syscall: 'open', code: 'ENOENT', path: '/proc/999999999/ns/uts' })
    expect(probeValue(await probe(b, out, 'hostname'), 'hostname')).toBe('held-ns')
  })

  it('sethostname changes the hostname only in a new UTS namespace', async () => {
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    await h.unshare(['uts'])
    await h.sethostname('inside')
    expect(probeValue(await probe(h, out, 'hostname'), 'hostname')).toBe('inside')
    expect(hostname()).not.toBe('inside')
  })

  it('sethostname fails with EINVAL for a name longer than 64 bytes', async () => {
    const h = start()
    await h.unshare(['uts'])
    expect(await failure(h.sethostname('x'.repeat(65)))).toMatchObject({ syscall: 'sethostname', code: 'EINVAL' })
  })
})

describeKernel('mounts', () => {
  /** A helper in its own mount namespace, so nothing it mounts reaches the host. */
  async function isolated(out?: ReturnType<typeof captureFile>): Promise<Helper> {
    const h = start(out ? { stdout: out.fd } : {})
    await h.unshare(['mount'])
    await h.mount(null, '/', null, ['rec', 'private'])
    return h
  }

  it('mount and umount2 a tmpfs, with flags and data', async () => {
    const dir = tempDir()
    const out = captureFile('out')
    const h = await isolated(out)
    await h.mount('tmpfs', dir, 'tmpfs', ['nosuid', 'nodev'], 'size=1m,mode=700')
    await h.writeFile(join(dir, 'f'), 'in tmpfs')
    await h.umount2(dir, ['detach'])
    await h.mount('tmpfs', dir, 'tmpfs', [], 'size=1m')
    const mounts = probeValue<string>(await probe(h, out, 'mounts'), 'mounts')
    expect(mounts).toContain(` ${dir} rw`)
    expect(statSync(dir).isDirectory()).toBe(true)
    expect(() => readFileSync(join(dir, 'f')), 'the host never saw the tmpfs').toThrow()
  })

  it('mount fails with ENOENT for a missing target, naming source and target', async () => {
    const h = await isolated()
    const e = await failure(h.mount('tmpfs', '/no/such/dir', 'tmpfs', ['nosuid']))
    expect(e.message).toBe('mount("tmpfs", "/no/such/dir", "tmpfs", MS_NOSUID, NULL) failed: ENOENT (No such file or directory)')
    expect(e.dest).toBe('/no/such/dir')
  })

  it('umount2 fails with EINVAL on a directory that is not a mount point', async () => {
    const dir = tempDir()
    const h = await isolated()
    const e = await failure(h.umount2(dir, ['detach']))
    expect(e.message).toBe(`umount2("${dir}", MNT_DETACH) failed: EINVAL (Invalid argument)`)
  })

  it('pivot_root moves the root; fails with EINVAL when new_root is not a mount point', async () => {
    // new_root must sit on a mount other than the current root's, or the kernel says EBUSY first
    const dir = tempDir()
    const root = join(dir, 'sub')
    const h = await isolated()
    await h.mount('tmpfs', dir, 'tmpfs', [], 'size=1m')
    await h.mkdir(root)
    await h.mkdir(join(root, 'old'))
    const e = await failure(h.pivotRoot(root, join(root, 'old')))
    expect(e).toMatchObject({ syscall: 'pivot_root', code: 'EINVAL', path: root, dest: join(root, 'old') })
    expect(e.message).toBe(`pivot_root("${root}", "${root}/old") failed: EINVAL (Invalid argument)`)

    const pivoted = tempDir()
    mkdirSync(join(pivoted, 'old'))
    const out = captureFile('out')
    const p = await isolated(out)
    await p.mount(pivoted, pivoted, null, ['bind'])
    await p.pivotRoot(pivoted, join(pivoted, 'old'))
    await p.chdir('/')
    await p.exec('/old' + PROBE_PATH, ['probe', 'ls:/'], [])
    await p.exited
    expect(probeValue(out.read(), 'ls'), 'after pivot_root, / is the new root').toEqual(['old'])
  })

  it('chroot changes the root; fails with ENOENT for a missing directory', async () => {
    const root = tempDir()
    writeFileSync(join(root, 'marker'), '')
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    expect(await failure(h.chroot('/no/such/root'))).toMatchObject({ syscall: 'chroot', code: 'ENOENT' })
    const probeCopy = join(root, 'probe')
    writeFileSync(probeCopy, readFileSync(PROBE_PATH), { mode: 0o755 })
    await h.chroot(root)
    await h.chdir('/')
    await h.exec('/probe', ['probe', 'ls:/'], [])
    await h.exited
    expect(probeValue(out.read(), 'ls')).toEqual(['marker', 'probe'])
  })

  it('mknod makes a device with exactly the mode asked for; fails with EEXIST', async () => {
    const dir = tempDir()
    const h = await isolated()
    await h.mount('tmpfs', dir, 'tmpfs', [], 'size=1m') // devices need a filesystem without nodev
    await h.mknod(join(dir, 'null'), 'c', 0o666, 1, 3)
    await h.writeFile(join(dir, 'null'), 'into the void')
    const e = await failure(h.mknod(join(dir, 'null'), 'c', 0o666, 1, 3))
    expect(e.message).toBe(`mknod("${dir}/null", S_IFCHR|0666, makedev(1, 3)) failed: EEXIST (File exists)`)
  })

  it('mknod result is a 1:3 char device with mode 0666 (seen from inside)', async () => {
    const dir = tempDir()
    const out = captureFile('out')
    const h = await isolated(out)
    await h.mount('tmpfs', dir, 'tmpfs', [], 'size=1m')
    await h.mknod(join(dir, 'null'), 'c', 0o666, 1, 3)
    const stat = probeLines(await probe(h, out, `stat:${dir}/null`))[0]!
    expect(stat).toMatchObject({ mode: 0o20666, rdev: [1, 3] })
  })
})

describe('files and directories', () => {
  it('mkdir, rmdir, symlink and writeFile work on the helper\'s view of the filesystem', async () => {
    const dir = tempDir()
    const h = start()
    await h.mkdir(join(dir, 'd'), 0o700)
    expect(statSync(join(dir, 'd')).mode & 0o777).toBe(0o700)
    await h.symlink('d', join(dir, 'link'))
    expect(readlinkSync(join(dir, 'link'))).toBe('d')
    await h.writeFile(join(dir, 'd', 'f'), 'hello')
    expect(readFileSync(join(dir, 'd', 'f'), 'utf8')).toBe('hello')
    await h.mkdir(join(dir, 'empty'))
    await h.rmdir(join(dir, 'empty'))
  })

  it('each fails with the errno of its syscall', async () => {
    const dir = tempDir()
    symlinkSync('x', join(dir, 'taken'))
    const h = start()
    expect(await failure(h.mkdir(join(dir, 'taken')))).toMatchObject({ syscall: 'mkdir', code: 'EEXIST' })
    expect(await failure(h.rmdir(join(dir, 'missing')))).toMatchObject({ syscall: 'rmdir', code: 'ENOENT' })
    expect(await failure(h.symlink('y', join(dir, 'taken')))).toMatchObject({ syscall: 'symlink', code: 'EEXIST', path: join(dir, 'taken') })
    expect(await failure(h.writeFile(join(dir, 'no', 'f'), 'x'))).toMatchObject({ syscall: 'open', code: 'ENOENT' })
    expect(await failure(h.chdir(join(dir, 'missing')))).toMatchObject({ syscall: 'chdir', code: 'ENOENT' })
  })

  it('openAt and mkdirAt work relative to a directory fd and never follow a symlink where asked not to', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'real'))
    symlinkSync(join(dir, 'real'), join(dir, 'link'))
    writeFileSync(join(dir, 'kept'), 'old')
    const h = start()
    const root = await h.openAt('cwd', dir, ['path', 'directory'])
    await h.mkdirAt(root, 'made', 0o700)
    expect(statSync(join(dir, 'made')).mode & 0o777).toBe(0o700)
    expect(await failure(h.mkdirAt(root, 'link'))).toMatchObject({ syscall: 'mkdirat', code: 'EEXIST', path: 'link' })
    expect(await failure(h.openAt(root, 'link', ['path', 'nofollow', 'directory']))).toMatchObject({ syscall: 'openat', code: 'ENOTDIR' })
    expect(await failure(h.openAt(root, 'link', ['rdonly', 'nofollow']))).toMatchObject({ syscall: 'openat', code: 'ELOOP' })
    expect(await failure(h.openAt(root, 'kept', ['wronly', 'creat', 'excl', 'nofollow']))).toMatchObject({ syscall: 'openat', code: 'EEXIST' })
    expect(readFileSync(join(dir, 'kept'), 'utf8')).toBe('old')
    const sub = await h.openAt(root, 'real', ['path', 'nofollow', 'directory'])
    await h.closeFd(await h.openAt(sub, 'f', ['wronly', 'creat', 'excl'], 0o600))
    expect(statSync(join(dir, 'real', 'f')).mode & 0o777).toBe(0o600)
    await h.closeFd(sub)
    await h.closeFd(root)
    expect(await failure(h.mkdirAt(root, 'x'))).toMatchObject({ syscall: 'mkdirat', code: 'EBADF' })
  })

  it('fchdir makes the directory behind an fd the working directory, wherever it has been renamed to', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'a'))
    writeFileSync(join(dir, 'file'), '')
    const h = start()
    const held = await h.openAt('cwd', join(dir, 'a'), ['path', 'directory'])
    const file = await h.openAt('cwd', join(dir, 'file'), ['path'])
    execFileSync('mv', [join(dir, 'a'), join(dir, 'b')])
    await h.fchdir(held)
    expect(readlinkSync(`/proc/${h.serving}/cwd`)).toBe(join(dir, 'b'))
    expect(await failure(h.fchdir(file))).toMatchObject({ syscall: 'fchdir', code: 'ENOTDIR' })
    await h.closeFd(file)
    await h.closeFd(held)
    expect(await failure(h.fchdir(held))).toMatchObject({ syscall: 'fchdir', code: 'EBADF' })
  })
})

describe('process attributes', () => {
  it('prctl subreaper: an orphaned grandchild is adopted by the helper\'s program', async () => {
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    await h.setSubreaper()
    const line = probeLines(await probe(h, out, 'orphan'))[0]!
    expect(line.adopted_by, 'with PR_SET_CHILD_SUBREAPER the orphan is reparented to the probe, not to init').toBe(line.self)
  })

  it('reaper: the parent reaps an adopted orphan and reports it on the socket its child holds; an FD below 3 is refused', async () => {
    const out = captureFile('out')
    const h = start({ stdout: out.fd })
    expect((await failure(h.reaper(2))).message).toMatch(/^reaper: FD must be a number from 3 up failed: EINVAL/)
    await h.setSubreaper()
    expect(await h.reaper(5), 'expected the PID of the child that goes on serving').not.toBe(h.pid)
    // the orphan (its parent, the subshell, exits at once) goes to the reaper, which reports its exit
    await h.exec('/bin/sh', ['sh', '-c', '(sh -c "sleep 0.1; exit 3" &); read line <&5; echo "$line"'], [])
    expect(describeStatus(await h.exited), 'the reaper leaves as its first child left, once nothing is left to reap').toBe('exit code 0')
    expect(out.read()).toMatch(/^\d+ exit 3\n$/)
  })

  it('prctl pdeathsig: accepted for a real signal, EINVAL for a bogus one', async () => {
    const h = start()
    await h.setParentDeathSignal(9)
    const e = await failure(h.setParentDeathSignal(999))
    expect(e.message).toBe('prctl(PR_SET_PDEATHSIG, 999) failed: EINVAL (Invalid argument)')
  })

  it('no_new_privs is set', async () => {
    const h = start()
    await h.setNoNewPrivs()
    expect(readFileSync(`/proc/${h.pid}/status`, 'utf8')).toMatch(/NoNewPrivs:\s+1/)
  })

  it('setgroups, setgid and setuid change the credentials; EPERM once privileges are gone', async () => {
    const out = captureFile('out')
    const probePath = runnableByAnyone(PROBE_PATH) // uid 1000 may not reach the checkout
    const h = start({ stdout: out.fd })
    await h.setgroups([1000, 1001])
    await h.setgid(1000)
    await h.setuid(1000)
    expect(await failure(h.setuid(0))).toMatchObject({ syscall: 'setuid', code: 'EPERM' })
    expect(await failure(h.setgid(0))).toMatchObject({ syscall: 'setgid', code: 'EPERM' })
    expect(await failure(h.setgroups([0]))).toMatchObject({ syscall: 'setgroups', code: 'EPERM' })
    expect(probeLines(await probeAt(probePath, h, out, 'id'))[0]).toEqual({ uid: 1000, gid: 1000, groups: [1000, 1001] })
  })

  it('setsid makes a new session; EPERM when already a session leader', async () => {
    const h = start()
    await h.setsid()
    expect(await failure(h.setsid())).toMatchObject({ syscall: 'setsid', code: 'EPERM' })
  })

  it('closeFds closes inherited descriptors from 3 up', async () => {
    const out = captureFile('out')
    const extra = captureFile('extra')
    const h = start({ stdout: out.fd, extraFds: [extra.fd] })
    await h.closeFds()
    const fds = probeValue<string[]>(await probe(h, out, 'fds'), 'fds')
    expect(fds, 'only stdio (and the fd opendir used) remain').toEqual(['0', '1', '2', '3'])
  })

  it('closeFds(from) keeps the descriptors below from', async () => {
    const out = captureFile('out')
    const extra = captureFile('extra')
    const h = start({ stdout: out.fd, extraFds: [extra.fd] })
    expect(h.extraFdCount).toBe(1)
    await h.closeFds(5)
    const fds = probeValue<string[]>(await probe(h, out, 'fds'), 'fds')
    expect(fds, 'stdio and the extra fd remain (and the fd opendir used)').toEqual(['0', '1', '2', '3', '4'])
  })

  it('memfdExec runs the helper again from a sealed copy in memory, which goes on serving', async () => {
    const h = start()
    await h.memfdExec(['write', 'shrink', 'grow', 'seal'])
    expect(readlinkSync(`/proc/${h.pid}/exe`)).toBe('/memfd:minidocker-helper (deleted)')
    expect(readFileSync(`/proc/${h.pid}/comm`, 'utf8')).toBe('minidocker-help\n')
    expect(await failure(h.memfdExec(['nonsense']))).toMatchObject({ code: 'EINVAL' })
    expect(await failure(h.chdir('/nonexistent-dir')), 'the new image must go on serving requests').toMatchObject({ syscall: 'chdir', code: 'ENOENT' })
  })
})

describe('waiting', () => {
  it('writeFile to a fifo blocks until a reader opens it, then writes', async () => {
    const fifo = join(tempDir(), 'exec.fifo')
    execFileSync('mkfifo', [fifo])
    const h = start()
    const waiting = h.writeFile(fifo, '0')
    let done = false
    void waiting.then(() => (done = true))
    await new Promise((r) => setTimeout(r, 50))
    expect(done, 'writeFile must block on a fifo while nobody reads').toBe(false)
    expect(readFileSync(fifo, 'utf8')).toBe('0')
    await waiting
  })

  it('waitFd returns when a byte arrives and fails with EPIPE at end of file', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'one'), 'x')
    writeFileSync(join(dir, 'empty'), '')
    const { openSync, closeSync } = await import('node:fs')
    const one = openSync(join(dir, 'one'), 'r')
    const empty = openSync(join(dir, 'empty'), 'r')
    try {
      const h = start({ extraFds: [one, empty] })
      await h.waitFd(4)
      expect(await failure(h.waitFd(5))).toMatchObject({ syscall: 'read', code: 'EPIPE' })
      expect(await failure(h.waitFd(99))).toMatchObject({ syscall: 'read', code: 'EBADF' })
    } finally {
      closeSync(one)
      closeSync(empty)
    }
  })
})

describe('limits', () => {
  it('setrlimit sets the soft and hard limit, and fails with EINVAL when soft is above hard', async () => {
    const h = start()
    await h.setrlimit('RLIMIT_NOFILE', 100, 200)
    expect(readFileSync(`/proc/${h.pid}/limits`, 'utf8')).toMatch(/^Max open files\s+100\s+200\s/m)
    expect(await failure(h.setrlimit('RLIMIT_NOFILE', 300, 200))).toMatchObject({ syscall: 'setrlimit', code: 'EINVAL' })
    await expect(h.setrlimit('RLIMIT_NOPE', 1, 1)).rejects.toThrow(/unknown resource/)
  })
})

describe('terminals', () => {
  it('connect, openpt, setControllingTerminal, sendFd: the slave becomes the terminal, the master goes out with its name', async () => {
    const path = join(tempDir(), 'console.sock')
    const received = new Promise<string>((resolve) => {
      const server = createServer((socket) => socket.on('data', (data) => { resolve(String(data)); server.close() })).listen(path)
    })
    const h = start()
    const pid = await h.fork()
    const socket = await h.connect(path)
    const master = await h.openpt('/dev/ptmx')
    await h.setsid()
    await h.setControllingTerminal(master)
    await h.sendFd(socket, master, '/dev/ptmx')
    expect(await received, 'the data sent with the fd').toBe('/dev/ptmx')
    for (const fd of [0, 1, 2]) expect(readlinkSync(`/proc/${pid}/fd/${fd}`), `fd ${fd} must be the pty's slave`).toMatch(/^\/dev\/pts\/\d+$/)
    const ttyNr = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[4])
    expect(ttyNr, 'the slave must be the controlling terminal (stat\'s tty_nr)').not.toBe(0)
  })

  it('each fails with the errno: no socket, not a multiplexer, not a master, not a socket', async () => {
    const h = start()
    expect(await failure(h.connect(join(tempDir(), 'none.sock')))).toMatchObject({ syscall: 'connect', code: 'ENOENT' })
    expect(await failure(h.openpt('/dev/null'))).toMatchObject({ syscall: 'ioctl', code: 'ENOTTY' })
    expect(await failure(h.setControllingTerminal(99))).toMatchObject({ syscall: 'ioctl', code: 'EBADF' })
    expect(await failure(h.sendFd(1, 1, 'x'))).toMatchObject({ syscall: 'sendmsg', code: 'ENOTSOCK' })
  })
})

describe('requests', () => {
  it('a request with NUL bytes is refused before it is sent', async () => {
    await expect(start().chdir('a\0b')).rejects.toThrow('cannot contain NUL')
  })

  it('a call after the helper is gone says so', async () => {
    const h = start()
    await h.exec('/bin/true', ['true'], [])
    await h.exited
    await expect(h.chdir('/')).rejects.toThrow(/is gone/)
  })
})
