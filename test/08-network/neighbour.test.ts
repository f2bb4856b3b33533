import { expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, natChain, printed } from './support.ts'

const SECTION = '(see "Published ports")'

// Two containers on one bridge, one publishing a port and the other connecting to it through the
// host, on a host whose bridge hands nothing to iptables: a host without br_netfilter, as most are
// until Docker loads it.
describeKernel('a published port and its neighbours', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 180_000 })

  it('a container connects to the bridge address\'s port 8096, which another container publishes, on a host whose bridge passes nothing through iptables', async () => {
    const nf = '/proc/sys/net/bridge/bridge-nf-call-iptables'
    // Per network namespace; absent when br_netfilter is not loaded, and then it is off anyway.
    expect((await host().run(['sh', '-c', `[ ! -e ${nf} ] || echo 0 > ${nf}`])).exitCode, `${nf} set to 0 in the stand-in host`).toBe(0)
    const server = host().minidocker(['run', '-p', '8096:7000', 'probe', '/bin/probe', hosts, 'listen:7000'])
    let ended = false
    void server.then(() => (ended = true))
    try {
      const gateway = addressIn(await printed(server, /"listening"/, 'the container behind -p 8096:7000')).replace(/\.\d+$/, '.1')
      const chain = (await natChain(host())).join('; ')
      const client = await done(host().minidocker(['run', 'probe', '/bin/probe', `connect:${gateway}:8096`]))
      const said = [...probeLines(String(client.stdout)).map((l) => JSON.stringify(l)), String(client.stderr).trim().replace(/\s*\n\s*/g, ' | ')].filter(Boolean).join('; ')
      expect(probeLines(String(client.stdout)).find((l) => 'reply' in l)?.reply, `a container connected to the host's ${gateway}:8096, which another container on the same bridge publishes with -p 8096:7000, and got no answer (${said}). This host's bridge passes nothing through iptables. What did the client get back, and from whom? MINIDOCKER held: ${chain} ${SECTION}`).toBe('ping\n')
    } finally {
      // The server waits for one connection before it ends: give it one if nobody has.
      if (!ended) await host().run(['timeout', '10', PROBE_PATH, 'connect:127.0.0.1:8096'])
      await server
    }
  })
})
