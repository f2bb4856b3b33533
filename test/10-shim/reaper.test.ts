/** The reaper's report: every exit, as containerd counts it, also the one that comes early. */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Reaper, parseReaperLine } from '#ch/10-shim/reaper.ts'
import { lastError, Runtime } from '#ch/10-shim/runtime.ts'
import { Code } from '../../lib/containerd-proto.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'

const RUNC = '/usr/sbin/runc'

/** The status sh(1) reports for a child killed by signal `n`, measured: containerd counts the same way. */
const shellStatus = (n: number) => Number(execFileSync('sh', ['-c', `sh -c 'kill -${n} $$'; echo $?`], { encoding: 'utf8' }).trim())

describe('the reaper\'s report', () => {
  it('"123 exit 3", "124 signal 9" and a line that is no exit', () => {
    expect(parseReaperLine('123 exit 3')?.status, 'expected "123 exit 3" to be status 3').toBe(3)
    expect(parseReaperLine('124 signal 9')?.status === shellStatus(9), `"124 signal 9" became status ${parseReaperLine('124 signal 9')?.status} and "123 exit 9" becomes 9 — ctr run exits with this number: how would its caller, or a shell, tell a process killed by SIGKILL from one that exited with 9 (the text's "Exits, also early ones")?`).toBe(true)
    expect(parseReaperLine('124 signal 9')?.pid).toBe(124)
    expect(parseReaperLine('garbage'), 'expected null for a line that is no exit').toBeNull()
  })

  it('exits reported before and after exited(pid) is called', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    socket.write('41 exit 0\n42 ex')
    socket.write('it 5\n')
    await new Promise((resolve) => setImmediate(resolve))
    const late = reaper.exited(43)
    socket.write('43 signal 15\n')
    const early = await Promise.race([reaper.exited(42), new Promise((resolve) => setTimeout(() => resolve('never'), 1000))])
    expect(early, 'expected the exit of 42, reported before exited(42) was called — what became of an exit nobody asked for yet, and how can that happen to a container (the text\'s "Exits, also early ones")?').toMatchObject({ pid: 42, status: 5 })
    expect(await late, 'expected the exit of 43, reported after exited(43) was called, as containerd would report it').toMatchObject({ pid: 43, status: shellStatus(15) })
  })

  it('PID 44 exits early and is collected, then a later process gets PID 44 again', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    socket.write('44 exit 1\n')
    await new Promise((resolve) => setImmediate(resolve))
    expect(await reaper.exited(44)).toMatchObject({ pid: 44, status: 1 })
    const second = reaper.exited(44)
    const first = await Promise.race([second, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 300))])
    expect(first, 'the second process with PID 44 has not exited yet, but exited(44) already settled: which exit answered it, and how many processes may one reported exit answer (the text\'s "Exits, also early ones")?').toBe('still waiting')
    socket.write('44 exit 2\n')
    expect(await second, 'expected the second PID 44\'s own exit').toMatchObject({ pid: 44, status: 2 })
  })
})

describeKernel('the runtime\'s error', () => {
  /**
   * A bundle of busybox whose process is a command that does not exist, with runc's state in
   * the bundle too: runc's create of it fails the way ctr run of a missing command does.
   */
  function missingCommandBundle(): { bundle: string; root: string; log: string } {
    const bundle = tempDir('minidocker-runtime-error-')
    mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true })
    cpSync('/bin/busybox', join(bundle, 'rootfs', 'bin', 'busybox'))
    execFileSync(RUNC, ['spec', '--bundle', bundle])
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    config.process.args = ['/nonexistent']
    config.process.terminal = false
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
    return { bundle, root: join(bundle, 'state'), log: join(bundle, 'log.json') }
  }

  /** runc with `args`, its log JSON in `log`: what it printed on stderr (it fails). */
  const runcFails = (root: string, log: string, args: string[]) =>
    spawnSync(RUNC, ['--root', root, '--log', log, '--log-format', 'json', ...args], { encoding: 'utf8' }).stderr.trim()

  it('runc\'s own log: a warning, a line that is not JSON, a failed kill, then a failed create', () => {
    const { bundle, root, log } = missingCommandBundle()
    const id = `error-${process.pid}`
    onCleanup(() => void spawnSync(RUNC, ['--root', root, 'delete', '--force', id]))
    writeFileSync(log, '{"level":"warning","msg":"something odd","time":"2024-01-01T00:00:00Z"}\nnot json at all\n')
    runcFails(root, log, ['kill', 'ghost', 'KILL'])
    const said = runcFails(root, log, ['create', '--bundle', bundle, id]).split('\n').at(-1)
    const text = readFileSync(log, 'utf8')
    expect(lastError(text), `runc's create failed and said on its stderr ${JSON.stringify(said)}, which ctr would show after "OCI runtime create failed: ", but lastError read ${JSON.stringify(lastError(text))} from its log:\n${text}\nWhich of the log's lines are the reason for this failure, and how would containerd's runc shim tell (the text's "The runtime's command line")?`).toBe(said)
    expect(lastError('{"level":"info","msg":"fine"}\n'), 'expected undefined when the log has no error').toBeUndefined()
  })

  it('a runtime killed before it wrote a word, in a bundle whose log holds an earlier failure', async () => {
    const { bundle, root } = missingCommandBundle()
    // runc, except that its start dies at once, as a runtime the OOM killer picked would
    const binary = join(bundle, 'runtime')
    writeFileSync(binary, `#!/bin/sh\ncase " $* " in *" start "*) kill -KILL $$ ;; esac\nexec ${RUNC} "$@"\n`, { mode: 0o755 })
    const runtime = new Runtime(binary, root, bundle)
    const first = await caught(() => runtime.run(['kill', 'ghost', 'KILL']))
    expect(first?.code, `the runtime's kill of a container that does not exist answered ${first ? `code ${first.code}: ${first.message}` : 'success'} — which code do the runtime's words stand for (the text's "The runtime's command line")?`).toBe(Code.NotFound)
    const second = await caught(() => runtime.run(['start', 'ghost']))
    expect(second, 'expected the runtime\'s start, killed by SIGKILL, to be an error').toBeDefined()
    expect([second!.code === Code.NotFound, /does not exist/.test(second!.message)], `the runtime's start was killed before it wrote anything, and run reported it as code ${second!.code}: ${JSON.stringify(second!.message)} — whose failure do those words describe, and what would containerd conclude from that answer?`).toEqual([false, false])
  })
})
