/**
 * minirunc and runc on the same bundle, side by side: the capability sets, NoNewPrivs and
 * Seccomp lines of /proc/self/status, and what a seccomp profile does to the calls the probe
 * tries (the checks OCI runtime-tools makes for these fields, written here).
 */
import { expect, it } from 'vitest'
import type { Seccomp, Spec } from '../../lib/oci.ts'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { DEFAULT_CAPABILITIES } from '../../lib/engine.ts'
import { dockerDefaultProfile } from '../../lib/docker-security.ts'
import { CAPABILITY_NUMBERS, SYSCALLS_I386, SYSCALLS_X86_64 } from '../../lib/security-tables.ts'
import { describeKernel } from '../support/kernel.ts'
import { rethrowUnwritten, underBoth, type Run } from '../support/security.ts'
import { join } from 'node:path'
import { execa } from 'execa'
import { spawn } from 'node:child_process'
import { onCleanup, tempDir } from '../support/files.ts'
import { MINIRUNC, minirunc, probeBundle } from '../support/runtime.ts'


const caps = (names: string[], ambient: string[] = []) => ({ bounding: names, effective: names, permitted: names, inheritable: ambient, ambient })
const status = (run: Run) => run.lines.find((l) => 'status' in l)?.status as Record<string, string> | undefined
const tried = (run: Run, name: string) => run.lines.filter((l) => l.tried === name).map((l) => l.errno)

/** The two runs must both succeed; `what` names the case, `hint` what a failure of ours usually means. */
function expectSame(r: { ours: Run; runc: Run }, what: string, hint = ''): void {
  expect(r.runc.code, `runc itself failed on this bundle (${what}): ${r.runc.output}`).toBe(0)
  expect(r.ours.code, `minirunc failed (${what}) where runc ran${hint ? ` — ${hint}` : ''}: ${r.ours.output}`).toBe(0)
}

/**
 * Docker's default profile, its names cut to the kernel tables both filters know (so that runc's
 * libseccomp and yours agree on what it names) and to those `keep` keeps.
 */
function dockerProfile(keep: (name: string) => boolean): Seccomp {
  const docker = dockerDefaultProfile(DEFAULT_CAPABILITIES)
  const known = (n: string) => (SYSCALLS_X86_64[n] !== undefined || SYSCALLS_I386[n] !== undefined) && keep(n)
  return { ...docker, syscalls: docker.syscalls!.map((r) => ({ ...r, names: r.names.filter(known) })).filter((r) => r.names.length) }
}

/** A runtime's answers to the probe's `syscall` steps, in order. */
const answers = (run: Run) => tried(run, 'syscall')

describeKernel('minirunc and runc: capabilities, no_new_privs, seccomp', () => {
  it('Docker\'s 14 capabilities as root, then --cap-drop ALL, beside runc', async () => {
    const docker = await underBoth(['status'], (spec) => (spec.process.capabilities = caps(DEFAULT_CAPABILITIES)))
    expectSame(docker, 'Docker\'s default capabilities')
    // Docker's 14 as /proc/self/status shows them in any default `docker run` container.
    const mask = '00000000a80425fb'
    expect(status(docker.runc), 'runc\'s own sets').toMatchObject({ CapBnd: mask, CapEff: mask, CapPrm: mask, CapInh: '0000000000000000', CapAmb: '0000000000000000' })
    expect(status(docker.ours)?.CapBnd, `the bounding set must hold the 14 alone (runc: ${status(docker.runc)?.CapBnd}): did every other capability leave the bounding set, and at a moment when the process still could drop it (capabilities(7), "Capability bounding set")?`).toBe(mask)
    expect(status(docker.ours), 'every capability set must be as runc sets it').toEqual(status(docker.runc))
    const none = await underBoth(['status', 'mount-tmpfs:/tmp'], (spec) => (spec.process.capabilities = caps([])))
    expectSame(none, '--cap-drop ALL')
    expect(status(none.ours), 'with every set empty (--cap-drop ALL) root has no power left: as runc').toEqual(status(none.runc))
    expect(tried(none.ours, 'mount-tmpfs'), 'mount as root with every set empty: expected EPERM').toEqual(['EPERM'])
  })

  it('a runtime started under a umask of its own, a spec with and without one, beside runc', async () => {
    const umaskOf = (run: Run) => /^Umask:\s*(\d+)$/m.exec(String(run.lines.find((l) => 'cat' in l)?.cat))?.[1]
    const modeOf = (run: Run) => (run.lines.find((l) => 'mode' in l)?.mode as number | undefined)?.toString(8)
    // [the umask the runtime is started with, process.user.umask]
    const cases: [number, number | undefined][] = [[0o077, undefined], [0o000, undefined], [0o000, 0o027]]
    for (const [started, asked] of cases) {
      const what = `a runtime started with umask ${started.toString(8).padStart(3, '0')}, ${asked === undefined ? 'a spec without process.user.umask' : `process.user.umask ${asked.toString(8).padStart(3, '0')}`}`
      const r = await underBoth(['cat:/proc/self/status', 'write:/made:x', 'stat:/made'], (spec) => {
        spec.process.user = { uid: 0, gid: 0, ...(asked === undefined ? {} : { umask: asked }) }
        spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      }, undefined, started)
      expectSame(r, what)
      expect(umaskOf(r.runc), `runc's own Umask line (${what}): ${r.runc.output}`).toMatch(/^0[0-7]{3}$/)
      expect({ umask: umaskOf(r.ours), made: modeOf(r.ours) }, `${what}: the container's Umask line in /proc/self/status, and the mode of a file it creates, differ from runc's (right) — which of its process's attributes did the container get from whoever started the runtime, and does runc let it through? Compare /proc/self/status line by line under both runtimes, then read where runc's libcontainer sets it (rootfs_linux.go), and from what`).toEqual({ umask: umaskOf(r.runc), made: modeOf(r.runc) })
    }
  }, 120_000)

  it('a spec whose inheritable set holds more than its permitted set, as root and as user 1000, beside runc', async () => {
    const sets = (bounding: string[], inheritable: string[], ambient: string[] = []) => ({ bounding, effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable, ambient })
    const cases: [string, ReturnType<typeof sets>][] = [
      ['CAP_KILL permitted and CAP_KILL, CAP_NET_ADMIN inheritable, both in the bounding set', sets(['CAP_KILL', 'CAP_NET_ADMIN'], ['CAP_KILL', 'CAP_NET_ADMIN'])],
      ['the same, CAP_NET_ADMIN also ambient', sets(['CAP_KILL', 'CAP_NET_ADMIN'], ['CAP_KILL', 'CAP_NET_ADMIN'], ['CAP_NET_ADMIN'])],
      ['CAP_KILL permitted and bounding, CAP_KILL, CAP_NET_ADMIN inheritable', sets(['CAP_KILL'], ['CAP_KILL', 'CAP_NET_ADMIN'])],
    ]
    for (const user of [undefined, { uid: 1000, gid: 1000 }]) {
      for (const [spec, capabilities] of cases) {
        const what = `${user ? 'user 1000' : 'root'}, ${spec}`
        const r = await underBoth(['status'], (s) => {
          s.process.capabilities = capabilities
          if (user) s.process.user = user
        })
        if (r.runc.code !== 0) {
          expect(r.runc.output, `runc's own run (${what})`).toMatch(/operation not permitted/)
          expect({ code: r.ours.code === 0 ? 0 : 'refused', status: status(r.ours) }, `${what}: runc refuses to start this container (${r.runc.output.trim()}), yours started it with ${JSON.stringify(status(r.ours))}. Which sets did your process end up holding that the spec did not ask for, or not holding that it did, and which rule of capset(2) would have stopped you? (capabilities(7), "Programmatically adjusting capability sets")`).toEqual({ code: 'refused', status: undefined })
          continue
        }
        expectSame(r, what, 'which of your calls did the kernel refuse, and what did your process hold at that moment?')
        expect(status(r.ours), `${what}: the sets differ from runc's (right). What did your steps do to the inheritable set the spec asks for, and which set does capset(2) measure a new inheritable set against, at which moment? (capabilities(7), "Programmatically adjusting capability sets")`).toEqual(status(r.runc))
      }
    }
  }, 120_000)

  it('user 1000 with three capabilities, one of them ambient, beside runc', async () => {
    const kept = ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN', 'CAP_KILL']
    const r = await underBoth(['id', 'status'], (spec: Spec) => {
      spec.process.user = { uid: 1000, gid: 1000 }
      spec.process.capabilities = { bounding: DEFAULT_CAPABILITIES, effective: kept, permitted: kept, inheritable: kept, ambient: ['CAP_NET_BIND_SERVICE'] }
    })
    expectSame(r, 'user 1000 with capabilities', 'what does the change of uid from 0 do to the sets, and what must hold before an ambient capability can be raised? (capabilities(7), "Effect of user ID changes on capabilities"; prctl(2))')
    expect(r.ours.lines[0], 'the probe runs as uid 1000').toMatchObject({ uid: 1000, gid: 1000 })
    expect(status(r.ours)?.CapAmb, `the ambient set must hold CAP_NET_BIND_SERVICE (runc: ${status(r.runc)?.CapAmb}): when does the kernel allow raising an ambient capability, and had that moment come? (prctl(2), its errors; the chapter's "Capabilities")`).toBe(status(r.runc)?.CapAmb)
    expect(status(r.ours)?.CapPrm, `the permitted set after exec as uid 1000 (runc: ${status(r.runc)?.CapPrm}): what happened to the sets when the uid changed from 0, and what in your order undoes or avoids it? (capabilities(7), "Effect of user ID changes on capabilities")`).toBe(status(r.runc)?.CapPrm)
    expect(status(r.ours), 'all five sets as runc sets them').toEqual(status(r.runc))
  })

  it('user 1000 given names this kernel has no capability for, run by a runtime holding groups of the host, beside runc', async () => {
    // Names a newer kernel may have (or a typo): a spec written for another machine carries them.
    const kept = ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN']
    const unknown = ['CAP_FUTURE_41', 'CAP_NET_BIND_SERVIS']
    const hostGroups = [44, 100]
    const r = await underBoth(['id', 'status'], (spec: Spec) => {
      spec.process.user = { uid: 1000, gid: 1000 }
      spec.process.capabilities = { bounding: [...DEFAULT_CAPABILITIES, ...unknown], effective: [...kept, ...unknown], permitted: [...kept, ...unknown], inheritable: [...kept, unknown[0]!], ambient: ['CAP_NET_BIND_SERVICE', unknown[0]!] }
    }, [`--groups=${hostGroups.join(',')}`])
    expectSame(r, `capability names ${unknown.join(' and ')}`, 'what does runc do with a name in process.capabilities that this kernel has no number for, and which of your steps met it first?')
    expect(status(r.ours), `every set as runc makes it for a spec that names ${unknown.join(' and ')}`).toEqual(status(r.runc))
    const groups = (run: Run) => (run.lines.find((l) => 'uid' in l) as { groups?: number[] } | undefined)?.groups
    expect(groups(r.runc), `runc's process: ${r.runc.output}`).toBeDefined()
    expect(groups(r.ours), `the runtime was started holding the host's groups ${hostGroups.join(' and ')}; the container's process holds ${JSON.stringify(groups(r.ours))} where runc's holds ${JSON.stringify(groups(r.runc))}: whose groups are they, and which of your steps decides the groups a process keeps across a change of user?`).toEqual(groups(r.runc))
  })

  it('root with every capability also inheritable (Docker 20.10\'s spec), run by a runtime started with capabilities of its own, beside runc', async () => {
    // Docker before 20.10.14 wrote its 14 capabilities into the inheritable set too. The runtime
    // here is started as a service manager may start a daemon (AmbientCapabilities=).
    const starter = ['--inh-caps', '+net_raw,+sys_admin,+kill', '--ambient-caps', '+net_raw,+sys_admin']
    const r = await underBoth(['id', 'status'], (spec: Spec) => {
      spec.process.capabilities = { bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES, inheritable: DEFAULT_CAPABILITIES, ambient: ['CAP_KILL'] }
    }, starter)
    expectSame(r, 'a runtime started with capabilities of its own')
    expect(status(r.ours)?.CapAmb, `the runtime was started with \`setpriv ${starter.join(' ')}\`; the container's ambient set reads ${status(r.ours)?.CapAmb} where runc's reads ${status(r.runc)?.CapAmb} (capsh --decode): where does each of your ambient capabilities come from, and which of your steps decides the ones the spec does not name? (capabilities(7), "Ambient capability set", and what capset(2) does to it)`).toBe(status(r.runc)?.CapAmb)
    expect(status(r.ours), 'all five sets as runc sets them').toEqual(status(r.runc))
  })

  it('user 1000 asking for an inheritable capability the runtime was started holding only in its inheritable set, beside runc', async () => {
    // A runtime started so: every capability of this machine's bounding set inheritable, all but
    // CAP_SYS_BOOT ambient, and under SECBIT_NOROOT, so that its execve as root grants nothing
    // beyond the ambient set: CAP_SYS_BOOT is inheritable and not permitted, in the runtime and
    // in every process it starts.
    const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`)
    const held = Array.from({ length: 64 }, (_, n) => n).filter((n) => (bounding >> BigInt(n)) & 1n)
    const boot = CAPABILITY_NUMBERS.CAP_SYS_BOOT!
    const caps = (ns: number[]) => ns.map((n) => `+cap_${n}`).join(',')
    const starter = ['--securebits', '+noroot', '--inh-caps', caps(held), '--ambient-caps', caps(held.filter((n) => n !== boot))]
    const r = await underBoth(['id', 'status'], (spec: Spec) => {
      spec.process.user = { uid: 1000, gid: 1000 }
      spec.process.capabilities = { bounding: ['CAP_SYS_BOOT', 'CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_SYS_BOOT', 'CAP_KILL'], ambient: ['CAP_KILL'] }
    }, starter)
    expect(r.runc.code, `runc's own run: ${r.runc.output}`).toBe(0)
    expect(status(r.runc)?.CapInh, 'runc keeps CAP_SYS_BOOT inheritable').toBe('0000000000400020')
    expect({ code: r.ours.code, status: status(r.ours) }, `the runtime was started with \`setpriv ${starter.slice(0, 2).join(' ')} --inh-caps ALL --ambient-caps ALL-BUT-SYS_BOOT\`, so that CAP_SYS_BOOT was inheritable and not permitted when the helper began; runc runs this spec and leaves ${JSON.stringify(status(r.runc))}. What did your steps do to the helper's inheritable set before the capset that asks for CAP_SYS_BOOT, and what does capset(2) require of a capability added to the inheritable set by a process without CAP_SETPCAP? (capabilities(7), "Programmatically adjusting capability sets") Output: ${r.ours.output}`).toEqual({ code: 0, status: status(r.runc) })
  }, 120_000)

  it('no_new_privs and a profile denying mount and unshare, then neither, beside runc', async () => {
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }, { names: ['unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }] }
    const steps = ['status', 'mount-tmpfs:/tmp', 'unshare-user']
    const confined = await underBoth(steps, (spec) => {
      spec.process.noNewPrivileges = true
      spec.linux!.seccomp = profile
    })
    expectSame(confined, 'no_new_privs and a profile')
    expect(status(confined.runc), 'runc').toMatchObject({ NoNewPrivs: '1', Seccomp: '2' })
    expect(status(confined.ours)?.NoNewPrivs, 'NoNewPrivs with process.noNewPrivileges set: expected 1, as under runc (the chapter\'s "no_new_privs")').toBe('1')
    expect(status(confined.ours)?.Seccomp, 'Seccomp 2 means a filter is loaded: was linux.seccomp compiled and loaded?').toBe('2')
    expect(tried(confined.ours, 'mount-tmpfs'), 'mount, denied by SCMP_ACT_ERRNO without errnoRet: expected runc\'s errno').toEqual(tried(confined.runc, 'mount-tmpfs'))
    expect(tried(confined.ours, 'unshare-user'), 'unshare, denied with errnoRet 38: expected ENOSYS, as under runc').toEqual(['ENOSYS'])
    expect(tried(confined.runc, 'unshare-user')).toEqual(['ENOSYS'])
    const unconfined = await underBoth(steps)
    expectSame(unconfined, 'no profile')
    expect([tried(unconfined.ours, 'mount-tmpfs'), tried(unconfined.ours, 'unshare-user')], 'without the profile, root with every capability may mount and unshare').toEqual([[null], [null]])
  })

  it('a profile with Docker\'s 14 capabilities and no no_new_privs, beside runc', async () => {
    const r = await underBoth(['status', 'mount-tmpfs:/tmp'], (spec) => {
      spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }
    })
    expectSame(r, 'a profile without no_new_privs', 'what must a process hold, or have set, to load a filter, and did yours at the moment it loaded it? (seccomp(2), EACCES; the chapter\'s "The order inside the runtime")')
    expect(status(r.ours), `NoNewPrivs 0 and Seccomp 2 as under runc (${JSON.stringify(status(r.runc))}): what must a process hold, or have set, to load a filter, and did yours at the moment it loaded it? (seccomp(2), EACCES)`).toEqual(status(r.runc))
    expect(tried(r.ours, 'mount-tmpfs'), 'mount, denied by the profile with errnoRet 13: expected EACCES').toEqual(['EACCES'])
  })

  it('personality(0x8), (0x20008), (0x100000008) and (0) against a rule denying arg0 >= 0x100, beside runc', async () => {
    const r = await underBoth(['personality:8', 'personality:20008', 'personality:100000008', 'personality:0'], (spec) => {
      spec.process.noNewPrivileges = true
      spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x100, op: 'SCMP_CMP_GE' }] }] }
    })
    expectSame(r, 'a personality condition')
    expect(tried(r.runc, 'personality'), 'runc (libseccomp) compares the whole 64-bit argument').toEqual([null, 'EPERM', 'EPERM', null])
    expect(tried(r.ours, 'personality'), 'expected runc\'s answers (left: yours) — how wide is a system call\'s argument, and how much of it does your filter compare? (seccomp(2), struct seccomp_data)').toEqual(tried(r.runc, 'personality'))
  })

  it('user 1000, no_new_privs, and a profile denying setuid, setgid, setgroups, capset, chdir and prctl, beside runc', async () => {
    const r = await underBoth(['id', 'status'], (spec) => {
      spec.process.user = { uid: 1000, gid: 1000 }
      spec.process.noNewPrivileges = true
      spec.process.capabilities = caps([])
      spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['setuid', 'setgid', 'setgroups', 'capset', 'chdir', 'prctl'], action: 'SCMP_ACT_ERRNO' }] }
    })
    expect(r.runc.code, `runc: ${r.runc.output}`).toBe(0)
    expect(r.ours.code, `minirunc failed where runc ran: a loaded filter judges every later call — which of the runtime's own calls came after your load? (runc's standard_init_linux.go) Output: ${r.ours.output}`).toBe(0)
    expect(r.ours.lines[0]).toMatchObject({ uid: 1000 })
    expect(status(r.ours)).toEqual(status(r.runc))
  })
  it('Docker\'s default profile: a call newer than the profile, an older one it does not name, and the newest it names, beside runc', async () => {
    const profile = dockerProfile(() => true)
    const named = new Set(profile.syscalls!.flatMap((r) => r.names))
    const [newest] = [...named].filter((n) => SYSCALLS_X86_64[n] !== undefined).sort((a, b) => SYSCALLS_X86_64[b]! - SYSCALLS_X86_64[a]!)
    const top = SYSCALLS_X86_64[newest!]!
    // keyctl with zero arguments asks for a keyring's id and changes nothing, should it ever run.
    const older = SYSCALLS_X86_64.keyctl!
    expect(named.has('keyctl') || older > top, 'keyctl must be an older call Docker\'s profile does not name').toBe(false)
    const r = await underBoth([`syscall:${top + 1}`, `syscall:${older}`, `syscall:${top}`], (spec) => {
      spec.process.noNewPrivileges = true
      spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      spec.linux!.seccomp = profile
    })
    expectSame(r, 'Docker\'s default profile')
    const [above, old, highest] = answers(r.ours)
    const [runcAbove, runcOld, runcHighest] = answers(r.runc)
    expect(runcAbove, 'runc').toBe('ENOSYS')
    expect(above, `system call ${top + 1}, one above ${newest} (${top}), the newest call the profile names, gave ${above} (runc: ${runcAbove}): glibc falls back only on ENOSYS — which calls is the profile too old to know? (the chapter's "seccomp: compiling a profile")`).toBe(runcAbove)
    expect(old, `keyctl (${older}), older than ${newest} and named by no rule, gave ${old} (runc: ${runcOld}): the profile forbids it, so its default`).toBe(runcOld)
    expect(highest, `${newest} (${top}), named by the profile, gave ${highest} (runc: ${runcHighest}): a named call keeps its rule's verdict`).toBe(runcHighest)
  })
  it('an older profile whose highest x86_64 call, io_pgetevents, is allowed only with arg0 == 0: that call both ways and the one above it, beside runc', async () => {
    // Docker's profile as one older than rseq (x86_64's 334): x86_64's highest named call is then
    // io_pgetevents, allowed by a conditional rule alone; i386's highest is one of its *_time64
    // calls, which x86_64's table does not have. (x86_64's numbers 335 to 423 are no calls:
    // never tried here.)
    const NEWEST = 'io_pgetevents'
    const below = (n: string) => (SYSCALLS_X86_64[n] ?? 0) < SYSCALLS_X86_64.rseq! && (SYSCALLS_I386[n] ?? 0) < SYSCALLS_X86_64.pidfd_send_signal!
    const old = dockerProfile((n) => below(n) && n !== NEWEST)
    const profile: Seccomp = { ...old, syscalls: [...old.syscalls!, { names: [NEWEST], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 0 }] }] }
    const top = SYSCALLS_X86_64[NEWEST]!
    const i386Top = Math.max(...profile.syscalls!.flatMap((r) => r.names.map((n) => SYSCALLS_I386[n] ?? 0)))
    // io_pgetevents on an AIO context that does not exist, and rseq with nothing to register: EINVAL, should either run.
    const r = await underBoth([`syscall:${top}:0`, `syscall:${top}:4096`, `syscall:${top + 1}`], (spec) => {
      spec.process.noNewPrivileges = true
      spec.process.capabilities = caps(DEFAULT_CAPABILITIES)
      spec.linux!.seccomp = profile
    })
    expectSame(r, `an older profile with a conditional ${NEWEST}`)
    const [pass, fail, above] = answers(r.ours)
    const [runcPass, runcFail, runcAbove] = answers(r.runc)
    const section = 'the chapter\'s "seccomp: compiling a profile"'
    expect([runcFail, runcAbove], 'runc').toEqual(['EPERM', 'ENOSYS'])
    expect(pass, `${NEWEST}(0) (${top}), which its rule allows, gave ${pass} (runc: ${runcPass}, the kernel's own answer): did the call reach its rule? Is a call the profile names only under conditions newer than the profile? (${section})`).toBe(runcPass)
    expect(fail, `${NEWEST}(4096) (${top}), which its rule's condition does not let through, gave ${fail} (runc: ${runcFail}): the profile knows ${NEWEST} — when no rule of a call it names holds, what does runc's filter return? (${section})`).toBe(runcFail)
    expect(above, `system call ${top + 1}, one above ${NEWEST}, the highest x86_64 call the profile names (i386's highest: ${i386Top}), gave ${above} (runc: ${runcAbove}): which calls is the profile too old to know in x86_64 — and does a rule's condition, or another ABI's table, change that? (runc's findLastSyscalls)`).toBe(runcAbove)
  })

  it('no_new_privs and a profile whose rules the kernel cannot take in one filter: create under runc and under minirunc', async () => {
    // personality refused for a long list of single values, a rule of one condition each, as a
    // profile generated from a list of values writes them
    const values = Array.from({ length: 5000 }, (_, i) => 0x1000 + 3 * i)
    const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: values.map((value) => ({ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, op: 'SCMP_CMP_EQ', value }] })) }
    const seen: Record<string, { code: number; output: string; ran: boolean; hung: boolean }> = {}
    for (const runtime of ['runc', 'minirunc'] as const) {
      const dir = tempDir()
      const bundle = probeBundle(join(dir, 'bundle'), ['write:/ran:x'], (spec) => {
        spec.process.noNewPrivileges = true
        spec.linux!.seccomp = profile
      })
      const root = join(dir, 'state')
      const output = join(dir, 'output')
      const id = `minidocker-test-sec-big-${process.pid}-${runtime}`
      const args = ['--root', root, 'create', '--bundle', bundle, id]
      const command = runtime === 'runc' ? ['runc', ...args] : [process.execPath, MINIRUNC, ...args]
      onCleanup(() => (runtime === 'runc' ? execa('runc', ['--root', root, 'delete', '--force', id], { reject: false }) : minirunc(['--root', root, 'delete', '--force', id])))
      // the output into a file: a created container holds its stdio open until it is started
      const fd = openSync(output, 'a')
      let code: number
      let hung: boolean
      try {
        const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', fd, fd], timeout: 30_000 })
        const r = await new Promise<{ exitCode: number | null; timedOut: boolean }>((resolve) => child.on('exit', (exitCode, signal) => resolve({ exitCode, timedOut: exitCode === null && signal === 'SIGTERM' })))
        code = r.exitCode ?? 137
        hung = r.timedOut
      } finally {
        closeSync(fd)
      }
      // a create that was taken is followed by its start, to see what the start meets
      if (code === 0) await (runtime === 'runc' ? execa('runc', ['--root', root, 'start', id], { reject: false }) : minirunc(['--root', root, 'start', id]))
      const text = readFileSync(output, 'utf8')
      rethrowUnwritten(text)
      seen[runtime] = { code, output: text, ran: existsSync(join(bundle, 'rootfs', 'ran')), hung }
    }
    expect(seen.runc!.code, `runc create must refuse this profile: ${seen.runc!.output}`).not.toBe(0)
    expect(seen.runc!.ran).toBe(false)
    expect(seen.minirunc!.code !== 0 && !seen.minirunc!.hung, `runc create refuses a profile of ${values.length} conditional rules on personality under noNewPrivileges (${seen.runc!.output.trim().split('\n').at(-1)}), and minirunc create ${seen.minirunc!.hung ? 'had not returned after 30 s' : 'took it'}: a caller that sees create succeed believes the container will start. What does the kernel refuse to load, whatever the filter says (seccomp(2), EINVAL; linux/filter.h), and what could tell you so before create returns? (the chapter's "The order inside the runtime") Output: ${seen.minirunc!.output}`).toBe(true)
  }, 120_000)
})
