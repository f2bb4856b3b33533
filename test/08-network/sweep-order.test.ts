import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect, it, vi } from 'vitest'
import { processStart } from '../../lib/net.ts'
import { dnatRule, ownedRule } from '../../lib/publish.ts'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { PROBE_PATH, probeLines } from '../support/probe.ts'
import { addressIn, done, hosts, printed } from './support.ts'

const SECTION = '(see "Rules a killed run left")'
const OWNER_DIES = fileURLToPath(new URL('./owner-dies.cjs', import.meta.url))

// An owner that dies in the middle of a run: the first time the run asks whether it is alive.
// Everything happens in the stand-in host, read with its own iptables.
describeKernel('an owner that dies while a run starts', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 120_000 })

  it('a run beside a container at 172.29.0.2 with -p 8095:7000, whose owner dies while the run starts', async () => {
    // The owner of 172.29.0.2 and of its port's rule: a process of the test's, in the stand-in.
    const owner = host().run(['sleep', '600'])
    void owner.catch(() => undefined)
    const pid = owner.pid!
    for (let i = 0; i < 500 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sleep'; i++) await sleep(5)
    const start = processStart(pid)!
    const state = join(host().root, 'network')
    mkdirSync(state, { recursive: true })
    writeFileSync(join(state, 'ipam.json'), JSON.stringify({ '172.29.0.2': { pid, start } }))
    await host().run(['iptables', '-w', '-t', 'nat', '-N', 'MINIDOCKER'])
    // The rule that owner's run would have added: made by the given dnatRule.
    const rule = ownedRule(dnatRule({ hostIp: '0.0.0.0', hostPort: 8095, containerPort: 7000, proto: 'tcp' }, { name: 'minidocker0', subnet: '172.29.0.0/16' }, '172.29.0.2'), { pid, start })
    expect((await host().run(['iptables', '-w', '-t', 'nat', '-A', ...rule])).exitCode, `iptables -t nat -A ${rule.join(' ')} in the stand-in host`).toBe(0)

    const run = host().minidocker(['run', 'probe', '/bin/probe', hosts, 'listen:7000'], { NODE_OPTIONS: `--require ${OWNER_DIES}`, MINIDOCKER_TEST_OWNER_DIES: String(pid) })
    const address = addressIn(await printed(run, /"listening"/, 'the run beside the container at 172.29.0.2'))
    expect(processStart(pid), `the owner of 172.29.0.2 (PID ${pid}) still runs: the run never asked whether it was alive`).toBeUndefined()
    const stray = await host().run([PROBE_PATH, 'connect:172.29.0.1:8095'])
    const reply = probeLines(String(stray.stdout)).find((l) => 'reply' in l)?.reply
    const chain = String((await host().run(['iptables', '-w', '-t', 'nat', '-S', 'MINIDOCKER'])).stdout).trim().split('\n').join('; ')
    expect(reply, `the host's port 8095 reached the new run's container at ${address}, which published nothing: the rule of 172.29.0.2's owner (PID ${pid}) sent it there. That owner died while your run was starting. What did your run conclude about that owner's rule, and what about its address, and when? MINIDOCKER holds: ${chain} ${SECTION}`).toBeUndefined()
    // The container waits for one connection before it ends.
    await host().run([PROBE_PATH, `connect:${address}:7000`])
    expect((await done(run)).exitCode, 'the run beside the container at 172.29.0.2').toBe(0)
  })
})
