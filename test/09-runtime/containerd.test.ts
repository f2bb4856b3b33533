/**
 * minirunc under the real containerd 1.6: `ctr run --runc-binary` makes containerd's own
 * containerd-shim-runc-v2 call minirunc exactly where it would call runc (chapter 09's text,
 * "The real thing", lists what it sends). One containerd for the file, from a temp directory, stopped by PID.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { probeRootfs, runtimeWrapper, startContainerd, type Result } from '../support/runtime.ts'

let dir: string
let containerd: Awaited<ReturnType<typeof startContainerd>>
let rootfs: string
let runtime: string
let next = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-ctr-'))
  runtime = runtimeWrapper(dir)
  rootfs = probeRootfs(dir)
  containerd = await startContainerd(dir)
}, 60_000)

afterAll(async () => {
  await containerd?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** `ctr run` of the probe with minirunc as the runtime; the container is removed afterwards. */
async function ctrRun(flags: string[], steps: string[]): Promise<{ id: string; result: Result }> {
  const id = `c${next++}`
  const result = await containerd.ctr(['run', ...flags, '--runc-binary', runtime, '--runc-root', join(dir, 'runc'), '--rootfs', rootfs, id, '/bin/probe', ...steps])
  return { id, result }
}

async function remove(id: string): Promise<void> {
  await containerd.ctr(['task', 'kill', '-s', '9', id])
  await containerd.ctr(['task', 'rm', '-f', id])
  await containerd.ctr(['container', 'rm', id])
}

describeKernel('minirunc under containerd (ctr run --runc-binary)', () => {
  it('runs a container: its output, and its exit code as ctr\'s', async () => {
    const { id, result } = await ctrRun(['--rm'], ['pid', 'out:from-ctr', 'exit:3'])
    expect(result.stderr, 'containerd reports the runtime\'s last error line from log.json').not.toMatch(/OCI runtime/)
    expect(probeLines(result.stdout.split('\n').filter((l) => l.startsWith('{')).join('\n'))[0], 'the probe is PID 1 of its own PID namespace').toEqual({ pid: 1, ppid: 0 })
    expect(result.stdout).toContain('from-ctr')
    expect(result.code, `ctr must exit with the container's code 3; stderr: ${result.stderr}`).toBe(3)
    expect((await containerd.ctr(['container', 'ls', '-q'])).stdout).not.toContain(id)
  })

  it('-d, task ps, task kill: a detached container is listed, signalled and stops', async () => {
    const { id, result } = await ctrRun(['-d'], ['sleep:60000'])
    try {
      expect(result.code, `ctr run -d failed: ${result.stderr}`).toBe(0)
      const ls = await containerd.ctr(['task', 'ls'])
      expect(ls.stdout, 'the task must be RUNNING: did start open exec.fifo?').toMatch(new RegExp(`${id}\\s+\\d+\\s+RUNNING`))
      const pid = Number(new RegExp(`${id}\\s+(\\d+)`).exec(ls.stdout)![1])
      const ps = await containerd.ctr(['task', 'ps', id])
      expect(ps.stdout, 'task ps calls `ps --format json ID`: the container\'s host PIDs').toMatch(new RegExp(`^${pid}\\s`, 'm'))
      expect((await containerd.ctr(['task', 'kill', '-s', '9', id])).code).toBe(0)
      let status = ''
      for (let i = 0; i < 100 && !status.includes('STOPPED'); i++) {
        status = (await containerd.ctr(['task', 'ls'])).stdout
        await new Promise((r) => setTimeout(r, 100))
      }
      expect(status, 'after kill -s 9 the task must be STOPPED: the shim must see the container\'s process exit').toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`))
    } finally {
      await remove(id)
    }
  }, 180_000)

  it('task exec runs a second process inside the container\'s namespaces', async () => {
    const { id, result } = await ctrRun(['-d'], ['sleep:60000'])
    try {
      expect(result.code, `ctr run -d failed: ${result.stderr}`).toBe(0)
      const r = await containerd.ctr(['task', 'exec', '--exec-id', 'x1', id, '/bin/probe', 'pid', 'exit:5'])
      expect(probeLines(r.stdout), `task exec calls \`exec --process FILE --detach --pid-file F ID\`; it exited ${r.code}: ${r.stderr}`).toEqual([{ pid: 2, ppid: 0 }])
      expect(r.code, 'the exec\'d process\'s exit code, as the shim collects it: 137 means it was killed, or its exit was collected by someone else than the shim (whose child must it be when exec --detach returns? See "exec")').toBe(5)
    } finally {
      await remove(id)
    }
  }, 180_000)

  it('ctr run -t: the container\'s process has a terminal, its master sent to the shim over --console-socket', async () => {
    const id = `c${next++}`
    const r = await containerd.ctr(['run', '--rm', '-t', '--runc-binary', runtime, '--runc-root', join(dir, 'runc'), '--rootfs', rootfs, id, '/bin/probe', 'tty', 'out:on-a-tty', 'exit:3'], true)
    await remove(id)
    expect(probeLines(r.stdout)[0], `stdin must be the slave of a pty of the container's own devpts (/dev/pts/0 inside) and its controlling terminal, the master sent to the shim over --console-socket (the text's "A terminal"); output: ${r.stdout}`).toEqual({ tty: '/dev/pts/0', controlling: true })
    expect(r.stdout, 'ctr -t shows what the container wrote to its terminal').toContain('on-a-tty')
    expect(r.code, 'ctr exits with the container\'s code').toBe(3)
  }, 120_000)

  it('a program that does not exist: ctr shows minirunc\'s error from its log', async () => {
    const id = `c${next++}`
    const r = await containerd.ctr(['run', '--rm', '--runc-binary', runtime, '--runc-root', join(dir, 'runc'), '--rootfs', rootfs, id, '/bin/nope'])
    await remove(id)
    expect(r.code).not.toBe(0)
    expect(r.stderr, 'the shim reads the last {"level":"error"} line of --log').toMatch(/OCI runtime create failed: exec: "\/bin\/nope": stat \/bin\/nope: no such file or directory/)
  })
})
