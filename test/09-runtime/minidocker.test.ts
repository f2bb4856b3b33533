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

  it('minidocker run of a probe on the bridge, ended by minirunc kill KILL', async () => {
    const runtime = join(host().root, 'runtime')
    const none = await minirunc(['--root', runtime, 'delete', 'none'])
    expect(none.stderr, 'minirunc delete none, before any run').toMatch(/container does not exist/)
    const run = host().minidocker(['run', 'probe', '/bin/probe', netdev, 'sleep:60000'])
    const ids = () => (existsSync(runtime) ? readdirSync(runtime) : [])
    onCleanup(async () => {
      for (const id of ids()) await minirunc(['--root', runtime, 'delete', '--force', id])
    })
    const out = await printed(run, /"cat":"Inter-[^\n]*\n/, 'the container')
    expect(ids().length, 'containers in ROOT/runtime while minidocker run runs (minidocker/container.ts, throughRuntime)').toBe(1)
    expect(interfaces(out), 'the container\'s interfaces on the bridge: what does create do with the network minidocker run hands it, options.network? (the text\'s "minidocker run, from now on")').toEqual(['eth0', 'lo'])
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
    expect(status, 'state once minidocker run has started the container').toBe('running')
    expect(bundle, 'the bundle in state vs ROOT/containers/ID').toBe(join(host().root, 'containers', id!))
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec
    expect(config.process.args, 'process.args in the bundle\'s config.json').toEqual(['/bin/probe', netdev, 'sleep:60000'])
    const record = JSON.parse(readFileSync(join(runtime, id!, 'state.json'), 'utf8')) as ContainerRecord
    const cgroups = Object.values(record.cgroup?.dirs ?? {})
    expect(cgroups.length, 'cgroups in the runtime\'s record (state.json)').toBeGreaterThan(0)
    expect((await minirunc(['--root', runtime, 'kill', id!, 'KILL'])).code, 'exit code of minirunc kill KILL').toBe(0)
    const exited = await run
    expect(exited.exitCode, `minidocker run's exit code once its container is killed with KILL, as docker run's would be; it printed: ${exited.stderr}`).toBe(137)
    expect(ids(), 'ROOT/runtime once minidocker run has returned').toEqual([])
    expect(existsSync(bundle), 'the bundle once minidocker run has returned').toBe(false)
    for (const dir of cgroups) expect(existsSync(dir), `the cgroup ${dir} once minidocker run has returned`).toBe(false)
    expect(await waitFor(() => !existsSync(`/proc/${pid}`), 5000), 'the container\'s process 5 s after minidocker run returned').toBe(true)
  })
})
