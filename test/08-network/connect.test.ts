import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { expect, it, vi } from 'vitest'
import { NotImplementedError } from '../../lib/errors.ts'
import { startHelper } from '../support/helper.ts'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { probeLines } from '../support/probe.ts'

const SECTION = '(see "A veth pair")'
const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))

// connectContainer failing half-way, in the stand-in host: what it made must not stay there.
describeKernel('connectContainer that fails', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 60_000 })

  /** connectContainer(pid, the default bridge, lease) in the stand-in: the host end's name, or the error. */
  async function connect(pid: number, address: string, prefix: number, gateway: string): Promise<{ host?: string; error?: { name: string; message: string; fn?: string } }> {
    const run = await host().run([process.execPath, '-e', `require(${JSON.stringify(START)}).start('connector', 'test/08-network/connector.ts')`, String(pid), address, String(prefix), gateway])
    const said = probeLines(String(run.stdout))[0] as { host?: string; error?: { name: string; message: string; fn?: string } } | undefined
    if (said?.error?.name === 'NotImplementedError') throw new NotImplementedError('08-network', said.error.fn ?? 'connectContainer')
    if (!said) throw new Error(`the connecting process said nothing: ${run.stderr}`)
    return said
  }

  /** The stand-in's veths and its IPv4 addresses other than lo's and the bridge's. */
  async function left(): Promise<{ veths: string[]; addresses: string[] }> {
    const veths = String((await host().run(['ip', '-o', 'link', 'show', 'type', 'veth'])).stdout).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim())
    const addresses = String((await host().run(['ip', '-o', '-4', 'addr', 'show'])).stdout).split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(1, 4).join(' ')).filter((a) => !/ 127\.0\.0\.1\/8$| 172\.29\.0\.1\/16$/.test(a))
    return { veths, addresses }
  }

  it('the PID of a process that has just exited, then a container whose lease has a gateway outside its subnet', async () => {
    const exited = execa('true')
    const gone = { pid: exited.pid! }
    await exited
    const first = await connect(gone.pid, '172.29.0.7', 16, '172.29.0.1')
    expect(first.error?.message, `connectContainer for PID ${gone.pid}, a process that had exited, returned "${first.host}" instead of failing`).toBeDefined()
    const afterGone = await left()
    expect(afterGone, `connectContainer for a process that had exited failed (${first.error?.message}), and the host still holds what it made before that: ${JSON.stringify(afterGone)}. Which of your steps had already changed the host when the container turned out to be gone? ${SECTION}`).toEqual({ veths: [], addresses: [] })

    const container = startHelper()
    await container.unshare(['network'])
    const second = await connect(container.pid, '172.29.0.8', 24, '172.29.9.1')
    expect(second.error?.message, `connectContainer with the lease 172.29.0.8/24 and the gateway 172.29.9.1, which no address of 172.29.0.0/24 reaches, returned "${second.host}": was the default route ever added?`).toBeDefined()
    const afterRoute = await left()
    expect(afterRoute, `connectContainer with a gateway outside the lease's subnet failed (${second.error?.message}), and the host still holds ${JSON.stringify(afterRoute)}: what had your run made, and where, by the time the kernel refused the route? ${SECTION}`).toEqual({ veths: [], addresses: [] })
  })
})
