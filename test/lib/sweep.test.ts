import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it, vi } from 'vitest'
import { processStart } from '../../lib/net.ts'
import { ownedRule } from '../../lib/publish.ts'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { probeLines } from '../support/probe.ts'
import { deadOwner, natChain, plantRules } from '../08-network/support.ts'

const SECTION = '(see chapter 08, "Rules a killed run left")'
const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))

/** A DNAT rule of the MINIDOCKER chain, as the arguments after -A, for the host's `hostPort` to `ip`:7000. */
const dnatTo = (hostPort: number, ip: string): string[] => ['MINIDOCKER', '-p', 'tcp', '--dport', String(hostPort), '!', '-i', 'minidocker0', '-j', 'DNAT', '--to-destination', `${ip}:7000`]

// The given sweep of stale DNAT rules (lib/publish.ts), two at once, in a stand-in host.
describeKernel('sweepStaleRules', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 120_000 })

  const chain = () => natChain(host())
  const plant = (rules: string[][]) => plantRules(host(), rules)

  it('two sweeps at once, over 12 stale rules and a live one', async () => {
    const me = { pid: process.pid, start: processStart(process.pid)! }
    const dead = await deadOwner()
    const stale = Array.from({ length: 12 }, (_, i) => ownedRule(dnatTo(8100 + i, `172.29.9.${i + 1}`), dead))
    await plant([...stale.slice(0, 6), ownedRule(dnatTo(8120, '172.29.9.99'), me), ...stale.slice(6)])
    const before = await chain()
    const live = before.find((line) => line.includes('8120'))!
    const go = join(host().root, `go-${Date.now()}`)
    const sweepers = []
    // One at a time until each is waiting (the first builds the bundle), then both at once.
    for (let i = 0; i < 2; i++) {
      const sweeper = host().run([process.execPath, '-e', `require(${JSON.stringify(START)}).start('sweeper', 'test/lib/sweeper.ts')`, go])
      await new Promise<void>((resolve, reject) => {
        sweeper.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('waiting') && resolve())
        void sweeper.then((r) => reject(new Error(`the sweeping process ended before it started: ${r.stderr || r.stdout}`)))
      })
      sweepers.push(sweeper)
    }
    writeFileSync(go, '')
    const results = (await Promise.all(sweepers)).map((r) => probeLines(String(r.stdout))[0] as { swept?: string[][]; error?: { name: string; message: string; fn?: string } } | undefined)
    for (const result of results) {
      expect(result?.error?.message, `one of two sweeps at once failed: what does iptables say when another deleter removed a rule first, and is that an error? ${SECTION}`).toBeUndefined()
    }
    const after = await chain()
    expect(after, `two sweeps at once deleted the rule of a live owner (this test's process) ${SECTION}`).toContain(live)
    expect(after.filter((line) => line !== live), `stale rules left after two sweeps at once ${SECTION}`).toEqual([])
    const reported = results.flatMap((r) => r?.swept ?? [])
    expect(reported.length, `the two sweeps say they deleted ${reported.length} rules between them, for 12 stale ones: each rule is deleted once, and a rule someone else deleted is not this sweep's (sweepStaleRules' doc comment) ${SECTION}`).toBe(12)
  })
})
