/**
 * A terminal through the shim under the real containerd 1.6: `ctr run -t` and `ctr task exec -t`
 * on a terminal of their own (script), runc below the shim. The shim listens on a console socket,
 * the runtime sends it the pty master, the shim's keeper copies and resizes.
 */
import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { onCleanup } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import type { Containerd } from '../support/containerd.ts'
import { containerdForFile, ctrOk, ctrRun, holdersOf, taskRow, waitUntil } from './support.ts'

/** The size of ctr's terminal (rows, columns), which ctr sends the shim with ResizePty. */
const SIZE: [number, number] = [33, 77]
/** Prints the terminal's size once it has one (busybox's stty fails on 0 0): ctr resizes only after Start. */
const PRINT_SIZE = 'i=0; while [ $i -lt 100 ]; do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; i=$((i+1)); done; stty size'

describeKernel('a terminal through the shim (ctr -t)', () => {
  let ctd: Containerd
  let rootfs: string
  let n = 0
  const name = (what: string) => `${what}-${++n}`
  const runTty = (id: string, cmd: string[]) => ctrRun(ctd, rootfs, ['--rm', '-t'], id, cmd, { tty: SIZE })
  containerdForFile((c, r) => ((ctd = c), (rootfs = r)))

  it('ctr run -t sh -c \'[ -t 0 ] && [ -t 1 ] && echo on a terminal; exit 5\'', async () => {
    const r = ctrOk(await runTty(name('tty'), ['sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo on a terminal; exit 5']), 'ctr run -t', 'where does the terminal\'s master go, from when to when, and who copies from it (the text\'s "A terminal")?')
    expect(r.stdout, `expected "on a terminal" from a process whose stdin and stdout are a terminal but saw ${JSON.stringify(r.stdout)} (${r.stderr.trim()}) — does a process that asks for a terminal get one, kept for as long as it runs (the text's "A terminal")?`).toContain('on a terminal')
    expect(r.exitCode, `expected ctr to exit with the container's code 5 but saw ${r.exitCode}`).toBe(5)
  }, 60_000)

  it('ctr run -t stty size on a 33x77 terminal', async () => {
    const r = ctrOk(await runTty(name('size'), ['sh', '-c', PRINT_SIZE]), 'ctr run -t stty size')
    expect(r.stdout.trim(), `expected the size of ctr's terminal, ${SIZE.join(' ')}, but saw ${JSON.stringify(r.stdout)} (${r.stderr.trim()}) — what does ctr send with ResizePty, and what does the terminal's size take (tty_ioctl(4))?`).toBe(SIZE.join(' '))
  }, 60_000)

  for (const [what, flags, cmd] of [
    ['a command that does not exist', [], ['/nonexistent']],
  ] as const) {
    it(`ctr run -t of ${what}: nothing left holding its terminal`, async () => {
      const id = name(`failed-${process.pid}`)
      // ctr names its FIFOs ID-stdin, ID-stdout; the shim's command line names the container
      const ours = (pid: number, links: string[]) =>
        links.some((link) => /\/([^/]+)-std(in|out|err)( \(deleted\))?$/.exec(link)?.[1] === id) ||
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(`-id ${id} serve`)
      onCleanup(() => {
        for (const pid of holdersOf(ours)) process.kill(pid, 'SIGKILL')
      })
      const r = ctrOk(await ctrRun(ctd, rootfs, ['--rm', '-t', ...flags], id, [...cmd], { tty: SIZE }), `ctr run -t of ${what}`)
      expect(r.exitCode, `expected ctr run -t of ${what} to fail`).not.toBe(0)
      const left = () => holdersOf(ours).map((pid) => `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`)
      await waitUntil(() => left().length === 0, 10_000, `ctr run -t of ${what} failed (${(r.stdout + r.stderr).trim()}), and 10 s later these still ran for it: ${JSON.stringify(left())} — containerd is done with this task: what was each of them still waiting for, and whose job was it to end it (the text's "A terminal" and Shutdown)?`)
    }, 60_000)
  }

  it('ctr task exec -t into a ctr run -d task', async () => {
    const id = name('exec')
    ctrOk(await ctrRun(ctd, rootfs, ['-d'], id, ['sleep', '600']), 'ctr run -d')
    expect(taskRow(await ctd.ctr(['task', 'ls']), id)?.status).toBe('RUNNING')
    try {
      const r = ctrOk(await ctd.ctr(['task', 'exec', '-t', '--exec-id', 'tty1', id, 'sh', '-c', `[ -t 1 ] && echo exec on a terminal; ${PRINT_SIZE}; exit 6`], { tty: SIZE }), 'ctr task exec -t')
      expect(r.stdout, `expected the exec's output through its terminal but saw ${JSON.stringify(r.stdout)} (${r.stderr.trim()}) — does an exec that asks for a terminal get one of its own?`).toContain('exec on a terminal')
      expect(r.stdout, 'expected the exec\'s terminal at ctr\'s size — which process does a ResizePty name?').toContain(SIZE.join(' '))
      expect(r.exitCode, `expected the exec's code 6 but saw ${r.exitCode}`).toBe(6)
    } finally {
      await ctd.ctr(['task', 'rm', '-f', id])
      await ctd.ctr(['containers', 'rm', id])
    }
  }, 90_000)
})
