/**
 * `minidocker run` once chapter 09 is written: a container with a root filesystem goes through
 * your runtime's life cycle, as dockerd's go through runc: a bundle in ROOT/containers/ID,
 * then create, start, wait and delete with the state in ROOT/runtime/ID. It runs in chapter
 * 08's stand-in host, on the bridge, since create also wires minidocker's network.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import type { Spec } from '../../lib/oci.ts'
import type { ContainerRecord } from '../../lib/runtime.ts'
import { waitFor } from '../support/container.ts'
import { onCleanup } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { minirunc } from '../support/runtime.ts'
import { interfaces, netdev, printed } from '../08-network/support.ts'

describeKernel('minidocker run through the runtime', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  it('is create, start, wait and delete: a bundle and runc\'s state while it runs, its network, its exit code, nothing left after', async () => {
    const runtime = join(host().root, 'runtime')
    const none = await minirunc(['--root', runtime, 'state', 'none'])
    expect(none.stderr, 'before any run the runtime knows no container').toMatch(/container does not exist/)
    const run = host().minidocker(['run', 'probe', '/bin/probe', netdev, 'sleep:60000'])
    const ids = () => (existsSync(runtime) ? readdirSync(runtime) : [])
    onCleanup(async () => {
      for (const id of ids()) await minirunc(['--root', runtime, 'delete', '--force', id])
    })
    const out = await printed(run, /"cat":"Inter-[^\n]*\n/, 'the container')
    expect(ids().length, 'while it runs, the container is in runc\'s state directory ROOT/runtime/ID (minidocker/container.ts, throughRuntime)').toBe(1)
    expect(interfaces(out), 'on the bridge the container has eth0: the network minidocker run hands create (options.network) must be wired as chapter 08 wires it (the text\'s "minidocker run, from now on")').toEqual(['eth0', 'lo'])
    const [id] = ids()
    // The directory appears at create's first step; the run starts the container once create returns.
    let state = { status: '', bundle: '', pid: 0 }
    for (let i = 0; i < 300 && state.status !== 'running'; i++) {
      const r = await minirunc(['--root', runtime, 'state', id!])
      expect(r.code, `minirunc state ${id}: ${r.stderr}`).toBe(0)
      state = JSON.parse(r.stdout) as typeof state
      if (state.status !== 'running') await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const { status, bundle, pid } = state
    expect(status, 'once minidocker run has started it, the container is running').toBe('running')
    expect(bundle, 'the bundle is ROOT/containers/ID').toBe(join(host().root, 'containers', id!))
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec
    expect(config.process.args, 'the bundle\'s config.json is the run\'s spec').toEqual(['/bin/probe', netdev, 'sleep:60000'])
    const record = JSON.parse(readFileSync(join(runtime, id!, 'state.json'), 'utf8')) as ContainerRecord
    const cgroups = Object.values(record.cgroup?.dirs ?? {})
    expect(cgroups.length, 'the run\'s cgroup is in the runtime\'s record').toBeGreaterThan(0)
    expect((await minirunc(['--root', runtime, 'kill', id!, 'KILL'])).code).toBe(0)
    const exited = await run
    expect(exited.exitCode, `a container killed by SIGKILL: minidocker exits 137, as docker run does; it printed: ${exited.stderr}`).toBe(137)
    expect(ids(), 'once the run ends, the container is deleted: nothing in ROOT/runtime').toEqual([])
    expect(existsSync(bundle), 'once the run ends, its bundle is removed').toBe(false)
    for (const dir of cgroups) expect(existsSync(dir), `delete removes the container's cgroup ${dir}`).toBe(false)
    expect(await waitFor(() => !existsSync(`/proc/${pid}`), 5000), 'the container\'s process is gone').toBe(true)
  })
})
