/**
 * minidocker as a client of minidockerd (chapter 11's reference, on the real containerd 1.6),
 * side by side with the docker CLI 28.2.2 against the same daemon: the same requests in the
 * same order, the same output and exit codes, the same containers and images seen.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { docker, imageRegistry, removeContainersAndStop, throwIfUnwritten, removeDir, startContainerd, startMinidockerd, type Containerd, type Dockerd } from '../support/daemon.ts'
import { asMinidocker, loggingProxy, masked, MINIDOCKER, minidocker, partedAt, requestShape, type Proxy } from '../support/client.ts'
import { inTerminal } from '../support/runtime.ts'
import type { Registry } from '../support/registry.ts'
import { difference, firstDifference, RESULTS } from './differences.ts'

let dir: string
let containerd: Containerd
let registry: Registry
let daemon: Dockerd
let proxy: Proxy
let busybox: string
let probe: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-client-'))
  containerd = await startContainerd(join(dir, 'containerd'))
  registry = await imageRegistry()
  daemon = await startMinidockerd(join(dir, 'daemon'), containerd)
  proxy = await loggingProxy(dir, daemon.host.slice('unix://'.length))
  busybox = `${registry.host}/busybox`
  probe = `${registry.host}/probe`
  await docker('28.2.2', daemon.host, ['pull', '-q', busybox])
}, 120_000)

afterAll(async () => {
  if (daemon) await removeContainersAndStop(daemon)
  await proxy?.stop()
  await containerd?.stop()
  await registry?.stop()
  if (dir) removeDir(dir)
}, 120_000)

vi.setConfig({ testTimeout: 60_000 })

/** The same command from minidocker (-H) and from docker (DOCKER_HOST), against `host`. */
async function both(args: string[], input?: string, host = daemon.host) {
  const mine = await minidocker(['-H', host, ...args], { input })
  const theirs = await docker('28.2.2', host, args, { input, timeout: 30_000 })
  return { mine, theirs }
}

describeKernel('minidocker as a client of minidockerd, beside the docker CLI', () => {
  it('run --rm of an image the daemon lacks, with and without -d, through a logging proxy, beside the docker CLI', async () => {
    for (const detach of [[], ['-d']]) {
      const args = ['run', '--rm', ...detach, '--network', 'none', probe, '/probe', 'hostname']
      const orders: string[][] = []
      const firstLines: string[] = []
      for (const client of ['minidocker', 'docker'] as const) {
        await docker('28.2.2', daemon.host, ['rmi', '-f', probe])
        proxy.requests.length = 0
        const result = client === 'minidocker' ? await minidocker(['-H', proxy.host, ...args]) : await docker('28.2.2', proxy.host, args)
        expect(result.exitCode, `${client} ${args.join(' ')} failed: ${result.stderr}`).toBe(0)
        firstLines.push(result.stderr.split('\n')[0]!)
        orders.push(requestShape(proxy.requests))
      }
      const line = difference('first line on stderr', firstLines[0], firstLines[1])
      if (line) expect.fail(`${args.join(' ')}: expected on stderr, before the pull, the line docker prints for an image the daemon lacks: ${line}`)
      expect(partedAt(orders[0]!, orders[1]!), `${args.join(' ')}: expected the requests of docker run in the docker CLI's order (left: yours, up to the first that docker 28.2.2 did not send there) — what must already be in place when the container starts, if a short-lived container's output and exit are not to be lost, and what does -d leave out? (see "The run sequence")`)
        .toBe('the same requests, in the same order')
    }
  })

  it('run: sh writing to stdout and stderr and exiting 3; -i cat with piped lines; -e -w -u -h', async () => {
    for (const [args, input] of [
      [['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 3']],
      [['run', '--rm', '-i', '--network', 'none', busybox, 'cat'], 'piped\nlines\n'],
      [['run', '--rm', '--network', 'none', '-e', 'A=1', '-w', '/tmp', '-u', '1000', '-h', 'named', busybox, 'sh', '-c', 'echo $A; pwd; id -u; hostname']],
    ] as [string[], string?][]) {
      const { mine, theirs } = await both(args, input)
      const differs = firstDifference(mine, theirs, RESULTS)
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected what docker gives: ${differs} — which output does each frame belong to (see "Frames"), where does the exit code come from, and how does the daemon learn that stdin has ended (see "The run sequence")?`)
    }
  })

  it('run without -t, its container trapping TERM and INT, and each signal sent to the client', async () => {
    for (const signal of ['TERM', 'INT'] as const) {
      const script = `trap "echo got ${signal}; exit 42" ${signal}; echo ready; while true; do sleep 0.1; done`
      const run = execa(process.execPath, [MINIDOCKER, '-H', daemon.host, 'run', '--rm', '--network', 'none', busybox, 'sh', '-c', script], {
        // execa ends a process that outlives its SIGTERM by 5 s with SIGKILL: the signal's way
        // through the daemon, containerd, the shim and the runtime takes longer on a busy machine
        env: { MINIDOCKER_HOST: '', DOCKER_HOST: '' }, stdin: 'ignore', reject: false, timeout: 60_000, forceKillAfterDelay: 30_000,
      })
      let out = ''
      let exited = false
      run.stdout!.on('data', (b: Buffer) => (out += b))
      run.finally(() => (exited = true)).catch(() => {})
      await vi.waitFor(() => {
        if (!out.includes('ready') && !exited) throw new Error('the container has not started yet')
      }, { timeout: 20_000, interval: 100 })
      if (!exited) run.kill(`SIG${signal}`)
      const r = await run
      throwIfUnwritten(String(r.stderr))
      expect([r.exitCode, String(r.stdout)], `expected the container's trap to print "got ${signal}" and exit 42, and the client to exit 42 (left: yours); stderr: ${String(r.stderr)} — did the client's SIG${signal} reach the container, and did the client live to report its exit? (see "Signals"; docker run's --sig-proxy)`).toEqual([42, `ready\ngot ${signal}`])
    }
  })

  it('run -d, ps, logs, exec, stop, rm: the docker CLI\'s output, and both see the same containers', async () => {
    const started = await minidocker(['-H', daemon.host, 'run', '-d', '--name', 'both', '--network', 'none', busybox, 'sh', '-c', 'echo to-out; echo to-err >&2; trap "exit 0" TERM; while true; do sleep 0.1; done'])
    expect([started.exitCode, started.stderr], 'run -d: expected exit 0 and nothing on stderr').toEqual([0, ''])
    expect(started.stdout, 'run -d: expected the full 64-hex ID alone').toMatch(/^[a-f0-9]{64}\n$/)
    const id = started.stdout.trim()
    const seen = await docker('28.2.2', daemon.host, ['ps', '-q', '--no-trunc'])
    expect(seen.stdout.split('\n'), 'expected docker ps to see the container minidocker started').toContain(id)
    await new Promise((r) => setTimeout(r, 300))
    for (const args of [['ps'], ['ps', '-a'], ['ps', '-q'], ['images'], ['logs', 'both'], ['logs', '--tail', '1', 'both'], ['exec', 'both', 'sh', '-c', 'echo in; exit 5']]) {
      const { mine, theirs } = await both(args)
      const masks = (r: typeof mine) => ({ stdout: masked(r.stdout), stderr: masked(r.stderr), exitCode: r.exitCode })
      const differs = firstDifference(masks(mine), masks(theirs), RESULTS)
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected docker's output (IDs, times, sizes masked): ${differs}`)
    }
    const execBodies: unknown[] = []
    for (const client of ['minidocker', 'docker'] as const) {
      proxy.bodies.length = 0
      const args = ['exec', 'both', 'true']
      const result = client === 'minidocker' ? await minidocker(['-H', proxy.host, ...args]) : await docker('28.2.2', proxy.host, args)
      expect(result.exitCode, `${client} ${args.join(' ')} failed: ${result.stderr}`).toBe(0)
      execBodies.push(proxy.bodies.filter(([request]) => /\/containers\/both\/exec$/.test(request)).map(([, body]) => JSON.parse(body)))
    }
    const body = difference('body of the exec\'s create', execBodies[0], execBodies[1])
    if (body) expect.fail(`exec both true: expected the body of the exec's create that docker sends: ${body} (see "Logs and exec")`)
    const table = (await minidocker(['-H', daemon.host, 'ps'])).stdout.split('\n').filter(Boolean)
    const starts = (line: string) => [...line.matchAll(/(?<=^| {3})\S/g)].map((m) => m.index)
    const headings = starts(table[0]!)
    expect(starts(table[1]!), 'expected the columns of ps to line up under their headings (padding 3 and at least 10 wide, as the CLI\'s tabwriter; PORTS is empty)').toEqual([...headings.slice(0, 5), headings[6]])
    for (const args of [['stop', '-t', '1', 'both'], ['rm', 'both']]) {
      const mine = await minidocker(['-H', daemon.host, ...args])
      expect([mine.stdout, mine.stderr, mine.exitCode], `minidocker ${args.join(' ')}: expected the name echoed, as docker does`).toEqual(['both\n', '', 0])
    }
    expect((await docker('28.2.2', daemon.host, ['ps', '-a', '-q', '--no-trunc'])).stdout, 'expected the container gone for docker too').not.toContain(id)
  })

  it('logs and rm of a missing container, bad flags, a missing tag, no daemon at the socket: beside the docker CLI', async () => {
    const cases: string[][] = [['logs', 'nope'], ['rm', 'nope'], ['run', '--bogus', busybox], ['ps', '--bogus'], ['run', '--rm', '--network', 'none', `${busybox}:nope`, 'true']]
    for (const args of cases) {
      const { mine, theirs } = await both(args)
      const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS.slice(1))
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected docker's words (with its name read as minidocker) and exit code: ${differs}`)
    }
    const nowhere = `unix://${join(dir, 'no-daemon.sock')}`
    for (const args of [['ps'], ['run', '--rm', busybox, 'true']]) {
      const { mine, theirs } = await both(args, undefined, nowhere)
      const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS.slice(1))
      if (differs) expect.fail(`minidocker ${args.join(' ')} with no daemon at ${nowhere}: expected docker's words and exit code: ${differs}`)
    }
    const viaEnv = await minidocker(['ps'], { env: { MINIDOCKER_HOST: nowhere } })
    expect(viaEnv.stderr, 'expected MINIDOCKER_HOST to name the daemon as -H does').toContain(nowhere)
  })

  it('run -it from a shell in a 33x101 terminal that becomes 40x120, the container exiting 6', async () => {
    // the window changes while the container runs: the shell has no job control, so the
    // background stty is no background job of the terminal's, and sets the size only. Wide
    // margins for a loaded machine: the container looks 1.5 s after its start (which must come
    // within 10.5 s of the shell's), the window changes at 12 s, the container looks again at 20 s.
    const script = `stty rows 33 cols 101; before=$(stty -g); (sleep 12; stty rows 40 cols 120 </dev/tty) & '${process.execPath}' '${MINIDOCKER}' -H '${daemon.host}' run --rm -it --network none '${busybox}' sh -c 'echo tty-mode; [ -t 0 ] && echo stdin-is-a-tty; sleep 1.5; stty size; sleep 18.5; stty size; exit 6'; code=$?; wait; [ "$before" = "$(stty -g)" ] && echo terminal-restored; exit $code`
    const result = await inTerminal('sh', ['-c', script], { MINIDOCKER_HOST: '', DOCKER_HOST: '' })
    expect(result.stdout, 'expected the container\'s output as its terminal wrote it').toContain('tty-mode\nstdin-is-a-tty\n')
    expect(result.stdout, 'expected stty size in the container to print the client\'s 33 rows and 101 columns — how does the container\'s pty learn the client\'s size, and when? (see "A terminal")').toContain('33 101\n')
    expect(result.stdout, 'expected stty size in the container, once the client\'s window had become 40x120, to print 40 120 — how does the client learn that its window changed? (see "A terminal")').toContain('40 120\n')
    expect(result.stdout, 'expected stty -g to read the same after minidocker run -it as before — what did the client change in the terminal, and is it undone on every way out? (see "A terminal")').toContain('terminal-restored')
    expect(result.code, 'expected the container\'s exit code 6').toBe(6)
  }, 120_000)
})
