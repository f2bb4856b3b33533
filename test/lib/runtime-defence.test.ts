/**
 * The runtime defends itself (lib/runtime-defence.ts, chapter 13's given code), and the
 * breakouts it stops. Each breakout is shown working without the protection and failing with
 * it; everything it aims at is a stand-in the test makes (a copy of the helper, a host
 * directory), so nothing of the machine's is at stake.
 */
import { chmodSync, copyFileSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync, realpathSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import { ContainerError } from '../../lib/errors.ts'
import { checkCwd, defendHelper } from '../../lib/runtime-defence.ts'
import type { Spec } from '../../lib/oci.ts'
import { setupRootfs } from '../../lib/rootfs-setup.ts'
import { Helper, HELPER_PATH } from '../../native/helper.ts'
import { waitFor } from '../support/container.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { MINIRUNC, probeBundle, probeRootfs, rethrowNotImplemented } from '../support/runtime.ts'

/** A helper started for the test, killed after it whatever happens. */
function helper(options: Parameters<typeof Helper.start>[0] = {}): Helper {
  const h = Helper.start(options)
  onCleanup(async () => {
    h.kill('SIGKILL')
    await h.exited
  })
  return h
}

/** A host directory with one file in it: what a leaked fd would open to the container. */
function hostDir(): { dir: string; fd: number } {
  const dir = tempDir()
  writeFileSync(join(dir, 'host-file'), 'host data\n')
  const fd = openSync(dir, 'r')
  onCleanup(() => closeSync(fd))
  return { dir, fd }
}

describeKernel('the runtime defends itself', () => {
  it('breakout, CVE-2019-5736: a process holding the helper\'s /proc/PID/exe writes to it once the helper is gone', async () => {
    // What a container's process needs: to see the runtime's process (a shared PID namespace,
    // or a #!/proc/self/exe program it is made to exec), open its exe, and wait for it to go.
    const attack = async (protect: boolean) => {
      const dir = tempDir()
      const copy = join(dir, 'minidocker-helper') // never the workbook's own build
      copyFileSync(HELPER_PATH, copy)
      chmodSync(copy, 0o755)
      const original = readFileSync(copy)
      const h = helper({ binary: copy })
      if (protect) await defendHelper(h)
      const held = join(dir, 'held')
      // Once the helper is gone: append to what fd 3 opens, cut it to nothing, extend it; then its size.
      const change = 'printf PWNED >>/proc/self/fd/3; w=$?; truncate -s 0 /proc/self/fd/3; s=$?; truncate -s +1 /proc/self/fd/3; g=$?; echo "$w $s $g $(wc -c </proc/self/fd/3)"'
      const attacker = execa('sh', ['-c', `exec 3</proc/${h.pid}/exe && : >${held} && while kill -0 ${h.pid} 2>/dev/null; do sleep 0.02; done; ${change}`], { reject: false, timeout: 30_000 })
      expect(await waitFor(() => existsSync(held), 10_000), 'the attacker could not open /proc/PID/exe').toBe(true)
      h.kill('SIGKILL')
      await h.exited
      const r = await attacker
      const [write, shrink, grow, size] = r.stdout.trim().split(' ').map(Number)
      return { rewritten: !readFileSync(copy).equals(original), refused: { write: write !== 0, shrink: shrink !== 0, grow: grow !== 0 }, size, length: original.length, stderr: r.stderr }
    }
    const unprotected = await attack(false)
    expect(unprotected.rewritten, `without the copy in memory, the binary on disk is rewritten (${unprotected.stderr})`).toBe(true)
    const protectedRun = await attack(true)
    expect(protectedRun.rewritten, 'the helper\'s file on disk was rewritten through /proc/PID/exe — what does /proc/PID/exe open, and what else could the helper run from? (the chapter\'s "CVE-2019-5736: the runtime\'s binary")').toBe(false)
    expect(protectedRun.refused, `the copy in memory could be changed through /proc/PID/exe (${protectedRun.stderr.trim().replaceAll('\n', '; ') || 'no error'}): which changes do its seals forbid?`).toEqual({ write: true, shrink: true, grow: true })
    expect(protectedRun.size, 'the copy in memory must keep its size').toBe(protectedRun.length)
  })

  it('the seals of the helper\'s /proc/PID/exe after defendHelper', async () => {
    const h = helper()
    await defendHelper(h)
    expect(readlinkSync(`/proc/${h.pid}/exe`), 'the helper still runs from its file on disk — what else could the helper run from? (the chapter\'s "CVE-2019-5736: the runtime\'s binary")').toMatch(/^\/memfd:/)
    // What a process holding /proc/PID/exe would find: the seals of the file it opens (fcntl F_GET_SEALS).
    const r = await execa(PROBE_PATH, [`seals:/proc/${h.pid}/exe`], { reject: false })
    const line = probeLines(r.stdout)[0] ?? {}
    expect(line.error, `the probe could not read the seals of /proc/${h.pid}/exe: ${r.stdout}${r.stderr}`).toBeUndefined()
    // Which changes of the bytes and the size the seals forbid, the breakout above tries for real.
    const seals = line.seals as string[]
    expect(seals.includes('seal'), `the copy's seals are [${seals.join(', ')}]: can whoever opens /proc/PID/exe once the helper is gone still change what is allowed to change in it? (memfd_create(2) and fcntl(2), "File sealing"; chapter text, "CVE-2019-5736: the runtime's binary")`).toBe(true)
  })

  it('defendHelper in a helper given fds 4 and 5 by its caller, who also left 6 and 9 open; minirunc started with a directory open on fd 7', async () => {
    const host = hostDir()
    // A careless parent: a shell that opens the host directory on 6 and 9 (without close-on-exec,
    // as a shell's redirections are) and execs the helper, which inherits both.
    const wrapper = join(tempDir(), 'careless-parent')
    writeFileSync(wrapper, `#!/bin/sh\nexec 6<'${host.dir}' 9<'${host.dir}'\nexec '${HELPER_PATH}' "$@"\n`, { mode: 0o755 })
    const h = helper({ binary: wrapper, extraFds: [host.fd, host.fd] }) // two passed on purpose: 4 and 5
    const helperFile = realpathSync(HELPER_PATH)
    expect(await waitFor(() => { try { return readlinkSync(`/proc/${h.pid}/exe`) === helperFile } catch { return false } }, 10_000), 'the stand-in parent did not exec the helper').toBe(true)
    const before = readdirSync(`/proc/${h.pid}/fd`).map(Number).sort((a, b) => a - b)
    // (and whatever this test's own process left open without close-on-exec, passed on as well)
    expect(before, 'the stand-in: the helper starts with stdio, its control socket, the two fds passed and the two its parent left').toEqual(expect.arrayContaining([0, 1, 2, 3, 4, 5, 6, 9]))
    await defendHelper(h)
    const fds = readdirSync(`/proc/${h.pid}/fd`).map(Number).sort((a, b) => a - b)
    expect(fds, `after defendHelper the helper holds fds [${fds.join(', ')}]: it must keep stdio, its control socket (3) and the fds it was given (4 and 5), and nothing else — which of them were passed on purpose, and what does the Helper know about its start? (the chapter's "CVE-2024-21626: a leaked fd and the working directory")`).toEqual([0, 1, 2, 3, 4, 5])
    // The runtime started by a careless caller that left a directory open on fd 7 (runc's own
    // leak was a /sys/fs/cgroup handle): process.cwd = /proc/self/fd/7 would stand on the host.
    const dir = tempDir()
    const bundle = probeBundle(join(dir, 'bundle'), ['cwd', 'cat:host-file'], (spec) => (spec.process.cwd = '/proc/self/fd/7'))
    /** `run` with the directory left open on fd 7: exit code and output. */
    const leaky = async (command: string, args: string[], name: string) => {
      const output = join(dir, `output-${name}`)
      const out = openSync(output, 'a')
      onCleanup(() => closeSync(out))
      const child = spawn(command, [...args, '--root', join(dir, `state-${name}`), 'run', '--bundle', bundle, 'leak'], { stdio: ['ignore', out, out, 'ignore', 'ignore', 'ignore', 'ignore', host.fd], timeout: 60_000 })
      onCleanup(() => execa(command, [...args, '--root', join(dir, `state-${name}`), 'delete', '--force', 'leak'], { reject: false }))
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      return { code, text: readFileSync(output, 'utf8') }
    }
    const ours = await leaky(process.execPath, [MINIRUNC], 'ours')
    rethrowNotImplemented(ours.text)
    expect(ours.text, 'the container read a host file through an fd the runtime inherited: are leaked fds closed before the helper enters the container?').not.toContain('host data')
    expect(ours.code, `the run must fail: ${ours.text}`).not.toBe(0)
    const theirs = await leaky('runc', [], 'runc')
    expect({ code: theirs.code, leaked: theirs.text.includes('host data') }, `runc refuses the same bundle and fd: ${theirs.text}`).toEqual({ code: 1, leaked: false })
  })

  it('breakout, CVE-2024-21626: process.cwd /proc/self/fd/4, with a host directory on fd 4', async () => {
    const host = hostDir()
    const dir = tempDir()
    const rootfs = probeRootfs(dir)
    const spec: Spec = {
      ociVersion: '1.0.2', process: { args: ['/bin/probe', 'cat:host-file'], env: [], cwd: '/proc/self/fd/4' },
      root: { path: rootfs }, mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }] },
    }
    const output = join(dir, 'output')
    const out = openSync(output, 'a')
    onCleanup(() => closeSync(out))
    /** A runtime without the check: namespaces, rootfs, pivot_root, chdir into process.cwd. */
    const enter = async () => {
      const h = helper({ stdout: out, stderr: out, extraFds: [host.fd] })
      await h.unshare(['mount', 'pid'])
      const pid = await h.fork()
      await setupRootfs(h, spec)
      await h.chdir(spec.process.cwd)
      return { h, pid }
    }
    const open = await enter()
    await open.h.exec('/bin/probe', spec.process.args, [])
    await open.h.exited
    expect(readFileSync(output, 'utf8'), 'the demonstration: a cwd of /proc/self/fd/4 reads the host directory').toContain('host data')
    const refused = await enter()
    let error: unknown
    try {
      checkCwd(refused.pid, spec.process.cwd)
    } catch (e) {
      error = e
    }
    rethrowNotImplemented(String(error))
    expect(error, 'checkCwd must refuse a working directory outside the container\'s root with a ContainerError — what tells two directories apart, whatever their names? (the chapter\'s "CVE-2024-21626: a leaked fd and the working directory")').toBeInstanceOf(ContainerError)
    expect((error as Error).message).toMatch(/cwd.*outside/)
    // and let a good one pass, through a symlink of the image too
    await refused.h.chdir('/bin')
    expect(() => checkCwd(refused.pid, '/bin'), 'checkCwd refused /bin, which is inside the root').not.toThrow()
  })
})
