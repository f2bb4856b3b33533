/**
 * The shim driven by the real containerd 1.6 and its ctr: one containerd for the file, the
 * shim found on its PATH as containerd-shim-minidocker-v2, runc as the runtime below it.
 */
import { spawn } from 'node:child_process'
import { execa } from 'execa'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { expect, it } from 'vitest'
import { Status, grpcDefinition } from '../../lib/containerd-proto.ts'
import { describeKernel } from '../support/kernel.ts'
import { CTR, type Containerd } from '../support/containerd.ts'
import { onCleanup } from '../support/files.ts'
import { containerdForFile, ctrOk, type CtrResult, ctrRun, parentOf, processGone, SHIM, taskRow, waitUntil } from './support.ts'


describeKernel('the shim under the real containerd', () => {
  let ctd: Containerd
  let rootfs: string
  let n = 0
  const name = (what: string) => `${what}-${++n}`
  const run = (flags: string[], id: string, cmd: string[], input?: string, timeout?: number) => ctrRun(ctd, rootfs, flags, id, cmd, { input, timeout })
  containerdForFile((c, r) => ((ctd = c), (rootfs = r)))

  it('runs a container with ctr run --rm: its output, and its exit code as ctr\'s', async () => {
    const r = ctrOk(await run(['--rm'], name('rm'), ['sh', '-c', 'echo hello; echo oops >&2; exit 3']), 'ctr run --rm')
    expect(r.stdout, `expected the container's stdout through containerd's FIFO but saw ${JSON.stringify(r.stdout)} — what carries the container's output from the runtime's pipes to ctr's FIFOs, and when does ctr see its end (the text's "The FIFOs")?`).toBe('hello')
    expect(r.stderr, 'expected the container\'s stderr on ctr\'s stderr — where did its stderr go (the text\'s "The FIFOs")?').toContain('oops')
    expect(r.exitCode, `expected ctr to exit with the container's code 3 but saw ${r.exitCode} (${r.stderr.trim()}) — does Wait answer the exit status the reaper reported?`).toBe(3)
  }, 60_000)

  it('ctr run --rm with "abc" on its stdin: sh -c \'cat; echo done\'', async () => {
    const r = ctrOk(await run(['--rm'], name('stdin'), ['sh', '-c', 'cat; echo done'], 'abc\n', 20_000), 'ctr run --rm with stdin', 'cat never saw the end of its input — what does the process see when ctr\'s stdin ends (the text\'s "The FIFOs", fifo(7))?')
    expect(r.stdout, `expected "abc" then "done" but saw ${JSON.stringify(r.stdout)} — how does ctr's stdin reach the process, and its end too (the text's "The FIFOs")?`).toBe('abc\ndone')
    expect(r.exitCode).toBe(0)
  }, 60_000)

  it('ctr run --rm with 1 MiB on its stdin, read by a container that pauses for 2 s before the last 128 KiB', async () => {
    const size = 1 << 20
    // one read(2) of at most 16 KiB at a time; 128 KiB before the end it stops reading for 2 s,
    // so that CloseIO comes while its stdin is full; then the count
    const count = `n=0; p=; while c=$(busybox dd bs=16384 count=1 2>/dev/null | busybox wc -c); [ "$c" -gt 0 ]; do n=$((n+c)); if [ -z "$p" ] && [ $n -ge ${size - (128 << 10)} ]; then p=1; sleep 2; fi; done; echo $n`
    const r = ctrOk(await run(['--rm'], name('bulk'), ['sh', '-c', count], 'x'.repeat(size), 60_000), 'ctr run --rm with 1 MiB of stdin', 'the container never saw the end of its input — what does it see when CloseIO comes while its stdin is still full (the text\'s "The FIFOs")?')
    expect(r.stdout, `ctr wrote ${size} bytes into the stdin FIFO and then sent CloseIO; the container counted ${JSON.stringify(r.stdout)} before its end-of-file — where were the missing bytes when CloseIO came, and what did ending the process's stdin do to them (the text's "The FIFOs")?`).toBe(String(size))
    expect(r.exitCode).toBe(0)
  }, 90_000)

  it('ctr run --rm of a container that writes 512 KiB and exits, ctr\'s stdout piped into a reader that takes 16 KiB every 250 ms', async () => {
    const size = 512 << 10
    // the reader: 64 KiB at once, then 16 KiB every 250 ms until the end, never stopping; then the count.
    // ctr reads its FIFO a few times a second then: far more often than the shim's quiet bound
    const reader = 'n=$(dd bs=65536 count=1 iflag=fullblock 2>/dev/null | wc -c); while c=$(dd bs=16384 count=1 iflag=fullblock 2>/dev/null | wc -c); [ "$c" -gt 0 ]; do n=$((n+c)); sleep 0.25; done; echo $n'
    const args = ['--address', ctd.address, '--namespace', ctd.namespace, 'run', '--rm', '--runtime', SHIM, '--env', 'PATH=/bin', '--rootfs', rootfs, name('slow'), 'sh', '-c', `head -c ${size} /dev/zero`]
    const piped = execa('sh', ['-c', `"$@" | { ${reader}; }`, 'sh', CTR, ...args], { reject: false, timeout: 60_000, killSignal: 'SIGKILL', detached: true })
    onCleanup(() => {
      try {
        process.kill(-piped.pid!, 'SIGKILL') // ctr and the reader, by their process group
      } catch {} // over already
    })
    const r = await piped
    const got = ctrOk({ exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }, 'ctr run --rm into a slow reader').stdout
    expect(got, `the container wrote ${size} bytes to its stdout and exited; ctr's stdout went into a reader that took 16 KiB every 250 ms and never stopped, and it got ${got} — what did ctr 1.6.20 do with its FIFOs when it heard of the exit, and what was still on its way then?`).toBe(String(size))
  }, 90_000)

  it('ctr task kill -s SIGKILL of a ctr run --rm sleep 600', async () => {
    const id = name('signal')
    let ended: CtrResult | undefined
    const running = run(['--rm'], id, ['sleep', '600']).then((r) => (ended = r))
    await waitUntil(async () => {
      if (ended) ctrOk(ended, 'ctr run --rm sleep')
      return taskRow(await ctd.ctr(['task', 'ls']), id)?.status === 'RUNNING'
    }, 15_000, `expected ${id} RUNNING in ctr task ls, then to kill it`)
    ctrOk(await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]), 'ctr task kill')
    const r = ctrOk(await running, 'ctr run --rm')
    expect(r.exitCode, `ctr exited with ${r.exitCode} for a container killed by SIGKILL — how do a shell and containerd report a death by signal (the text's "Exits, also early ones")?`).toBe(137)
  }, 60_000)

  it('ctr run --rm /nonexistent', async () => {
    const r = ctrOk(await run(['--rm'], name('missing'), ['/nonexistent']), 'ctr run --rm /nonexistent')
    expect(r.exitCode, 'expected ctr to fail for a command that does not exist').not.toBe(0)
    expect(r.stderr, `expected containerd's words for a failed create, then the runtime's own reason, but saw ${JSON.stringify(r.stderr.trim())} — where does the runtime say why it failed, and which of its words does containerd show (the text's "The runtime's command line")?`).toMatch(/OCI runtime create failed:.*\/nonexistent.*no such file or directory/)
  }, 60_000)

  it('ctr run -d sleep 600: task ls, task ps, the process tree, task kill, task rm', async () => {
    const id = name('detached')
    ctrOk(await run(['-d'], id, ['sleep', '600']), 'ctr run -d')
    const row = taskRow(await ctd.ctr(['task', 'ls']), id)
    expect(row?.status, `expected ${id} RUNNING in ctr task ls but saw ${JSON.stringify(row)} — what does State answer after Start?`).toBe('RUNNING')
    const pid = row!.pid
    const ps = ctrOk(await ctd.ctr(['task', 'ps', id]), 'ctr task ps')
    expect(ps.stdout, `expected the task's PID ${pid} in ctr task ps — what does Pids answer (lib/shim-task.ts)?`).toContain(String(pid))
    // the process tree: the container below the shim's reaper, the shim not below containerd
    const reaper = parentOf(pid)
    expect(reaper, 'the container\'s process was adopted by init (PID 1), not by the shim\'s side — who inherits an orphan (prctl(2)), and what must be true of the shim\'s processes when the runtime exits? See the text\'s "Why the shim outlives containerd"').not.toBe(1)
    expect(readFileSync(`/proc/${reaper}/cmdline`, 'utf8'), 'expected the container\'s parent to be one of the shim\'s processes (minidocker-helper)').toContain('minidocker-helper')
    expect(parentOf(reaper), 'the shim is a child of containerd — what becomes of it when containerd dies (the text\'s "Why the shim outlives containerd")?').not.toBe(ctd.pid)
    ctrOk(await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]), 'ctr task kill')
    await waitUntil(async () => taskRow(await ctd.ctr(['task', 'ls']), id)?.status === 'STOPPED', 15_000, `expected ${id} STOPPED after ctr task kill — who delivers the signal, and when does State change (the text's "The Task service")?`)
    ctrOk(await ctd.ctr(['task', 'rm', id]), 'ctr task rm')
    expect(taskRow(await ctd.ctr(['task', 'ls']), id), 'expected the task gone after ctr task rm').toBeUndefined()
    await waitUntil(async () => processGone(reaper), 10_000, `expected the shim gone after ctr task rm (Delete, then Shutdown) but its process ${reaper} still runs — when may a shim leave (runc's shim: service.go, Shutdown)?`)
    ctrOk(await ctd.ctr(['containers', 'rm', id]), 'ctr containers rm')
  }, 90_000)

  it('ctr events during a ctr run --rm true', async () => {
    const id = name('events')
    const events = spawn('/usr/bin/ctr', ['--address', ctd.address, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let seen = ''
    events.stdout.on('data', (b: Buffer) => (seen += b))
    try {
      await new Promise((resolve) => setTimeout(resolve, 300))
      // the same run through containerd's own shim first: its events are the measure
      ctrOk(await ctd.ctr(['run', '--rm', '--env', 'PATH=/bin', '--rootfs', rootfs, `${id}-runc`, 'true']), 'ctr run --rm true through io.containerd.runc.v2')
      ctrOk(await run(['--rm'], id, ['true']), 'ctr run --rm true')
      await waitUntil(async () => seen.split('\n').some((l) => l.includes('/containers/delete') && new RegExp(`\\b${id}(\\s|"|$)`).test(l)), 10_000, 'ctr events showed no /containers/delete')
    } finally {
      events.kill()
    }
    const topicsOf = (task: string) => seen.split('\n').filter((l) => l.includes('/tasks/') && new RegExp(`\\b${task}(\\s|"|$)`).test(l)).map((l) => /\/tasks\/[a-z-]+/.exec(l)![0])
    const [topics, theirs] = [topicsOf(id), topicsOf(`${id}-runc`)]
    expect(theirs.length, 'ctr events showed nothing of the task run through containerd-shim-runc-v2').toBeGreaterThan(0)
    expect(topics.join(' ') === theirs.join(' '), `ctr events showed ${JSON.stringify(topics)} for ctr run --rm true through your shim, and ${theirs.length} task events, not these in this order, for the same run through containerd-shim-runc-v2 — what could let one event overtake another, or an exit go out before the start (the text's "Events" and "The Task service")?`).toBe(true)
  }, 60_000)

  it('containerd killed with SIGKILL and restarted under a ctr run -d task', async () => {
    const id = name('survivor')
    ctrOk(await run(['-d'], id, ['sleep', '600']), 'ctr run -d')
    const pid = taskRow(await ctd.ctr(['task', 'ls']), id)!.pid
    const bundle = join(ctd.dir, 'state', 'io.containerd.runtime.v2.task', ctd.namespace, id)
    expect(existsSync(join(bundle, 'address')), `expected the file of ${bundle} that a restarted containerd reads to find the shim — what does it read, from where (core/runtime/v2/shim_load.go, loadShim)?`).toBe(true)
    await ctd.crash()
    expect(processGone(pid), 'the container died with containerd — what still tied the shim\'s processes to containerd\'s, and how does runc\'s shim cut it (manager_linux.go, newCommand)?').toBe(false)
    await ctd.restart()
    const row = taskRow(await ctd.ctr(['task', 'ls']), id)
    expect(row?.status, `expected ${id} RUNNING after containerd's restart but saw ${JSON.stringify(row)} — how does a restarted containerd find the shim and learn that the task lives (the text's "Why the shim outlives containerd")?`).toBe('RUNNING')
    ctrOk(await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]), 'ctr task kill after the restart')
    await waitUntil(async () => taskRow(await ctd.ctr(['task', 'ls']), id)?.status === 'STOPPED', 15_000, `expected ${id} STOPPED after the kill`)
    ctrOk(await ctd.ctr(['task', 'rm', id]), 'ctr task rm')
    ctrOk(await ctd.ctr(['containers', 'rm', id]), 'ctr containers rm')
  }, 120_000)

  it('the shim of a ctr run -d sleep 600 killed with SIGKILL', async () => {
    const id = name('orphan')
    ctrOk(await run(['-d'], id, ['sleep', '600']), 'ctr run -d')
    const pid = taskRow(await ctd.ctr(['task', 'ls']), id)!.pid
    const shim = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).find((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')
        return cmd.includes(id) && cmd.includes('serve')
      } catch {
        return false
      }
    })
    expect(shim, `expected a shim process serving ${id}`).toBeDefined()
    process.kill(shim!, 'SIGKILL')
    await waitUntil(() => processGone(pid), 15_000, `expected the container's process ${pid} killed after its shim died — containerd runs the shim binary's delete then: what may a dead shim's task have left running (the text's "delete, after every task")?`)
    await waitUntil(async () => taskRow(await ctd.ctr(['task', 'ls']), id)?.status !== 'RUNNING', 15_000, `expected ${id} no longer RUNNING after its shim died`)
    await ctd.ctr(['task', 'rm', '-f', id])
    ctrOk(await ctd.ctr(['containers', 'rm', id]), 'ctr containers rm')
  }, 90_000)

  it('a ctr run -d task seen through containerd\'s gRPC services (lib/proto)', async () => {
    const id = name('grpc')
    ctrOk(await run(['-d'], id, ['sleep', '600']), 'ctr run -d')
    const services = (grpc.loadPackageDefinition(grpcDefinition()) as any).containerd.services
    const metadata = new grpc.Metadata()
    metadata.set('containerd-namespace', ctd.namespace)
    const call = (Service: any, method: string, request: object): Promise<any> => {
      const client = new Service(`unix://${ctd.address}`, grpc.credentials.createInsecure())
      return new Promise((resolve, reject) => client[method](request, metadata, (error: Error | null, response: unknown) => (client.close(), error ? reject(error) : resolve(response))))
    }
    const version = await call(services.version.v1.Version, 'Version', {})
    expect(version.version, 'expected containerd\'s version through version.v1.Version').toMatch(/^1\.6\./)
    const { containers } = await call(services.containers.v1.Containers, 'List', {})
    expect(containers.find((c: any) => c.id === id)?.runtime?.name, 'expected the container to name our runtime').toBe(SHIM)
    const { tasks } = await call(services.tasks.v1.Tasks, 'List', {})
    const task = tasks.find((t: any) => t.id === id)
    expect(task && [task.status, task.pid > 0], `expected ${id} RUNNING with a PID in tasks.v1.Tasks/List (which containerd answers from the shim's State)`).toEqual([Status.RUNNING, true])
    ctrOk(await ctd.ctr(['task', 'rm', '-f', id]), 'ctr task rm -f')
    ctrOk(await ctd.ctr(['containers', 'rm', id]), 'ctr containers rm')
  }, 60_000)

  it('ctr task exec sh -c \'echo inside; exit 4\' in a ctr run -d task', async () => {
    const id = name('exec')
    ctrOk(await run(['-d'], id, ['sleep', '600']), 'ctr run -d')
    const r = ctrOk(await ctd.ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo inside; exit 4']), 'ctr task exec')
    expect(r.stdout, `expected the exec's output but saw ${JSON.stringify(r.stdout)} — what does Start do for an exec (the text's "exec")?`).toBe('inside')
    expect(r.exitCode, `expected the exec's exit code 4 but saw ${r.exitCode} (${r.stderr.trim()})`).toBe(4)
    ctrOk(await ctd.ctr(['task', 'rm', '-f', id]), 'ctr task rm -f')
    ctrOk(await ctd.ctr(['containers', 'rm', id]), 'ctr containers rm')
  }, 90_000)

  it('eight quick ctr task exec in a row', async () => {
    const id = name('quick')
    ctrOk(await run(['-d'], id, ['sleep', '600']), 'ctr run -d')
    // the exec may be over, its empty stderr at end-of-file, before exec --detach returns
    for (let i = 1; i <= 8; i++) {
      const r = ctrOk(await ctd.ctr(['task', 'exec', '--exec-id', `q${i}`, id, 'sh', '-c', 'echo inside; exit 4'], { timeout: 15_000 }), `ctr task exec #${i}`, 'the exec\'s output never ended — this exec can be over before the runtime\'s exec returns: in what state are its pipes when copyStdio gets them (the TODO of copyStdio)?')
      expect({ out: r.stdout, code: r.exitCode }, `exec #${i}: ${r.stderr.trim()}`).toEqual({ out: 'inside', code: 4 })
    }
    ctrOk(await ctd.ctr(['task', 'rm', '-f', id]), 'ctr task rm -f')
    ctrOk(await ctd.ctr(['containers', 'rm', id]), 'ctr containers rm')
  }, 240_000)

  it('20 ctr run --rm at once, container i printing i and exiting with i', async () => {
    const ids = Array.from({ length: 20 }, () => name('many'))
    const runs = await Promise.all(ids.map((id, i) => run(['--rm'], id, ['sh', '-c', `echo ${i}; exit ${i}`])))
    runs.forEach((r, i) => {
      ctrOk(r, `ctr run --rm #${i}`)
      expect({ out: r.stdout, code: r.exitCode }, `container ${i} of 20: ${r.stderr.trim()}`).toEqual({ out: String(i), code: i })
    })
    const left = readdirSync(join(ctd.dir, 'state', 'io.containerd.runtime.v2.task', ctd.namespace)).filter((id) => ids.includes(id))
    expect(left, 'expected the bundles of these 20 runs removed').toEqual([])
  }, 180_000)
})
