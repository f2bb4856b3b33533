/**
 * The reaper's report: every exit to the process it belongs to, also the one that comes before
 * its PID is known, and never to a later process that got the same PID. And the runtime's
 * error: each run's own reason, also when runs overlap.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Reaper } from '#ch/10-shim/reaper.ts'
import { Runtime } from '#ch/10-shim/runtime.ts'
import { parseReaperLine } from '../../lib/shim.ts'
import { caught } from '../support/errors.ts'
import { runcAnswers } from './support.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'

const RUNC = '/usr/sbin/runc'

/** A PID the test tells later, as the runtime's pid file would. */
function pidToCome() {
  let tell!: (pid: number) => void
  let fail!: (error: Error) => void
  const pid = new Promise<number>((resolve, reject) => ((tell = resolve), (fail = reject)))
  return { pid, tell, fail }
}

/** Lets the reaper read what was written to its socket. */
const read = () => new Promise((resolve) => setImmediate(resolve))

/** `promise`'s value, or 'still waiting' after `ms`. */
const within = <T>(promise: Promise<T>, ms = 300) => Promise.race([promise, new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), ms))])

describe('the reaper', () => {
  it('ctr run of a command that ends at once, then ctr task exec of one that runs a while', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    const first = pidToCome()
    const early = reaper.exited(first.pid) // the runtime's create runs
    socket.write('41 exit 0\n42 ex')
    socket.write('it 5\n')
    await read()
    first.tell(42) // the pid file is read: 42, reaped already
    expect(await within(early, 1000), 'expected the exit of 42, reported while the runtime\'s create still ran and before its pid file said 42 — what became of an exit nobody could claim yet, and how does that happen to a container (the text\'s "Exits, also early ones")?').toMatchObject({ pid: 42, status: 5 })
    const late = reaper.exited(Promise.resolve(43))
    await read()
    socket.write('43 signal 15\n')
    expect(await within(late, 1000), 'expected the exit of 43, reported after its PID was known').toMatchObject({ pid: 43, status: parseReaperLine('43 signal 15')!.status })
  })

  it('a container that ended at once, and a later process of the same shim', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    const first = pidToCome()
    const exit = reaper.exited(first.pid)
    socket.write('44 exit 1\n')
    await read()
    first.tell(44)
    expect(await exit).toMatchObject({ pid: 44, status: 1 })
    const second = reaper.exited(Promise.resolve(44))
    expect(await within(second), 'the second process with PID 44 has not exited yet, but its exit already settled: which exit answered it, and how many processes may one reported exit answer (the text\'s "Exits, also early ones")?').toBe('still waiting')
    socket.write('44 exit 2\n')
    expect(await second, 'expected the second PID 44\'s own exit').toMatchObject({ pid: 44, status: 2 })
  })

  it('a shim that has run for days: daemons double-forked in its container, a failed docker exec, and new processes', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    // an orphan the subreaper adopted dies while no create or exec runs
    socket.write('45 exit 0\n')
    await read()
    // one dies while a create runs whose process turns out to be another
    const create = pidToCome()
    const created = reaper.exited(create.pid)
    socket.write('46 exit 1\n')
    await read()
    create.tell(47)
    // one dies while an exec runs that fails: no process was made
    const exec = pidToCome()
    const failed = reaper.exited(exec.pid)
    socket.write('48 exit 1\n')
    await read()
    exec.fail(new Error('runtime exec failed'))
    expect(await failed.then(() => 'settled', () => 'rejected'), 'expected the exit of an exec whose runtime failed, before it made a process, to reject as its PID did').toBe('rejected')
    // much later, the kernel hands out 45, 46 and 48 again
    const answers = await Promise.all([45, 46, 48].map((pid) => within(reaper.exited(Promise.resolve(pid)))))
    const stale = [45, 46, 48].filter((_, i) => answers[i] !== 'still waiting')
    expect(stale, `new processes with PIDs ${stale.join(', ')}, alive, were answered at once with the exit of an earlier process that had the same PID (${['reaped while nothing was being created', 'reaped while a create ran whose process was 47', 'reaped while an exec ran that made no process'].filter((_, i) => answers[i] !== 'still waiting').join('; ')}) — which exits can still belong to a process you will learn of, which can only ever answer the wrong one, and when may they go (containerd 2.x's task/service.go: processExits, preStart, handleStarted)?`).toEqual([])
    expect(await within(created), 'expected 47\'s exit to wait for 47').toBe('still waiting')
  })

  it('docker exec into a container while docker start of its neighbour still runs', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    const create = pidToCome()
    const created = reaper.exited(create.pid) // a create runs, and goes on running
    socket.write('60 exit 9\n') // an orphan the subreaper adopted dies meanwhile
    await read()
    const exec = pidToCome()
    const execExit = reaper.exited(exec.pid) // an exec begins after that
    exec.tell(60) // the kernel gave its process the orphan's PID
    const answer = await within(execExit)
    create.tell(61)
    expect(answer, 'an orphan with PID 60 died while a create ran; then an exec began, and its process got PID 60 and was still alive, yet its exit settled at once — could the exit of a process that was reaped before the exec began ever be the exec\'s, and whose exits does each create or exec hold on to?').toBe('still waiting')
    socket.write('60 exit 3\n')
    expect(await within(execExit, 1000), 'expected the exec\'s own exit').toMatchObject({ pid: 60, status: 3 })
    expect(await within(created), 'expected 61\'s exit to wait for 61').toBe('still waiting')
  })

  it('docker stop of a container while a docker exec into it is under way', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    const running = reaper.exited(Promise.resolve(70)) // the init, say: its PID known, its exit awaited
    await read()
    const exec = pidToCome()
    const execExit = reaper.exited(exec.pid) // an exec's runtime runs
    socket.write('70 exit 0\n') // the init dies meanwhile
    await read()
    expect(await within(running, 1000), 'expected 70\'s exit to reach the one waiting for 70').toMatchObject({ pid: 70, status: 0 })
    exec.tell(70) // the kernel handed the freed PID to the exec's process, which is alive
    const answer = await within(execExit)
    expect(answer, 'the process with PID 70 died while an exec\'s runtime ran, and its exit went to the one waiting for it; then the exec\'s pid file said 70 (the PID, freed, was handed out again), and the exec, still alive, was answered at once — how many processes may one reported exit answer, and which exits does a create or exec need to keep for itself?').toBe('still waiting')
    socket.write('70 exit 4\n')
    expect(await within(execExit, 1000), 'expected the exec\'s own exit').toMatchObject({ pid: 70, status: 4 })
  })

  it('ctr run and ctr task exec at once, both commands ending at once', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    const create = pidToCome()
    const exec = pidToCome()
    const createExit = reaper.exited(create.pid)
    socket.write('50 exit 1\n')
    await read()
    const execExit = reaper.exited(exec.pid)
    socket.write('51 exit 2\n')
    await read()
    exec.tell(51)
    create.tell(50)
    const answers = await Promise.all([within(createExit, 1000), within(execExit, 1000)])
    expect(answers, 'a create and an exec ran at once; 50 and 51 died before either PID was read; then the exec\'s pid file said 51 and the create\'s 50 — which exits did each of them need to see, and what did one of them throw away (or take) that was the other\'s?').toMatchObject([{ pid: 50, status: 1 }, { pid: 51, status: 2 }])
  })
})

describe('the reaper, PIDs handed out again at once', () => {
  it('two docker execs at once, each process dying at once, the second with the PID the first had freed', async () => {
    const socket = new PassThrough()
    const reaper = new Reaper(socket)
    const first = pidToCome()
    const firstExit = reaper.exited(first.pid) // an exec's runtime runs
    socket.write('50 exit 1\n') // 50 dies
    await read()
    const second = pidToCome()
    const secondExit = reaper.exited(second.pid) // a second exec's runtime begins
    socket.write('50 exit 2\n') // 50 dies again: the kernel had handed the PID out anew
    await read()
    second.tell(50)
    first.tell(50)
    const answers = await Promise.all([within(firstExit, 1000), within(secondExit, 1000)])
    const said = answers.map((a) => (typeof a === 'string' ? a : `status ${a.status}`))
    expect(answers, `an exec's runtime ran; PID 50 died; a second exec's runtime began; PID 50 died again; then both pid files said 50, the second's read first. The first exec was answered ${said[0]} and the second ${said[1]} — which of the two exits could each of them have been, and what had each kept of what it heard?`).toMatchObject([{ pid: 50, status: 1 }, { pid: 50, status: 2 }])
  })
})

describeKernel('the runtime\'s error', () => {
  /**
   * A bundle of busybox whose process is a command that does not exist, with runc's state in
   * the bundle too: runc's create of it fails the way ctr run of a missing command does.
   */
  function missingCommandBundle(): { bundle: string; root: string } {
    const bundle = tempDir('minidocker-runtime-error-')
    mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true })
    cpSync('/bin/busybox', join(bundle, 'rootfs', 'bin', 'busybox'))
    execFileSync(RUNC, ['spec', '--bundle', bundle])
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    config.process.args = ['/nonexistent']
    config.process.terminal = false
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
    return { bundle, root: join(bundle, 'state') }
  }

  it('a runtime killed before it wrote a word, in a bundle whose runtime failed before', async () => {
    const { bundle, root } = missingCommandBundle()
    // runc, except that its start dies at once, as a runtime the OOM killer picked would
    const binary = join(bundle, 'runtime')
    writeFileSync(binary, `#!/bin/sh\ncase " $* " in *" start "*) kill -KILL $$ ;; esac\nexec ${RUNC} "$@"\n`, { mode: 0o755 })
    const runtime = new Runtime(binary, root, bundle)
    const first = await caught(() => runtime.run(['kill', 'ghost', 'KILL']))
    const { killNotCreated } = await runcAnswers()
    expect(first?.code === killNotCreated?.code, `the runtime's kill of a container that does not exist answered ${first ? `code ${first.code}: ${first.message}` : 'success'}, and containerd-shim-runc-v2 answered a Kill of a task it did not have ${killNotCreated ? `code ${killNotCreated.code}: ${killNotCreated.message}` : 'success'} — what do the runtime's words say has happened (the text's "The runtime's command line")?`).toBe(true)
    const second = await caught(() => runtime.run(['start', 'ghost']))
    expect(second, 'expected the runtime\'s start, killed by SIGKILL, to be an error').toBeDefined()
    expect([second!.code === killNotCreated?.code, /does not exist/.test(second!.message)], `the runtime's start was killed before it wrote anything, and run reported it as code ${second!.code}: ${JSON.stringify(second!.message)} — whose failure do those words describe, and what would containerd conclude from that answer?`).toEqual([false, false])
  })

  it('the runtime\'s create of a command that is on no PATH', async () => {
    const { bundle, root } = missingCommandBundle()
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    config.process.args = ['nosuchcommand']
    config.process.env = ['PATH=/bin']
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
    const runtime = new Runtime(RUNC, root, bundle)
    const id = `minidocker-nocmd-${process.pid}`
    onCleanup(() => execa(RUNC, ['--root', root, 'delete', '--force', id], { reject: false }).then(() => {})) // a container left half made, if any; waited for, since runc writes under the bundle that is removed next
    const failed = await caught(() => runtime.run(['create', '--bundle', bundle, '--pid-file', join(bundle, 'init.pid'), id], ['ignore', 'pipe', 'pipe']))
    expect(failed, 'expected the runtime\'s create of a command that does not exist to fail').toBeDefined()
    const { execNotOnPath } = await runcAnswers()
    expect(failed!.code === execNotOnPath?.code, `the runtime's create failed with ${JSON.stringify(failed!.message)} and run answered code ${failed!.code}; containerd-shim-runc-v2 answered the exec of a command on no PATH ${execNotOnPath ? `code ${execNotOnPath.code}: ${execNotOnPath.message}` : 'success'} — is anything gone here that containerd could take for an ended process, and which of the runtime's words does containerd's runc shim read as "gone" (process/utils.go)?`).toBe(true)
  })

  it('a Kill while an Exec\'s runtime runs, both failing', async () => {
    const bundle = tempDir('minidocker-runtime-overlap-')
    // Two runs of one shim that overlap: each writes its reason as runc does (a JSON line to its
    // --log, and its stderr), then exits 1 only once the other has written its own.
    const binary = join(bundle, 'runtime')
    writeFileSync(binary, `#!/bin/sh
log=; prev=
for a in "$@"; do
  case $a in --log=*) log=\${a#--log=} ;; esac
  [ "$prev" = --log ] && log=$a
  prev=$a
done
case " $* " in
  *" kill "*) me=kill other=exec msg='container not running' ;;
  *) me=exec other=kill msg='exec failed: unable to start container process: exec: /nosuch: no such file or directory' ;;
esac
[ -n "$log" ] && printf '{"level":"error","msg":"%s","time":"2024-01-01T00:00:00Z"}\\n' "$msg" >>"$log"
echo "$msg" >&2
touch "${bundle}/$me.said"
i=0
while [ ! -e "${bundle}/$other.said" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
exit 1
`, { mode: 0o755 })
    writeFileSync(join(bundle, 'e1.json'), '{"args":["/nosuch"],"cwd":"/"}')
    const runtime = new Runtime(binary, join(bundle, 'state'), bundle)
    const [exec, kill] = await Promise.all([
      caught(() => runtime.run(['exec', '--process', join(bundle, 'e1.json'), '--detach', '--pid-file', join(bundle, 'e1.pid'), 'c1'], ['ignore', 'pipe', 'pipe'])),
      caught(() => runtime.run(['kill', 'c1', 'KILL'])),
    ])
    const said = { exec: exec && `code ${exec.code}: ${exec.message}`, kill: kill && `code ${kill.code}: ${kill.message}` }
    expect([/no such file/.test(exec?.message ?? ''), /not running/.test(kill?.message ?? '')], `a Kill and an Exec ran the runtime at once and both failed, the exec with "exec failed: ...: no such file or directory", the kill with "container not running"; run reported ${JSON.stringify(said)} — whose words did each read, from where, and how would a shim keep each run's reason its own?`).toEqual([true, true])
    const theirs = await runcAnswers()
    const measure = { exec: theirs.execNoSuchFile && `code ${theirs.execNoSuchFile.code}: ${theirs.execNoSuchFile.message}`, kill: theirs.killExited && `code ${theirs.killExited.code}: ${theirs.killExited.message}` }
    expect(exec?.code === theirs.execNoSuchFile?.code && kill?.code === theirs.killExited?.code, `each run now read its own words, and run answered ${JSON.stringify(said)}; containerd-shim-runc-v2 answered an exec of a missing file, and a Kill of a process that had ended, ${JSON.stringify(measure)} — which of the runtime's words say that something is gone (runc's shim, process/utils.go)?`).toBe(true)
  })
})
