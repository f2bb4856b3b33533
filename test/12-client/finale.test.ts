/**
 * The finale: `run hello-world` through the whole stack the workbook built (workbook/finale.ts):
 * the client → minidockerd → the loopback registry (as its docker.io mirror) → minicontainerd →
 * containerd-shim-minidocker-v2 → minirunc → the hello program. One stack for the file.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startFinale, type Finale } from '../../workbook/finale.ts'
import { docker, type DockerResult } from '../support/daemon.ts'
import { minidocker, partedAt } from '../support/client.ts'
import { describeKernel } from '../support/kernel.ts'

let socketDir: string
let stack: Finale

/** The client under test, chapter 12's minidocker, against the stack's minidockerd. */
const client = (args: string[]): Promise<DockerResult> => minidocker(['-H', stack.host, ...args], { timeout: 90_000 }) // five programs per container on a busy machine

/** /proc/PID/cmdline as one string ('' once the process is gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return ''
  }
}

const parentOf = (pid: number) => Number(/^\d+ \(.*\) \S (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))![1])
const childrenOf = (pid: number) => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
  try {
    return parentOf(p) === pid
  } catch {
    return false
  }
})

describeKernel('the finale: run hello-world through the whole stack', () => {
  beforeAll(async () => {
    socketDir = mkdtempSync(join(tmpdir(), 'minidocker-finale-sock-'))
    stack = await startFinale({ socket: join(socketDir, 'minidockerd.sock'), debug: true })
  }, 90_000)

  afterAll(async () => {
    await stack?.stop()
    if (socketDir) rmSync(socketDir, { recursive: true, force: true })
    if (stack) expect(existsSync(stack.dir), `the stack's directory ${stack.dir} is still there after stop()`).toBe(false)
  }, 90_000)

  it('run hello-world pulls the image through the mirror, prints the message and exits 0', async () => {
    const run = await client(['run', 'hello-world'])
    expect(run.stderr, 'the client reports the pull from the registry mirror').toMatch(/Unable to find image 'hello-world:latest' locally[\s\S]*Pull complete[\s\S]*Status: Downloaded newer image for hello-world:latest/)
    expect(run.stdout, `expected hello-world's message but saw stdout ${JSON.stringify(run.stdout)} stderr ${JSON.stringify(run.stderr)}`).toContain('Hello from minidocker!')
    expect(run.stdout).toContain('minirunc put this process in new namespaces')
    expect(run.exitCode, `run hello-world exited ${run.exitCode}: ${run.stderr}`).toBe(0)

    // the daemon's request log from `from` on, in the order the client made the requests (dockerd --debug's "Calling" lines)
    const calls = (from: number) => [...stack.minidockerd.log().slice(from).matchAll(/msg="Calling (\w+ \S+)"/g)].map((m) => m[1]!.replace(/\/v1\.\d+/, '').replace(/[0-9a-f]{64}/, 'ID'))
    const mine = calls(0)
    // the same run from the docker CLI, the image removed again first
    await docker('28.2.2', stack.host, ['rmi', '-f', 'hello-world'])
    const from = stack.minidockerd.log().length
    const theirs = await docker('28.2.2', stack.host, ['run', 'hello-world'])
    expect(theirs.exitCode, `docker run hello-world on the same stack: ${theirs.stderr}`).toBe(0)
    const count = calls(from).findIndex((call) => call.endsWith('/start')) + 1
    expect(partedAt(mine.slice(0, count), calls(from).slice(0, count)), 'minidockerd\'s request log for minidocker run hello-world, up to the first request docker run hello-world did not send there (left) — which request must the daemon have had before the container starts, and why? (the finale\'s "What the client asked for")')
      .toBe('the same requests, in the same order')
  }, 180_000)

  it('while hello-world:sleep runs, the shim serving minicontainerd is its parent, and minirunc gave it namespaces, a cgroup and the image as root', async () => {
    const started = await client(['run', '-d', 'hello-world:sleep'])
    expect(started.exitCode, `run -d hello-world:sleep: ${started.stderr}`).toBe(0)
    const id = started.stdout.trim()
    try {
      const pid = Number(JSON.parse((await client(['inspect', id])).stdout)[0].State.Pid)
      expect(cmdline(pid), 'the container\'s process is the hello program').toBe('/hello --sleep 600')

      // the shim: a subreaper (the helper) whose other child is the Node shim serving this task for minicontainerd
      const reaper = parentOf(pid)
      const shims = childrenOf(reaper).map(cmdline).filter((c) => c.includes('containerd-shim-minidocker-v2'))
      expect(shims, `the hello process's parent (${reaper}: ${cmdline(reaper)}) should hold the shim as its other child`).toHaveLength(1)
      expect(shims[0]).toContain(`-id ${id}`)
      const address = /-address (\S+)/.exec(shims[0]!)![1]!
      expect(cmdline(stack.minicontainerd.pid), 'the shim reports to minicontainerd\'s socket').toContain(`--address ${address}`)

      // what minirunc did: new namespaces, the daemon's cgroup, the image's files as root
      for (const ns of ['pid', 'mnt', 'uts', 'ipc'])
        expect(readlinkSync(`/proc/${pid}/ns/${ns}`), `${ns} namespace`).not.toBe(readlinkSync(`/proc/self/ns/${ns}`))
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`${stack.cgroupParent}/${id}`)
      expect(readdirSync(`/proc/${pid}/root`).sort()).toEqual(expect.arrayContaining(['hello']))

      const tree = await execa('pstree', ['-a', '-l', '-p', String(reaper)])
      expect(tree.stdout).toMatch(/hello,\d+ --sleep 600/)
    } finally {
      const removed = await client(['rm', '-f', id])
      expect(removed.exitCode, `rm -f: ${removed.stderr}`).toBe(0)
    }
  }, 180_000)
})
