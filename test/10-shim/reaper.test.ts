/** The reaper's report: every exit, as containerd counts it, also the one that comes early. */
import { execFileSync } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Reaper, parseReaperLine } from '#ch/10-shim/reaper.ts'
import { lastError } from '#ch/10-shim/runtime.ts'

/** The status sh(1) reports for a child killed by signal `n`, measured: containerd counts the same way. */
const shellStatus = (n: number) => Number(execFileSync('sh', ['-c', `sh -c 'kill -${n} $$'; echo $?`], { encoding: 'utf8' }).trim())

describe('the reaper\'s report', () => {
  it('"123 exit 3", "124 signal 9" and a line that is no exit', () => {
    expect(parseReaperLine('123 exit 3')?.status, 'expected "123 exit 3" to be status 3').toBe(3)
    expect(parseReaperLine('124 signal 9')?.status, 'expected "124 signal 9" as the status containerd gives a process killed by SIGKILL, which is the number a shell gives it too (from a shell: sh -c \'kill -9 $$\'; echo $?) — see the text\'s "Exits, also early ones"').toBe(shellStatus(9))
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
    expect(await late, 'expected the exit of 43, reported after exited(43) was called').toMatchObject({ pid: 43, status: shellStatus(15) })
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

describe('the runtime\'s error', () => {
  it('a log with a warning, a line that is not JSON, and two errors', () => {
    const log = [
      '{"level":"warning","msg":"something odd","time":"2024-01-01T00:00:00Z"}',
      'not json at all',
      '{"level":"error","msg":"first","time":"2024-01-01T00:00:00Z"}',
      '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"/x\\": stat /x: no such file or directory","time":"2024-01-01T00:00:01Z"}',
      '',
    ].join('\n')
    expect(lastError(log), `lastError gave ${JSON.stringify(lastError(log))} for this log, not the reason ctr showed after "OCI runtime create failed: " when runc wrote it (ctr run of a missing command shows "runc create failed: unable to start container process: exec: ...") — where does containerd's runc shim take that reason from when runc fails (the text's "The runtime's command line")?`).toBe('runc create failed: unable to start container process: exec: "/x": stat /x: no such file or directory')
    expect(lastError('{"level":"info","msg":"fine"}\n'), 'expected undefined when the log has no error').toBeUndefined()
  })
})
