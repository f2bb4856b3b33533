/**
 * The shim's core under the real containerd once more, with chapter 09's runtime below it
 * (minirunc) instead of runc: the shim drives any runtime with runc's command line.
 */
import { expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { MINIRUNC, type Containerd } from '../support/containerd.ts'
import { containerdForFile, ctrOk, ctrRun, taskRow, waitUntil } from './support.ts'

// beyond ctr's own 60 s, so a hang is told by the step that hung, not by vitest
const LIMIT = 150_000

describeKernel('the shim under the real containerd, with minirunc as its runtime', () => {
  let ctd: Containerd
  let rootfs: string
  const run = (flags: string[], id: string, cmd: string[]) => ctrRun(ctd, rootfs, flags, id, cmd)
  containerdForFile((c, r) => ((ctd = c), (rootfs = r)), { runtime: MINIRUNC, namespace: `minidocker-minirunc-${process.pid}` })

  it('ctr run --rm through minirunc: sh -c \'echo hello; exit 3\'', async () => {
    const r = ctrOk(await run(['--rm'], 'once', ['sh', '-c', 'echo hello; exit 3']), 'ctr run --rm')
    expect({ out: r.stdout, code: r.exitCode }, `expected minirunc's container to print hello and exit 3 (${r.stderr.trim()}) — does the shim drive the runtime through runc's command line, which minirunc reads too (chapter 09)?`).toEqual({ out: 'hello', code: 3 })
  }, LIMIT)

  it('ctr run -d through minirunc: task exec, task kill, task rm', async () => {
    ctrOk(await run(['-d'], 'detached', ['sleep', '600']), 'ctr run -d')
    expect(taskRow(await ctd.ctr(['task', 'ls']), 'detached')?.status, 'expected the task RUNNING after ctr run -d').toBe('RUNNING')
    const exec = ctrOk(await ctd.ctr(['task', 'exec', '--exec-id', 'e1', 'detached', 'sh', '-c', 'echo in; exit 4']), 'ctr task exec')
    expect({ out: exec.stdout, code: exec.exitCode }, `expected the exec's output and code through minirunc (${exec.stderr.trim()}) — does the shim's exec use a command line chapter 09's exec takes?`).toEqual({ out: 'in', code: 4 })
    ctrOk(await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', 'detached']), 'ctr task kill')
    await waitUntil(async () => taskRow(await ctd.ctr(['task', 'ls']), 'detached')?.status === 'STOPPED', 15_000, 'expected the task STOPPED after ctr task kill through minirunc')
    ctrOk(await ctd.ctr(['task', 'rm', 'detached']), 'ctr task rm')
    ctrOk(await ctd.ctr(['containers', 'rm', 'detached']), 'ctr containers rm')
  }, LIMIT)
})
