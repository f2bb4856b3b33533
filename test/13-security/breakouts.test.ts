/**
 * The breakouts each protection stops, tried in throwaway containers of minirunc: blocked with
 * the protection, shown to work without it. Nothing is harmed: a mount is made inside the
 * container's own mount namespace and undone, a write is only an open for writing that is
 * closed at once, a user namespace is the container's own.
 */
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { expect, it } from 'vitest'
import type { Seccomp, Spec } from '../../lib/oci.ts'
import { DEFAULT_CAPABILITIES } from '../../lib/engine.ts'
import { describeKernel } from '../support/kernel.ts'
import { readFileSync } from 'node:fs'
import { onCleanup, tempDir } from '../support/files.ts'
import { probeLines } from '../support/probe.ts'
import { minirunc, rethrowNotImplemented } from '../support/runtime.ts'
import { runBundle, type Run } from '../support/security.ts'
import { shiftBundle, usernsBundle } from '../support/userns.ts'

const caps = (names: string[]) => ({ bounding: names, effective: names, permitted: names })
const tried = (run: Run, name: string) => {
  expect(run.code, `the container failed: ${run.output}`).toBe(0)
  return run.lines.filter((l) => l.tried === name).map((l) => l.errno)
}

/** The rules of Docker's default profile that stop a new user namespace without CAP_SYS_ADMIN (moby profiles/seccomp/default.json). */
const NO_USER_NAMESPACES: Seccomp = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
  syscalls: [
    { names: ['unshare', 'setns', 'mount', 'umount2'], action: 'SCMP_ACT_ERRNO' },
    // clone() may make threads and processes, not namespaces: CLONE_NEWUSER and the others are refused.
    { names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
  ],
}

describeKernel('breakouts: what each protection stops', () => {
  it('mount a tmpfs, with Docker\'s 14 capabilities and with CAP_SYS_ADMIN added', async () => {
    const blocked = await runBundle('minirunc', ['mount-tmpfs:/tmp'], (spec) => (spec.process.capabilities = caps(DEFAULT_CAPABILITIES)))
    expect(tried(blocked, 'mount-tmpfs'), 'with Docker\'s 14 capabilities, root in the container must not mount (the host\'s disk would be next): were the sets applied?').toEqual(['EPERM'])
    const allowed = await runBundle('minirunc', ['mount-tmpfs:/tmp'], (spec) => (spec.process.capabilities = caps([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'])))
    expect(tried(allowed, 'mount-tmpfs'), 'with CAP_SYS_ADMIN the mount works (in the container\'s own mount namespace, undone at once)').toEqual([null])
  })

  it('core_pattern opened for writing, with and without readonlyPaths', async () => {
    const readonly = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']
    // Opened for writing and closed without a byte written: the proof of access, not the attack.
    const steps = ['open-write:/proc/sys/kernel/core_pattern']
    const blocked = await runBundle('minirunc', steps, (spec) => {
      spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      spec.linux!.readonlyPaths = readonly
    })
    expect(tried(blocked, 'open-write'), 'core_pattern opened for writing under readonlyPaths: expected EROFS (chapter 09\'s readonlyPaths)').toEqual(['EROFS'])
    const open = await runBundle('minirunc', steps, (spec) => (spec.process.capabilities = caps(DEFAULT_CAPABILITIES)))
    expect(tried(open, 'open-write'), 'without readonlyPaths, root in the container, even with Docker\'s 14 capabilities alone, may open the host-wide core_pattern for writing').toEqual([null])
  })

  it('/proc/timer_list and /sys/firmware, with and without maskedPaths', async () => {
    // This kernel has no /proc/kcore (CONFIG_PROC_KCORE is off); /proc/timer_list, masked by Docker too, shows the host's timers and tasks.
    const masked = ['/proc/kcore', '/proc/timer_list', '/sys/firmware']
    const steps = ['read:/proc/timer_list', 'ls:/sys/firmware']
    const blocked = await runBundle('minirunc', steps, (spec) => {
      spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      spec.linux!.maskedPaths = masked
    })
    expect(blocked.lines, 'under maskedPaths: expected /proc/timer_list to read nothing and /sys/firmware to list nothing (chapter 09\'s maskedPaths)').toEqual([{ tried: 'read', result: 0, errno: null }, { ls: [] }])
    const open = await runBundle('minirunc', steps, (spec) => (spec.process.capabilities = caps(DEFAULT_CAPABILITIES)))
    expect((open.lines[0]?.result as number) > 0, `without maskedPaths the host's timer list is readable: ${open.output}`).toBe(true)
    expect((open.lines[1]?.ls as string[]).length, 'and /sys/firmware lists the host\'s firmware tables').toBeGreaterThan(0)
  })

  it('unshare -U, with and without the profile\'s rules on unshare and clone', async () => {
    const steps = ['unshare-user', 'status']
    const blocked = await runBundle('minirunc', steps, (spec) => {
      spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      spec.linux!.seccomp = NO_USER_NAMESPACES
    })
    expect(tried(blocked, 'unshare-user'), 'the profile must deny unshare(CLONE_NEWUSER) with EPERM').toEqual(['EPERM'])
    const open = await runBundle('minirunc', steps, (spec) => (spec.process.capabilities = caps(DEFAULT_CAPABILITIES)))
    expect(tried(open, 'unshare-user'), 'without the profile, any process may make a user namespace').toEqual([null])
    const status = open.lines.find((l) => 'status' in l)?.status as Record<string, string> | undefined
    const held = BigInt(`0x${status?.CapEff ?? '0'}`).toString(2).replace(/0/g, '').length
    expect(held, `in its new user namespace the process holds every capability again, over that namespace's resources (CapEff ${status?.CapEff})`).toBe(Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')) + 1)
  })
})

/** `run` a bundle with minirunc, its output in a file; the output and the probe's lines. */
async function runAs(bundle: string) {
  const dir = tempDir()
  const r = await minirunc(['--root', join(dir, 'state'), 'run', '--bundle', bundle, 'breakout-test'], { output: join(dir, 'output') })
  rethrowNotImplemented(r.stdout)
  return { code: r.code, output: r.stdout, lines: probeLines(r.stdout.split('\n').filter((l) => l.startsWith('{')).join('\n')) }
}

describeKernel('breakouts: what a user namespace stops', () => {
  it('breakout: a host process\'s environment, read with the host\'s PID namespace, without and with a user namespace', async () => {
    // The stand-in host process, root's, with a secret in its environment.
    // (The probe prints up to the first NUL, so the secret is its only variable.)
    const victim = spawn('/bin/sleep', ['60'], { env: { STAND_IN_TOKEN: 'hunter2' }, stdio: 'ignore' })
    onCleanup(() => victim.kill('SIGKILL'))
    const shareHostPids = (spec: Spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'pid')
      // The host's /proc, as `--pid host` gives it; read-only, and the probe only reads.
      spec.mounts = spec.mounts!.filter((m) => m.destination !== '/proc' && m.destination !== '/sys')
      spec.mounts.push({ destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'ro'] })
    }
    const dir = tempDir()
    const step = `cat:/proc/${victim.pid}/environ`
    const plain = usernsBundle(join(dir, 'a'), [step], false, shareHostPids)
    const open = await runAs(plain.bundle)
    expect(JSON.stringify(open.lines[0]), `the demonstration: without a user namespace the container's root reads it: ${open.output}`).toContain('STAND_IN_TOKEN=hunter2')
    const mapped = usernsBundle(join(dir, 'b'), [step], true, shareHostPids)
    await shiftBundle(mapped)
    const closed = await runAs(mapped.bundle)
    expect(closed.lines[0], `in a user namespace the container's root is not the host process's owner and has no CAP_SYS_PTRACE over it: ${closed.output}`).toMatchObject({ step: 'cat', errno: 'EACCES' })
  }, 60_000)

  it('breakout: a daemon\'s socket bound into the container, without and with a user namespace', async () => {
    // A stand-in daemon: for "ping" it creates a file where only the host's root may write.
    const dir = tempDir()
    const target = join(dir, 'host-only')
    mkdirSync(target, { mode: 0o700 })
    const sockets = join(dir, 'run')
    mkdirSync(sockets, { mode: 0o755 })
    const socket = join(sockets, 'daemon.sock')
    let requests = 0
    const server = createServer((c) => c.once('data', () => {
      writeFileSync(join(target, `created-by-request-${++requests}`), '')
      c.end('created\n')
    }))
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    onCleanup(() => new Promise((resolve) => server.close(resolve)))
    chmodSync(socket, 0o660) // root:root 0660, as dockerd's root:docker socket
    const withSocket = (spec: Spec) => spec.mounts!.push({ destination: '/run/daemon', type: 'bind', source: sockets, options: ['rbind'] })
    const plain = usernsBundle(join(dir, 'a'), ['unix:/run/daemon/daemon.sock'], false, withSocket)
    const open = await runAs(plain.bundle)
    expect(open.lines[0], `the demonstration: the container asked the daemon and the daemon did it: ${open.output}`).toEqual({ reply: 'created\n' })
    expect(readdirSync(target)).toEqual(['created-by-request-1'])
    const mapped = usernsBundle(join(dir, 'b'), ['unix:/run/daemon/daemon.sock'], true, withSocket)
    await shiftBundle(mapped)
    const closed = await runAs(mapped.bundle)
    expect(closed.lines[0], `the user namespace's root is not the socket's owner or group: connect must be refused: ${closed.output}`).toMatchObject({ step: 'unix', errno: 'EACCES' })
    expect(readdirSync(target), 'no second request may reach the daemon').toEqual(['created-by-request-1'])
  }, 60_000)
})
