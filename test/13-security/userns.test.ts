/**
 * User namespaces: the maps written as config.json asks, the container's root an unprivileged
 * id on the host (what it creates, what it cannot read), the rootfs shifted to the range; and
 * the same bundle under runc, which must agree.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { enterUserNamespace, hostId, remapMappings, shiftOwnership } from '#ch/13-security/userns.ts'
import { ContainerError } from '../../lib/errors.ts'
import { DEFAULT_MOUNTS, type IdMapping, type Spec } from '../../lib/oci.ts'
import { PROBE_PATH, type SyscallError } from '../../native/helper.ts'
import { startHelper } from '../support/helper.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { waitFor } from '../support/container.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { minirunc, rethrowNotImplemented } from '../support/runtime.ts'
import { HOST_ID, MAPPINGS, shiftBundle, usernsBundle } from '../support/userns.ts'

/** A spec with the tests' mappings for uids and gids, for shiftOwnership. */
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

/** A process in a user namespace of its own (util-linux's unshare), not mapped yet: its PID. */
async function userNamespaceHolder(): Promise<number> {
  const holder = execa('unshare', ['--user', 'sleep', '60'], { reject: false })
  onCleanup(async () => {
    holder.kill('SIGKILL')
    await holder
  })
  const own = readlinkSync('/proc/self/ns/user')
  expect(await waitFor(() => { try { return readlinkSync(`/proc/${holder.pid}/ns/user`) !== own } catch { return false } }, 10_000), 'unshare --user did not start').toBe(true)
  return holder.pid!
}

/** A user namespace mapped as `mappings` (uids and gids alike), the maps written here, not by the code under test: its holder's PID. */
async function mappedNamespace(mappings: IdMapping[]): Promise<number> {
  const pid = await userNamespaceHolder()
  const text = mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('')
  for (const map of ['uid_map', 'gid_map']) writeFileSync(`/proc/${pid}/${map}`, text)
  return pid
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
})

describe('the host ids of container ids', () => {
  it('hostId of ids 0, 999, 1000 and 1001 under two mappings', () => {
    const mappings = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 1000, hostID: 7, size: 1 }]
    expect(hostId(0, mappings)).toBe(100000)
    expect(hostId(999, mappings), 'the last id of a range').toBe(100999)
    expect(hostId(1000, mappings), 'the second mapping').toBe(7)
    expect(hostId(1001, mappings), '1001, past both mappings').toBeUndefined()
  })
})

/** What remapMappings throws for `user` and the two files' texts (NotImplementedError rethrown). */
function remapError(user: { name: string; uid: number }, subuid: string, subgid: string): string {
  try {
    remapMappings(user, { path: '/etc/subuid', text: subuid }, { path: '/etc/subgid', text: subgid })
  } catch (error) {
    rethrowNotImplemented(String(error))
    return (error as Error).message
  }
  return 'no error'
}

describe('--userns-remap: the ranges of /etc/subuid and /etc/subgid', () => {
  const remap = { name: 'remap', uid: 1500 }
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
    expect(r.uidMappings.map((m) => m.hostID), which(`the host ranges of uidMappings, by their starts, for /etc/subuid:\n${subuid}`)).toEqual([500000, 300000])
    expect(r.gidMappings.map((m) => m.hostID), which(`the host ranges of gidMappings, by their starts, for /etc/subgid:\n${subgid}`)).toEqual([400000, 470000])
    const layout = 'where inside the container does each range start, and how many ids does each line give? No container id may be mapped twice, and none skipped (subuid(5); user_namespaces(7))'
    expect(r.uidMappings, `uidMappings (left: yours) — ${layout}`).toEqual([{ containerID: 0, hostID: 500000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 65536 }])
    expect(r.gidMappings, `gidMappings (left: yours) — ${layout}`).toEqual([{ containerID: 0, hostID: 400000, size: 65536 }, { containerID: 65536, hostID: 470000, size: 100 }])
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
  it('shiftOwnership of a tree with a directory, a dangling symlink, a file of uid 1000 and files of other modes', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'etc'))
    writeFileSync(join(dir, 'etc', 'passwd'), '')
    symlinkSync('/nowhere', join(dir, 'link'))
    writeFileSync(join(dir, 'user-file'), '')
    chownSync(join(dir, 'user-file'), 1000, 1000)
    const modes = [['su', 0o4755], ['wall', 0o2755]] as const
    for (const [name, mode] of modes) {
      writeFileSync(join(dir, name), '')
      chmodSync(join(dir, name), mode)
    }
    await shiftOwnership(dir, mapped, startHelper())
    for (const [path, uid] of [['', HOST_ID], ['etc', HOST_ID], ['etc/passwd', HOST_ID], ['link', HOST_ID], ['user-file', HOST_ID + 1000]] as const) {
      const stat = lstatSync(join(dir, path))
      expect(stat.uid, `${path || '/'}: owned by ${stat.uid}, expected ${uid} — was every file reached, the root directory included, and was it the file itself that changed owner? (chown(2), on symbolic links)`).toBe(uid)
      expect(stat.gid, `${path || '/'}: the group is shifted too`).toBe(uid)
    }
    for (const [name, mode] of modes) {
      const kept = lstatSync(join(dir, name)).mode & 0o7777
      expect(kept.toString(8), `${name}: mode ${mode.toString(8)} became ${kept.toString(8)} — which of its bits did your shift change, and which call was it? (stat(1) before and after each step)`).toBe(mode.toString(8))
    }
  })

  it('shiftOwnership of two hard links to a setgid program with cap_net_raw, beside a symlink to a host file that has it too', async () => {
    const dir = tempDir()
    chmodSync(dir, 0o755) // the programs run as uid HOST_ID + 1000, inside the namespace and on the host
    const tree = join(dir, 'tree')
    mkdirSync(join(tree, 'bin'), { recursive: true })
    const [ping, link, hostFile, kernels] = [join(tree, 'bin', 'ping'), join(tree, 'bin', 'ping-link'), join(dir, 'host-ping'), join(dir, 'kernels-ping')]
    for (const file of [ping, hostFile, kernels]) copyFileSync(PROBE_PATH, file)
    chmodSync(ping, 0o2755)
    linkSync(ping, link)
    symlinkSync(hostFile, join(tree, 'bin', 'host'))
    for (const file of [ping, hostFile]) await execa('setcap', ['cap_net_raw+ep', file])
    // What the kernel itself stores when the container's root gives a file of its own the same capability.
    const ns = await mappedNamespace(MAPPINGS)
    chownSync(kernels, HOST_ID, HOST_ID)
    await execa('nsenter', ['--user', '--target', String(ns), 'setcap', 'cap_net_raw+ep', kernels])
    const helper = startHelper()
    const caps = (path: string) => helper.getxattrBytes(path, 'security.capability').then((b) => b.toString('hex'), (e: SyscallError) => e.code)
    const hostBefore = await caps(hostFile)
    let failed = ''
    await shiftOwnership(tree, mapped, helper).catch((error: unknown) => {
      rethrowNotImplemented(String(error))
      failed = String(error)
    })
    expect(failed, 'shiftOwnership must shift a tree where one inode has two names, bin/ping and bin/ping-link — how many times may one inode be shifted, and what does a second shift find as its owner?').toBe('')
    for (const path of [ping, link]) {
      const stat = lstatSync(path)
      expect([stat.uid, stat.gid, (stat.mode & 0o7777).toString(8)], `${path}: owner, group and mode (left: yours) — which of them did the chown change, and what did you read before it?`).toEqual([HOST_ID, HOST_ID, '2755'])
    }
    const theirs = await caps(kernels)
    const ours = await caps(ping)
    expect(ours, ours === 'ENODATA'
      ? `bin/ping has no security.capability after the shift: what else did the chown take away with the owner, even from root, and what must you have read before it? (chown(2); capabilities(7), "File capabilities"; the chapter's "The rootfs must belong to the range")`
      : `bin/ping's security.capability after the shift is ${ours}, where the kernel stores ${theirs} when the container's root gives a file the same capability in its namespace: which revision does the kernel write for a user namespace's root, and whose host uid does it carry? (capabilities(7), "File capability extended attribute versioning"; linux/capability.h)`).toBe(theirs)
    // The capability as an exec grants it: to container uid 1000 inside, and to the same id on the host.
    const capPrm = async (args: string[]) => (probeLines((await execa(args[0]!, [...args.slice(1), 'status'])).stdout)[0] as { status: { CapPrm: string } }).status.CapPrm
    const inside = (file: string) => capPrm(['nsenter', '--user', '--target', String(ns), '--setuid', '1000', '--setgid', '1000', file])
    const onHost = (file: string) => capPrm(['setpriv', `--reuid=${HOST_ID + 1000}`, `--regid=${HOST_ID + 1000}`, '--clear-groups', file])
    expect(await inside(ping), 'CapPrm of bin/ping run by uid 1000 inside the container\'s namespace (right: the kernel\'s own file) — is the capability there, and for which root?').toBe(await inside(kernels))
    expect(await onHost(ping), `CapPrm of bin/ping run by host uid ${HOST_ID + 1000}, outside the namespace (right: the kernel's own file) — whose capability does your attribute say it is, and who on the host may use it then?`).toBe(await onHost(kernels))
    const host = lstatSync(hostFile)
    expect([host.uid, await caps(hostFile)], 'the host file the tree\'s symlink names must keep its owner and its capability').toEqual([0, hostBefore])
  })

  it('a bundle mapping 0 to 300000 for 65536 ids, beside runc', async () => {
    const dir = tempDir()
    const b = usernsBundle(dir, ['id', 'cat:/proc/self/uid_map', 'cat:/proc/self/gid_map', 'write:/shared/made:x', 'write:/made:x', 'cat:/proc/self/status', 'cat:/hostsecret/secret'])
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
    expect(ours.lines[6], `a 0600 file of the host's root must stay unreadable to the container's root, as under runc (${JSON.stringify(theirs.lines[6])}); saw: ${ours.output}`).toMatchObject({ step: 'cat', errno: 'EACCES' })
    expect(theirs.lines[6]).toMatchObject({ step: 'cat', errno: 'EACCES' })
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
