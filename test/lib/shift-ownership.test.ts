/**
 * The given code of chapter 13's user namespaces (lib/id-mappings.ts, lib/shift-ownership.ts):
 * where a container id lands on the host, and a tree's owners shifted into a container's range,
 * what chown(2) takes away put back, as the kernel itself would store it in the namespace.
 */
import { chmodSync, chownSync, copyFileSync, linkSync, lstatSync, mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { hostId } from '../../lib/id-mappings.ts'
import type { IdMapping, Spec } from '../../lib/oci.ts'
import { shiftOwnership } from '../../lib/shift-ownership.ts'
import { PROBE_PATH, type SyscallError } from '../../native/helper.ts'
import { waitFor } from '../support/container.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { startHelper } from '../support/helper.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { HOST_ID, MAPPINGS } from '../support/userns.ts'

/** A spec with the tests' mappings for uids and gids. */
const mapped: Spec = { ociVersion: '1.0.2', process: { args: [], env: [], cwd: '/' }, linux: { uidMappings: MAPPINGS, gidMappings: MAPPINGS } }

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

describe('the host ids of container ids', () => {
  it('hostId of ids 0, 999, 1000 and 1001 under two mappings', () => {
    const mappings = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 1000, hostID: 7, size: 1 }]
    expect(hostId(0, mappings)).toBe(100000)
    expect(hostId(999, mappings), 'the last id of a range').toBe(100999)
    expect(hostId(1000, mappings), 'the second mapping').toBe(7)
    expect(hostId(1001, mappings), '1001, past both mappings').toBeUndefined()
  })
})

describeKernel('shiftOwnership', () => {
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
    await shiftOwnership(tree, mapped, helper).catch((error: unknown) => (failed = String(error)))
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
})
