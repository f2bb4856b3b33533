/**
 * minidocker as a client of the real dockerd (Debian's 20.10, from temp dirs, no bridge),
 * beside the docker CLI 28.2.2 against the same daemon: the same output and exit codes, the
 * run failures 125, 126 and 127 included, and the same containers and images seen.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { docker, imageRegistry, removeDir, startRealDockerd, type Dockerd } from '../support/daemon.ts'
import { asMinidocker, masked, minidocker } from '../support/client.ts'
import type { Registry } from '../support/registry.ts'

let dir: string
let registry: Registry
let real: Dockerd
let busybox: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-client-'))
  registry = await imageRegistry()
  real = await startRealDockerd(join(dir, 'real'), registry.host)
  busybox = `${registry.host}/busybox`
}, 120_000)

afterAll(async () => {
  if (real) {
    const left = await docker('28.2.2', real.host, ['ps', '-a', '-q']).catch(() => undefined)
    for (const id of left?.stdout.split('\n').filter(Boolean) ?? []) await docker('28.2.2', real.host, ['rm', '-f', id]).catch(() => {})
    await real.stop()
  }
  await registry?.stop()
  if (dir) removeDir(dir)
}, 120_000)

vi.setConfig({ testTimeout: 60_000 })

async function both(args: string[], input?: string) {
  const mine = await minidocker(['-H', real.host, ...args], { input })
  const theirs = await docker('28.2.2', real.host, args, { input, timeout: 30_000 })
  return { mine, theirs }
}

describeKernel('minidocker as a client of the real dockerd, beside the docker CLI', () => {
  it('pull on a pipe, then pull of the same image again', async () => {
    const mine = await minidocker(['-H', real.host, 'pull', busybox])
    expect(mine.exitCode, `minidocker pull failed: ${mine.stderr}`).toBe(0)
    expect(mine.stdout, 'expected a "Pull complete" line per layer, as docker prints them on a pipe — does each of the daemon\'s progress messages reach the renderer, whole? (see "Pulling")').toMatch(/[a-f0-9]{12}: Pull complete\n/)
    const again = await both(['pull', busybox])
    expect(again.mine, 'pulling again: expected docker\'s words exactly (left: yours)').toEqual(again.theirs)
  })

  it('run: sh exiting 3, -i cat, --entrypoint, a command that does not exist, /etc/passwd as the command', async () => {
    for (const [args, input] of [
      [['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 3']],
      [['run', '--rm', '-i', '--network', 'none', busybox, 'cat'], 'piped\n'],
      [['run', '--rm', '--network', 'none', '--entrypoint', '/bin/echo', busybox, 'from', 'entrypoint']],
      [['run', '--rm', '--network', 'none', busybox, 'no-such-command']],
      [['run', '--rm', '--network', 'none', busybox, '/etc/passwd']],
    ] as [string[], string?][]) {
      const { mine, theirs } = await both(args, input)
      expect({ stdout: mine.stdout, stderr: mine.stderr, exitCode: mine.exitCode }, `minidocker ${args.join(' ')}: expected what docker gives, its name read as minidocker (left: yours) — which exit code does docker run give when the container's command cannot be started, and how does the CLI tell the cases apart? (see "Exit codes"; docker run's reference)`)
        .toEqual({ stdout: theirs.stdout, stderr: asMinidocker(theirs.stderr), exitCode: theirs.exitCode })
    }
  })

  it('run -d, ps, images, logs, exec, kill, rm: docker\'s output, and both see the same containers and images', async () => {
    const started = await minidocker(['-H', real.host, 'run', '-d', '--name', 'shared', '--network', 'none', busybox, 'sh', '-c', 'echo to-out; echo to-err >&2; sleep 30'])
    expect([started.exitCode, started.stderr], 'run -d: expected exit 0 and nothing on stderr').toEqual([0, ''])
    const id = started.stdout.trim()
    expect((await docker('28.2.2', real.host, ['ps', '-q', '--no-trunc'])).stdout.split('\n'), 'expected docker ps to list what minidocker started').toContain(id)
    await new Promise((r) => setTimeout(r, 300))
    const images = await both(['images'])
    expect(images.mine.stdout, 'images: expected docker\'s table exactly (REPOSITORY, TAG, IMAGE ID, CREATED, SIZE; padding 3)').toBe(images.theirs.stdout)
    for (const args of [['ps'], ['ps', '-a', '-q'], ['logs', 'shared'], ['exec', 'shared', 'sh', '-c', 'echo in; exit 5']]) {
      const { mine, theirs } = await both(args)
      expect({ out: masked(mine.stdout), err: masked(mine.stderr), code: mine.exitCode }, `minidocker ${args.join(' ')}: expected docker's output (IDs and times masked; left: yours)`)
        .toEqual({ out: masked(theirs.stdout), err: masked(theirs.stderr), code: theirs.exitCode })
    }
    for (const args of [['kill', '-s', 'KILL', 'shared'], ['rm', 'shared']]) {
      const mine = await minidocker(['-H', real.host, ...args])
      expect([mine.stdout, mine.stderr, mine.exitCode], `minidocker ${args.join(' ')}: expected the name echoed`).toEqual(['shared\n', '', 0])
    }
    expect((await docker('28.2.2', real.host, ['ps', '-a', '-q', '--no-trunc'])).stdout, 'expected the container gone for docker too').not.toContain(id)
  })
})
