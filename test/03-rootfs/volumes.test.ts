/**
 * Volume destinations belong to the image's file tree, which an attacker may have filled with
 * symlinks: every mount point is resolved inside the rootfs as if it were "/", and nothing is
 * ever created outside it.
 */
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { DEFAULT_MOUNTS, type Spec } from '../../lib/oci.ts'
import { setupRootfs } from '../../lib/rootfs-setup.ts'
import { parseVolume } from '../../lib/volumes.ts'
import { probeSpec, runCaptured } from '../support/container.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { tempRootfs } from '../support/rootfs.ts'

describeKernel('volume destinations through the image\'s symlinks', () => {
  it('an absolute symlink, a relative one that climbs out, a symlinked parent', async () => {
    const rootfs = tempRootfs()
    const canary = tempDir() // host folders the image's symlinks aim at, as they would at /etc
    for (const dir of ['a', 'r', 't']) mkdirSync(join(canary, dir))
    const host = tempDir()
    writeFileSync(join(host, 'in.txt'), 'volume\n')
    const depth = '../'.repeat(rootfs.split('/').length + 2)
    symlinkSync(`${canary}/a`, join(rootfs, 'abs')) // an absolute target
    symlinkSync(`${depth}${canary.slice(1)}/r`, join(rootfs, 'rel')) // a relative one that climbs out
    mkdirSync(join(rootfs, 'srv'))
    symlinkSync(`${canary}/t`, join(rootfs, 'srv', 'top')) // a parent of the destination
    const spec: Spec = probeSpec(['cat:/abs/in.txt', 'cat:/rel/in.txt', 'cat:/srv/top/deep/in.txt'], ['pid', 'ipc', 'uts', 'mount'], '/bin/probe')
    spec.root = { path: rootfs }
    spec.mounts = [...DEFAULT_MOUNTS, ...['/abs', '/rel', '/srv/top/deep'].map((d) => parseVolume(`${host}:${d}:ro`))]
    const run = await runCaptured(spec, async (h) => {
      await enterNamespaces(h, spec)
      await setupRootfs(h, spec)
    }).catch((error: Error) => error)
    for (const dir of ['a', 'r', 't'])
      expect(readdirSync(join(canary, dir)), 'a mount point was created on the host through the image\'s symlink: where does the symlink lead when the rootfs is "/"? (your secureJoin; the chapter\'s "Mount points the image chose")').toEqual([])
    if (run instanceof NotImplementedError) throw run
    if (run instanceof Error) throw new Error(`the container did not start: ${run.message}; was the mount point resolved inside the rootfs?`)
    const { code, stdout, stderr } = run
    expect(code, stderr).toBe(0)
    expect(probeLines(stdout).map((l) => l.cat), 'cat of the volume\'s file through each symlink, in the container').toEqual(['volume\n', 'volume\n', 'volume\n'])
    for (const made of ['a', 'r', 't/deep'])
      expect(lstatSync(join(rootfs, canary.slice(1), made)).isDirectory(), `is there a directory ${made} inside the rootfs, where the symlink leads from its /?`).toBe(true)
  })
})
