/**
 * User namespaces: the maps written as config.json asks, the container's root an unprivileged
 * id on the host (what it creates, what it cannot read), the rootfs shifted to the range; and
 * the same bundle under runc, which must agree.
 */
import { chownSync, existsSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { enterUserNamespace, remapMappings } from '#ch/13-security/userns.ts'
import { subIdLines, type RemapUser } from '../../lib/subid.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { DEFAULT_MOUNTS, type IdMapping, type Spec } from '../../lib/oci.ts'
import { idMapText } from '../../lib/id-mappings.ts'
import { startHelper } from '../support/helper.ts'
import { waitFor } from '../support/container.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { minirunc, rethrowNotImplemented } from '../support/runtime.ts'
import { HOST_ID, MAPPINGS, shiftBundle, usernsBundle } from '../support/userns.ts'

const ROOT = new URL('../..', import.meta.url).pathname

/** A spec with the tests' mappings for uids and gids. */
const mapped: Spec = { ociVersion: '1.0.2', process: { args: [], env: [], cwd: '/' }, linux: { uidMappings: MAPPINGS, gidMappings: MAPPINGS } }

/** `run` the bundle with minirunc (or runc), the container's output in a file; its probe lines. */
async function run(bundle: string, runtime: 'minirunc' | 'runc' = 'minirunc') {
  const dir = tempDir()
  const output = join(dir, 'output')
  const args = ['--root', join(dir, 'state'), 'run', '--bundle', bundle, 'userns-test']
  if (runtime === 'minirunc') {
    const r = await minirunc(args, { output })
    return { code: r.code, output: r.stdout, lines: probeLines(r.stdout.split('\n').filter((l) => l.startsWith('{')).join('\n')) }
  }
  onCleanup(() => execa('runc', ['--root', join(dir, 'state'), 'delete', '--force', 'userns-test'], { reject: false }))
  const r = await execa('runc', args, { reject: false, stdin: 'ignore', timeout: 60_000 })
  return { code: r.exitCode ?? 137, output: `${r.stdout}${r.stderr}`, lines: probeLines(r.stdout) }
}

describeKernel('the maps, read by the kernel', () => {
  it('enterUserNamespace with two mappings: host files as the kernel shows them to the helper', async () => {
    const mappings = [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 5000, size: 1 }]
    const helper = startHelper()
    let failed = ''
    await enterUserNamespace(helper, { ...mapped, linux: { uidMappings: mappings, gidMappings: mappings } }).catch((error: unknown) => {
      rethrowNotImplemented(String(error))
      failed = String(error)
    })
    // Host files owned by ids of both mappings: the kernel itself says which uid each one has inside.
    const dir = tempDir()
    const owners = [100000, 100000 + 65535, 5000, 0]
    for (const uid of owners) {
      writeFileSync(join(dir, String(uid)), '')
      chownSync(join(dir, String(uid)), uid, 0)
    }
    const map = readFileSync(`/proc/${helper.pid}/uid_map`, 'utf8')
    const seen = failed || (await execa('nsenter', ['--user', '--preserve-credentials', '--target', String(helper.pid), 'stat', '-c', '%u', ...owners.map((uid) => join(dir, String(uid)))])).stdout.split('\n').map(Number)
    expect(seen, `for ${JSON.stringify(mappings)} the helper's uid_map reads ${JSON.stringify(map)} from the host, and host uids ${owners.join(', ')} are these uids inside (65534: unmapped): it differs from what the kernel expects. Compare the fields and their order with user_namespaces(7), "User and group ID mappings", and with /proc/PID/uid_map of a runc container`).toEqual([0, 65535, 65536, 65534])
  })

  it('enterUserNamespace in a helper started holding groups of the host', async () => {
    // The helper inherits the groups of whoever starts it: here two of the host's.
    const hostGroups = [44, 100]
    const saved = process.getgroups!()
    process.setgroups!(hostGroups)
    let helper
    try {
      helper = startHelper()
    } finally {
      process.setgroups!(saved)
    }
    const groupsOf = () => /^Groups:[\t ]*(.*)$/m.exec(readFileSync(`/proc/${helper.pid}/status`, 'utf8'))?.[1]?.trim()
    expect(groupsOf(), 'the helper starts with the host groups it was given').toBe(hostGroups.join(' '))
    await enterUserNamespace(helper, { ...mapped, linux: { uidMappings: MAPPINGS, gidMappings: MAPPINGS } }).catch((error: unknown) => {
      rethrowNotImplemented(String(error))
      throw error
    })
    // runc's init holds no group once it is the namespace's root (nsexec.c), before anything of
    // the container is set up.
    expect(groupsOf(), `after enterUserNamespace the helper still holds groups ${groupsOf()} of the host (inside they show as 65534, yet the kernel checks them against the host's files): which of the helper's ids did entering the namespace leave as they were, and which change of them does the kernel allow only once gid_map is written?`).toBe('')
  })

  it('enterUserNamespace without uidMappings, and without gidMappings', async () => {
    const own = readlinkSync('/proc/self/ns/user')
    const cases: [string, Spec['linux']][] = [['uid', { gidMappings: MAPPINGS }], ['gid', { uidMappings: MAPPINGS, gidMappings: [] }]]
    for (const [kind, linux] of cases) {
      const helper = startHelper()
      let error: unknown
      await enterUserNamespace(helper, { ...mapped, linux }).catch((e: unknown) => (error = e))
      rethrowNotImplemented(String(error))
      expect(error, `no ${kind} mapping must be a ContainerError, not an empty map`).toBeInstanceOf(ContainerError)
      expect((error as ContainerError).message).toContain(`linux.${kind}Mappings`)
      expect(readlinkSync(`/proc/${helper.pid}/ns/user`), `the helper was moved into a user namespace of its own before its ${kind}Mappings were found missing: what can be refused before anything changes?`).toBe(own)
    }
  })

  it('enterUserNamespace with mappings the kernel refuses to take as a map', async () => {
    // A process in a user namespace of its own, its maps unwritten: the kernel judges each text.
    const judge = execa('unshare', ['--user', 'sleep', '600'], { reject: false })
    onCleanup(() => judge.kill('SIGKILL'))
    expect(await waitFor(() => readlinkSync(`/proc/${judge.pid}/ns/user`) !== readlinkSync('/proc/self/ns/user'), 30_000), 'unshare -U did not start').toBe(true)
    const many = (n: number, host: (i: number) => number) => Array.from({ length: n }, (_, i) => ({ containerID: i, hostID: host(i), size: 1 }))
    const cases: ['uid' | 'gid', IdMapping[]][] = [
      ['gid', [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65535, hostID: 300000, size: 10 }]],
      ['gid', [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 165535, size: 10 }]],
      ['uid', many(341, (i) => 1000 + i)],
      ['uid', many(300, (i) => 3_000_000_000 + i)],
      ['gid', [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 200000, size: 0 }]],
      ['uid', [{ containerID: 0, hostID: 4_294_900_000, size: 67296 }]],
    ]
    // Each case by its data alone: container id, host id and size of each range (the first and last of a long list).
    const range = (m: IdMapping) => `${m.containerID}:${m.hostID}:${m.size}`
    const shape = (ms: IdMapping[]) => ms.length > 3 ? `${ms.length} ranges, ${range(ms[0]!)} … ${range(ms.at(-1)!)}` : ms.map(range).join(' and ')
    const own = readlinkSync('/proc/self/ns/user')
    for (const [kind, mappings] of cases) {
      const what = shape(mappings)
      let refused = ''
      try {
        writeFileSync(`/proc/${judge.pid}/${kind}_map`, idMapText(mappings))
      } catch (error) {
        refused = (error as NodeJS.ErrnoException).code ?? String(error)
      }
      expect(refused, `the kernel itself must refuse ${what} as a ${kind}_map`).not.toBe('')
      const linux = { uidMappings: MAPPINGS, gidMappings: MAPPINGS, [`${kind}Mappings`]: mappings }
      const helper = startHelper()
      let error: unknown
      await enterUserNamespace(helper, { ...mapped, linux }).catch((e: unknown) => (error = e))
      rethrowNotImplemented(String(error))
      expect(readlinkSync(`/proc/${helper.pid}/ns/user`), `${kind}Mappings with ${what}, which the kernel refuses as a ${kind}_map (${refused}): the helper was moved into a new user namespace before that was found, and a runtime cannot take the move back. Which maps does the kernel refuse (user_namespaces(7), on writing the maps; kernel/user_namespace.c's map_write), and which of its rules can be checked before anything changes?`).toBe(own)
      expect(error, `${kind}Mappings with ${what} must be a ContainerError`).toBeInstanceOf(ContainerError)
      expect((error as ContainerError).message, `the refusal of ${what} must name the spec's field`).toContain(`linux.${kind}Mappings`)
    }
  })

  it('enterUserNamespace in a runtime that itself runs in a user namespace of its own (unshare -r)', async () => {
    // The runtime's first steps, in a process of its own started under `unshare --user
    // --map-root-user`, as a rootless set-up or a runtime inside a container starts it.
    const nested = async (linux: Spec['linux']) => {
      const r = await execa('unshare', ['--user', '--map-root-user', process.execPath, '-e', `require(${JSON.stringify(join(ROOT, 'bin/start.cjs'))}).start('nested-runtime', 'test/13-security/nested-runtime.ts')`, JSON.stringify(linux)], { reject: false, stdin: 'ignore', timeout: 60_000, cwd: ROOT })
      const seen = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { notImplemented?: string; error?: string; containerError?: boolean; moved?: boolean }
      if (seen.notImplemented) throw new NotImplementedError('13-security', 'enterUserNamespace')
      expect(seen.moved, `the runtime under unshare -r did not report: ${r.stdout}${r.stderr}`).toBeTypeOf('boolean')
      return seen
    }
    const own = readFileSync('/proc/self/uid_map', 'utf8')
    expect(own.trim().split(/\s+/), 'the tests run in the host\'s user namespace').toEqual(['0', '0', '4294967295'])
    // Under unshare -r the runtime's namespace maps its root onto ours and nothing else.
    const one = [{ containerID: 0, hostID: 0, size: 1 }]
    const taken = await nested({ uidMappings: one, gidMappings: one })
    expect(taken.error, `a runtime started under unshare -r, its own namespace mapping only its root, could not give the helper a user namespace mapping that same root (uid and gid 0 to 0): ${taken.error}. What does the namespace the runtime starts in decide for every namespace created below it, and what does runc's setupUser (libcontainer/init_linux.go) read before it touches the groups? (user_namespaces(7))`).toBeUndefined()
    expect(taken.moved).toBe(true)
    const wide = [...one, { containerID: 1, hostID: 100000, size: 65536 }]
    const refused = await nested({ uidMappings: wide, gidMappings: one })
    expect(refused.moved, `uidMappings ${wide.map((m) => `${m.containerID}:${m.hostID}:${m.size}`).join(' and ')}, given to a runtime started under unshare -r, passed every check of yours and the helper was moved into a new user namespace before the kernel refused the map (${refused.error}). Whose ids are a map's host ids, and which of them can the runtime hand on? (user_namespaces(7), "Defining user and group ID mappings"; kernel/user_namespace.c's map_write)`).toBe(false)
    expect(refused.containerError, `the refusal must be a ContainerError: ${refused.error}`).toBe(true)
    expect(refused.error, 'the refusal must name the spec\'s field').toContain('linux.uidMappings')
  }, 120_000)

  it('enterUserNamespace with maps the kernel takes, container id 0 in them or not, beside runc', async () => {
    const own = readlinkSync('/proc/self/ns/user')
    // [the field, its mappings, whether container id 0 is in them]
    const cases: ['uid' | 'gid', IdMapping[], boolean][] = [
      ['uid', [{ containerID: 1, hostID: HOST_ID + 1, size: 65535 }], false],
      ['gid', [{ containerID: 5, hostID: HOST_ID + 5, size: 100 }], false],
      ['uid', [{ containerID: 1, hostID: HOST_ID + 1, size: 65535 }, { containerID: 0, hostID: HOST_ID, size: 1 }], true],
    ]
    for (const [kind, mappings, rooted] of cases) {
      const what = `${kind}Mappings ${mappings.map((m) => `${m.containerID}:${m.hostID}:${m.size}`).join(' and ')}`
      const linux = { uidMappings: MAPPINGS, gidMappings: MAPPINGS, [`${kind}Mappings`]: mappings }
      const b = usernsBundle(tempDir(), ['id'], true, (spec) => Object.assign(spec.linux!, linux))
      if (rooted) await shiftBundle(b)
      const theirs = await run(b.bundle, 'runc')
      expect(theirs.code === 0, `runc's own run with ${what}: ${theirs.output}`).toBe(rooted)
      const helper = startHelper()
      let error: unknown
      await enterUserNamespace(helper, { ...mapped, linux }).catch((e: unknown) => (error = e))
      rethrowNotImplemented(String(error))
      if (rooted) {
        expect(error, `${what}, which runc runs (its process: ${JSON.stringify(theirs.lines[0])}), failed: where in the list is the container's id 0?`).toBeUndefined()
        expect(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${helper.pid}/status`, 'utf8'))?.[1], `${what}: the helper must be the namespace's root, host uid ${HOST_ID}`).toBe(String(HOST_ID))
        continue
      }
      expect(readlinkSync(`/proc/${helper.pid}/ns/user`), `${what}: the kernel takes this map, runc refuses the spec before it starts anything (${theirs.output.trim()}), and your helper was moved into a new user namespace before it was refused, if it was. What will the helper be asked to become in the new namespace, and can it?`).toBe(own)
      expect(error, `${what} must be a ContainerError, as runc refuses it`).toBeInstanceOf(ContainerError)
      expect((error as ContainerError).message, `the refusal of ${what} must name the spec's field`).toContain(`linux.${kind}Mappings`)
    }
  }, 120_000)
})


/** What remapMappings throws for `user` and the two files' texts (NotImplementedError rethrown). */
function remapError(user: RemapUser, subuid: string, subgid: string): string {
  try {
    remapMappings(user, { path: '/etc/subuid', text: subuid }, { path: '/etc/subgid', text: subgid })
  } catch (error) {
    rethrowNotImplemented(String(error))
    return (error as Error).message
  }
  return 'no error'
}

describe('--userns-remap: the ranges of /etc/subuid and /etc/subgid', () => {
  const remap = { name: 'remap', uid: 1500, group: { name: 'remapgrp', gid: 1700 } }
  const files = (subuid: string, subgid: string) => remapMappings(remap, { path: '/etc/subuid', text: subuid }, { path: '/etc/subgid', text: subgid })
  /** The question every test here asks, with the files it was asked of. */
  const which = (what: string) => `${what} (left: yours) — of the lines that may name user remap (uid 1500), which count, in which file, and in which order? Decide it from dockerd 20.10's own source, then try the same files under dockerd (the chapter's "--userns-remap in your daemon")`

  it('a user with lines under its uid and under its name in /etc/subuid, under its name alone in /etc/subgid, among other users\' lines', () => {
    const subuid = [
      '# subordinate uids', 'remapper:100000:65536', 'remap:600000:65536', '15000:200000:65536', '1500:500000:1000', '150:700000:65536', '', '1500:300000:65536', 'remap:800000:10', '',
    ].join('\n')
    const subgid = ['remapper:100000:65536', '1600:900000:65536', 'remap:400000:65536', '15:750000:65536', 'remap:470000:100', ''].join('\n')
    expect(remapError(remap, subuid, subgid), which(`the files\n/etc/subuid:\n${subuid}/etc/subgid:\n${subgid}gave an error`)).toBe('no error')
    const r = files(subuid, subgid)
    // Which lines count is dockerd's to say (remap.test.ts runs it); here only what any answer must be.
    const layout = 'where inside the container does each range start, and how many ids does each line give? No container id may be mapped twice, and none skipped (subuid(5); user_namespaces(7))'
    for (const [kind, text, mappings] of [['subuid', subuid, r.uidMappings], ['subgid', subgid, r.gidMappings]] as const) {
      const owners = [remap.name, String(remap.uid), remap.group.name, String(remap.group.gid)]
      const candidates = subIdLines({ path: `/etc/${kind}`, text }).filter((l) => owners.includes(l.owner))
      expect(mappings.length > 0 && mappings.every((m) => candidates.some((l) => l.start === m.hostID && l.count === m.size)), which(`each mapping for /etc/${kind} must be one line of the user's or its group's, its START and COUNT as written; yours: ${JSON.stringify(mappings)}`)).toBe(true)
      let next = 0
      const gaps = mappings.filter((m) => { const bad = m.containerID !== next; next = m.containerID + m.size; return bad })
      expect(gaps, `${kind}: the mappings whose containerID is not where the one before ends (the first at 0) — ${layout}`).toEqual([])
    }
  })

  it('a user under its name alone in /etc/subuid and under its uid alone in /etc/subgid', () => {
    const subuid = 'other:100000:65536\nremap:300000:65536\n'
    const subgid = '1500:400000:65536\nremapper:500000:65536\n'
    expect(remapError(remap, subuid, subgid), which(`the files\n/etc/subuid:\n${subuid}/etc/subgid:\n${subgid}gave an error`)).toBe('no error')
    const r = files(subuid, subgid)
    expect(r.uidMappings, which('uidMappings')).toEqual([{ containerID: 0, hostID: 300000, size: 65536 }])
    expect(r.gidMappings, which('gidMappings')).toEqual([{ containerID: 0, hostID: 400000, size: 65536 }])
  })

  it('no subuid range, no subgid range, a line of two fields, a START that is not a number', () => {
    expect(remapError(remap, 'other:100000:65536\nremapper:1:1\n15000:1:1\n', 'remap:1:1\n'), 'a user without a subuid range').toMatch(/no subuid ranges found for user "remap".*\/etc\/subuid/)
    expect(remapError(remap, 'remap:1:1\n', '# none\n'), 'a user without a subgid range').toMatch(/no subgid ranges found for user "remap".*\/etc\/subgid/)
    expect(remapError(remap, 'remap:1:1\nremap:300000\n', 'remap:1:1\n'), 'a line of two fields: the file, the line number and the line').toMatch(/\/etc\/subuid.*line 2.*remap:300000/)
    expect(remapError(remap, 'remap:1:1\n', 'remap:x:1\n'), 'a START that is not a number').toMatch(/\/etc\/subgid.*line 1.*remap:x:1/)
  })
})

describeKernel('a container in a user namespace', () => {
  it('a bundle mapping 0 to 300000 for 65536 ids, beside runc', async () => {
    const dir = tempDir()
    const b = usernsBundle(dir, ['id', 'cat:/proc/self/uid_map', 'cat:/proc/self/gid_map', 'write:/shared/made:x', 'write:/made:x', 'cat:/proc/self/status', 'cat:/proc/self/setgroups', 'cat:/hostsecret/secret'])
    await shiftBundle(b)
    const ours = await run(b.bundle)
    const made = existsSync(join(b.shared, 'made')) ? statSync(join(b.shared, 'made')) : undefined
    rmSync(join(b.shared, 'made'), { force: true })
    const theirs = await run(b.bundle, 'runc')
    expect(theirs.lines.slice(0, 3), `runc's own run of the bundle: ${theirs.output}`).toEqual([{ uid: 0, gid: 0, groups: [] }, { cat: expect.stringMatching(/^\s*0\s+300000\s+65536\n$/) }, { cat: expect.stringMatching(/^\s*0\s+300000\s+65536\n$/) }])
    expect(ours.lines[0], `the container's process must be root of its namespace (uid 0, gid 0, no groups); it printed: ${ours.output} — which ids does the helper hold inside the new namespace, and which changes of them does the kernel allow, and when? (user_namespaces(7); the chapter's "The maps, and who writes them")`).toEqual({ uid: 0, gid: 0, groups: [] })
    expect(ours.lines.slice(1, 3), `the maps must be what runc writes for the same config.json; saw: ${ours.output}`).toEqual(theirs.lines.slice(1, 3))
    expect(made?.uid, `a file the container's root made in a bind mount is owned by ${made?.uid} on the host, expected ${HOST_ID} — which host uid did the process that made it have?`).toBe(HOST_ID)
    expect(ours.lines[4], `the container's root must be able to write to its own, shifted, rootfs; saw: ${ours.output}`).toEqual({ wrote: '/made' })
    const ids = (line: unknown) => String((line as { cat?: string })?.cat).split('\n').filter((l) => /^(Uid|Gid|Groups):/.test(l))
    expect(ids(theirs.lines[5]), `runc's /proc/self/status: ${theirs.output}`).toHaveLength(3)
    expect(ids(ours.lines[5]), '/proc/self/status\'s Uid, Gid and Groups inside must be what runc\'s process has').toEqual(ids(theirs.lines[5]))
    expect(ours.lines[6], `/proc/self/setgroups inside must read as under runc (${JSON.stringify(theirs.lines[6])}): what did your runtime write there, and which calls of the container's processes does it forbid for good? (user_namespaces(7), "The /proc/[pid]/setgroups file")`).toEqual(theirs.lines[6])
    expect(ours.lines[7], `a 0600 file of the host's root must stay unreadable to the container's root, as under runc (${JSON.stringify(theirs.lines[7])}); saw: ${ours.output}`).toMatchObject({ step: 'cat', errno: 'EACCES' })
    expect(theirs.lines[7]).toMatchObject({ step: 'cat', errno: 'EACCES' })
  })

  it('exec into a running container with a user namespace, writing into a bind mount', async () => {
    const dir = tempDir()
    const b = usernsBundle(dir, ['sleep:60000'])
    await shiftBundle(b)
    const state = join(dir, 'state')
    const output = join(dir, 'output')
    onCleanup(() => minirunc(['--root', state, 'delete', '--force', 'exec-test']))
    const created = await minirunc(['--root', state, 'create', '--bundle', b.bundle, 'exec-test'], { output })
    expect(created.code, `create failed: ${created.stdout}`).toBe(0)
    expect((await minirunc(['--root', state, 'start', 'exec-test'])).code).toBe(0)
    const exec = await minirunc(['--root', state, 'exec', 'exec-test', '/bin/probe', 'id', 'write:/shared/by-exec:x'])
    expect(probeLines(exec.stdout)[0], `exec's process must be root of the container's user namespace: ${exec.stdout}${exec.stderr}`).toEqual({ uid: 0, gid: 0, groups: [] })
    const made = statSync(join(b.shared, 'by-exec'))
    expect(made.uid, `a file exec's process made is owned by ${made.uid} on the host, expected ${HOST_ID} — which of the container's namespaces did exec's process join, and in which order? (setns(2), on user namespaces)`).toBe(HOST_ID)
  })

  it('a /dev tmpfs in a user namespace, beside runc', async () => {
    const steps = ['stat:/dev/null', 'stat:/dev/zero', 'stat:/dev/tty', 'write:/dev/null:x']
    const b = usernsBundle(tempDir(), steps, true, (spec) => spec.mounts!.unshift(...DEFAULT_MOUNTS.filter((m) => m.destination.startsWith('/dev'))))
    await shiftBundle(b)
    const theirs = await run(b.bundle, 'runc')
    expect(theirs.lines.length, `runc's own run of the bundle: ${theirs.output}`).toBe(steps.length)
    expect(theirs.lines[0], 'runc\'s /dev/null: 1:3, owned by nobody inside').toMatchObject({ rdev: [1, 3], uid: 65534 })
    const ours = await run(b.bundle)
    expect(ours.code, `the container must run with a /dev tmpfs in its user namespace: ${ours.output} — which of the runtime's steps needs a privilege the namespace's root lacks, and how does runc do without it? (chapter 03's createDevices; runc's libcontainer/rootfs_linux.go)`).toBe(0)
    expect(ours.lines, 'the nodes, their owners and modes, and a write to /dev/null, as under runc').toEqual(theirs.lines)
  })

  it('breakout: the host\'s 0600 file, read by the container\'s root without and with a user namespace', async () => {
    const dir = tempDir()
    const without = usernsBundle(join(dir, 'a'), ['cat:/hostsecret/secret'], false)
    const open = await run(without.bundle)
    expect(open.lines[0], `without a user namespace, root in the container is root on the host: ${open.output}`).toEqual({ cat: 'host secret\n' })
    const within = usernsBundle(join(dir, 'b'), ['cat:/hostsecret/secret'])
    await shiftBundle(within)
    const closed = await run(within.bundle)
    expect(closed.lines[0], `with a user namespace the host's root-only file must be out of reach (EACCES); saw: ${closed.output} — is the process still host uid 0?`).toMatchObject({ step: 'cat', errno: 'EACCES' })
  })

  it('a user namespace over a rootfs left unshifted', async () => {
    const b = usernsBundle(tempDir(), ['stat:/', 'write:/made:x'], true, (spec) => (spec.mounts = spec.mounts!.filter((m) => m.type !== 'bind')))
    // runc too fails in the rootfs: it cannot create its device nodes there.
    const theirs = await run(b.bundle, 'runc')
    expect({ code: theirs.code, denied: /permission denied/.test(theirs.output) }, theirs.output).toEqual({ code: 1, denied: true })
    // Ours writes nothing into the rootfs before exec (pivot_root as runc does it, no device
    // nodes in this bundle), so it is the program that finds the rootfs nobody's.
    const ours = await run(b.bundle)
    expect(ours.code, `the container must fail: its root cannot write to an unshifted rootfs; saw: ${ours.output}`).not.toBe(0)
    expect(ours.output, 'the rootfs must show as nobody\'s (65534) inside, and a write to it be refused with EACCES').toMatch(/"uid":65534[\s\S]*"step":"write".*"errno":"EACCES"/)
  })
})
