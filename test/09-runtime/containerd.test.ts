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
  it('ctr run --rm of a probe that prints and exits 3', async () => {
    const { id, result } = await ctrRun(['--rm'], ['pid', 'out:from-ctr', 'exit:3'])
    expect(result.stderr, 'ctr\'s stderr (containerd shows the runtime\'s errors after "OCI runtime")').not.toMatch(/OCI runtime/)
    expect(probeLines(result.stdout.split('\n').filter((l) => l.startsWith('{')).join('\n'))[0], 'the probe is PID 1 of its own PID namespace').toEqual({ pid: 1, ppid: 0 })
    expect(result.stdout, 'ctr run\'s output').toContain('from-ctr')
    expect(result.code, `ctr's exit code vs the program's 3; stderr: ${result.stderr}`).toBe(3)
    expect((await containerd.ctr(['container', 'ls', '-q'])).stdout, 'ctr container ls after ctr run --rm').not.toContain(id)
  })

  it('ctr run -d, then task ls, task ps and task kill -s 9', async () => {
    const { id, result } = await ctrRun(['-d'], ['sleep:60000'])
    try {
      expect(result.code, `ctr run -d failed: ${result.stderr}`).toBe(0)
      const ls = await containerd.ctr(['task', 'ls'])
      expect(ls.stdout, `ctr task ls after ctr run -d of ${id} (the text's "start, kill, delete, run")`).toMatch(new RegExp(`${id}\\s+\\d+\\s+RUNNING`))
      const pid = Number(new RegExp(`${id}\\s+(\\d+)`).exec(ls.stdout)![1])
      const ps = await containerd.ctr(['task', 'ps', id])
      expect(ps.stdout, `ctr task ps ${id}, whose task ls PID is ${pid}`).toMatch(new RegExp(`^${pid}\\s`, 'm'))
      expect((await containerd.ctr(['task', 'kill', '-s', '9', id])).code, 'exit code of ctr task kill -s 9').toBe(0)
      let status = ''
      for (let i = 0; i < 100 && !status.includes('STOPPED'); i++) {
        status = (await containerd.ctr(['task', 'ls'])).stdout
        await new Promise((r) => setTimeout(r, 100))
      }
      expect(status, 'ctr task ls 10 s after task kill -s 9: whose child is the container\'s process once create has exited? (the text\'s "The real thing" and "create")').toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`))
    } finally {
      await remove(id)
    }
  }, 180_000)

  it('ctr task exec of a probe that prints its PID and exits 5', async () => {
    const { id, result } = await ctrRun(['-d'], ['sleep:60000'])
    try {
      expect(result.code, `ctr run -d failed: ${result.stderr}`).toBe(0)
      const r = await containerd.ctr(['task', 'exec', '--exec-id', 'x1', id, '/bin/probe', 'pid', 'exit:5'])
      expect(probeLines(r.stdout), `what ctr task exec's probe printed (the shim runs \`exec --process FILE --detach --pid-file F ID\`); it exited ${r.code}: ${r.stderr}`).toEqual([{ pid: 2, ppid: 0 }])
      expect(r.code, 'ctr task exec\'s exit code vs the program\'s 5: whose child is the exec\'d process once exec --detach has returned? (the text\'s "exec")').toBe(5)
    } finally {
      await remove(id)
    }
  }, 180_000)

  it('ctr run -t of a probe that reports its terminal', async () => {
    const id = `c${next++}`
    const r = await containerd.ctr(['run', '--rm', '-t', '--runc-binary', runtime, '--runc-root', join(dir, 'runc'), '--rootfs', rootfs, id, '/bin/probe', 'tty', 'out:on-a-tty', 'exit:3'], true)
    await remove(id)
    expect(probeLines(r.stdout)[0], `the probe's terminal under ctr run -t (the text's "A terminal"; pts(4)); output: ${r.stdout}`).toEqual({ tty: '/dev/pts/0', controlling: true })
    expect(r.stdout, 'ctr run -t\'s output').toContain('on-a-tty')
    expect(r.code, 'ctr run -t\'s exit code vs the program\'s 3').toBe(3)
  }, 120_000)

  it('ctr run of /bin/nope', async () => {
    const id = `c${next++}`
    const r = await containerd.ctr(['run', '--rm', '--runc-binary', runtime, '--runc-root', join(dir, 'runc'), '--rootfs', rootfs, id, '/bin/nope'])
    await remove(id)
    expect(r.code, 'ctr run\'s exit code').not.toBe(0)
    expect(r.stderr, 'ctr\'s stderr for /bin/nope (the shim shows the last error line of --log)').toMatch(/OCI runtime create failed: exec: "\/bin\/nope": stat \/bin\/nope: no such file or directory/)
  })
})
