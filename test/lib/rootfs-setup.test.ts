/**
 * What lib/rootfs-setup.ts (given to chapter 03) does on its own, before any of the chapter's
 * functions runs: the refusal of a spec without a mount namespace, and chroot, the old way,
 * escaped (chapter 03's exercise).
 */
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect, it } from 'vitest'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import { ContainerError } from '../../lib/errors.ts'
import { DEFAULT_MOUNTS, type Spec } from '../../lib/oci.ts'
import { chrootInto, setupRootfs } from '../../lib/rootfs-setup.ts'
import { probeSpec, runCaptured } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { mountNamespace } from '../support/mountns.ts'
import { probeValue } from '../support/probe.ts'
import { tempRootfs } from '../support/rootfs.ts'

/** A stand-in host (chapter 03's "Check your work") with a probe image on a tmpfs of its own, and a spec that runs `steps` in it. */
async function staged(steps: string[]): Promise<{ host: Awaited<ReturnType<typeof mountNamespace>>; rootfs: string; spec: Spec }> {
  const host = await mountNamespace({ shared: true })
  const rootfs = join(await host.tmpfs(), 'rootfs')
  tempRootfs('probe', host.inside(rootfs))
  const spec = probeSpec(steps, ['pid', 'ipc', 'uts', 'mount'], '/bin/probe')
  spec.root = { path: rootfs }
  spec.mounts = DEFAULT_MOUNTS
  return { host, rootfs, spec }
}

describeKernel('lib/rootfs-setup.ts', () => {
  it('a spec with a root but no mount namespace', async () => {
    const { host, spec } = await staged(['ls:/'])
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((ns) => ns.type !== 'mount')
    // Other runs on the machine mount and unmount meanwhile: only / and this test's disk count.
    const disk = dirname(spec.root!.path)
    const ours = async () => (await host.mountinfo()).split('\n').filter((line) => {
      const point = line.split(' ')[4] ?? ''
      return point === '/' || point === disk || point.startsWith(`${disk}/`)
    })
    const before = await ours()
    const error = await caught(() => runCaptured(spec, async (h) => {
      await host.enter(h)
      await enterNamespaces(h, spec)
      await setupRootfs(h, spec)
    }))
    expect(error, 'a spec with no mount namespace got no ContainerError: whose mount table would each mount and the pivot_root change?').toBeInstanceOf(ContainerError)
    expect(await ours(), 'the stand-in host\'s mount table at / and at the rootfs\'s disk changed before the ContainerError').toEqual(before)
  })

  it('a chroot-only container can be escaped (chapter 03\'s exercise)', async () => {
    const { host, rootfs, spec } = await staged(['chroot-escape'])
    const { stdout } = await runCaptured(spec, async (h) => {
      await host.enter(h)
      await enterNamespaces(h, spec)
      await chrootInto(h, rootfs)
    })
    expect(probeValue(stdout, 'root'), 'after chroot, a second chroot and enough "..", the probe must see the host\'s /').toEqual(readdirSync('/').sort())
    // The exercise's "watch it work": vitest shows this line (npx vitest run test/lib -t escaped).
    console.log(`chrooted into ${rootfs}, the probe escaped and listed the host's /: ${probeValue<string[]>(stdout, 'root').join(' ')}`)
  })
})
