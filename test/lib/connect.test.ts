import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { execa } from 'execa'
import { expect, it, vi } from 'vitest'
import { startHelper } from '../support/helper.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { useStandInHost } from '../support/netns.ts'
import { probeLines } from '../support/probe.ts'

const SECTION = '(see chapter 08, "A veth pair")'
const START = fileURLToPath(new URL('../../bin/start.cjs', import.meta.url))

// The given connectContainer (lib/links.ts) failing half-way, in the stand-in host: what it made must not stay there.
describeKernel('connectContainer that fails', () => {
  const host = useStandInHost()
  vi.setConfig({ testTimeout: 60_000 })

  /** connectContainer(pid, the default bridge, lease) in the stand-in: the host end's name, or the error. */
  async function connect(pid: number, address: string, prefix: number, gateway: string, path?: string): Promise<{ host?: string; error?: { name: string; message: string } }> {
    const run = await host().run([...(path ? ['env', `PATH=${path}:${process.env.PATH}`] : []), process.execPath, '-e', `require(${JSON.stringify(START)}).start('connector', 'test/lib/connector.ts')`, String(pid), address, String(prefix), gateway])
    const said = probeLines(String(run.stdout))[0] as { host?: string; error?: { name: string; message: string } } | undefined
    if (!said && path) return {}
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
    expect(afterGone, `connectContainer for a process that had exited failed (${first.error?.message}), and the host still holds what it made before that: ${JSON.stringify(afterGone)}. Which step had already changed the host when the container turned out to be gone? ${SECTION}`).toEqual({ veths: [], addresses: [] })

    const container = startHelper()
    await container.unshare(['network'])
    const second = await connect(container.pid, '172.29.0.8', 24, '172.29.9.1')
    expect(second.error?.message, `connectContainer with the lease 172.29.0.8/24 and the gateway 172.29.9.1, which no address of 172.29.0.0/24 reaches, returned "${second.host}": was the default route ever added?`).toBeDefined()
    const afterRoute = await left()
    expect(afterRoute, `connectContainer with a gateway outside the lease's subnet failed (${second.error?.message}), and the host still holds ${JSON.stringify(afterRoute)}: what had it made, and where, by the time the kernel refused the route? ${SECTION}`).toEqual({ veths: [], addresses: [] })
  })

  it('a run killed the moment an ip command of its has made a veth, then its container ends', async () => {
    // An `ip` in front of the real one: once a command of it has made a veth, the process that
    // ran it (the connecting run) is killed with SIGKILL, as a run can be at any moment.
    const bin = tempDir()
    writeFileSync(join(bin, 'ip'), [
      '#!/bin/sh',
      'PATH=${PATH#*:}',
      // A batch runs line by line, and stops where the run is killed, as a whole process group
      // killed at once (^C in a terminal, a service stopped) stops it.
      'if [ "$1" = -batch ]; then',
      '  cat | while read -r line; do',
      '    ip $line || exit $?',
      '    case " $line " in *" type veth "*) echo "$line" >> "$(dirname "$0")/made"; kill -KILL $PPID; exit 137;; esac',
      '  done; exit $?',
      'fi',
      'ip "$@" || exit $?',
      'case " $* " in *" type veth "*) echo "$*" >> "$(dirname "$0")/made"; kill -KILL $PPID; exit 137;; esac',
    ].join('\n') + '\n')
    chmodSync(join(bin, 'ip'), 0o755)
    const container = startHelper()
    await container.unshare(['network'])
    const said = await connect(container.pid, '172.29.0.9', 16, '172.29.0.1', bin)
    if (said.error?.name) throw new Error(`connectContainer failed before any veth was made: ${said.error.message}`)
    const made = await host().run(['cat', join(bin, 'made')])
    expect(made.exitCode, 'the connecting run made no veth with ip (ip link add ... type veth)').toBe(0)
    const killedAfter = String(made.stdout).trim()
    const during = await left()
    // The container ends; its network namespace goes with it, in the kernel's own time.
    container.kill()
    await container.exited
    let after = await left()
    for (const deadline = Date.now() + 10_000; after.veths.length > 0 && Date.now() < deadline;) await sleep(100), (after = await left())
    expect(after.veths, `a run was killed right after "ip ${killedAfter}" (the host then held the veths ${JSON.stringify(during.veths)}); its container has ended since, and 10 s later the host still holds ${JSON.stringify(after.veths)}, which nothing will ever remove: a killed run undoes nothing. What keeps that pair on the host once its run is gone? ${SECTION}`).toEqual([])
  })
})

