/**
 * noMoreWriters (given, lib/output-streams.ts) against the kernel's FIFOs alone, no containerd: a reader from the given
 * outputReaders, opened after the last writer went, a writer that still holds its
 * end, a FIFO nobody reads, and one that is gone. The shim's part is played by this process.
 */
import { spawn, execFileSync } from 'node:child_process'
import { closeSync, constants, existsSync, lstatSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { noMoreWriters, outputReaders } from '../../lib/output-streams.ts'
import { describeKernel } from '../support/kernel.ts'

const SECTION = 'lib/output-streams.ts, given; chapter 11\'s "Output that never ends"'
const cleanups: (() => void)[] = []
afterEach(() => cleanups.splice(0).reverse().forEach((f) => f()))

/** A FIFO in a temp dir of its own, removed after the test. */
function fifo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-fifo-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'init-stdout')
  execFileSync('mkfifo', ['-m', '600', path])
  return path
}
/** A descriptor this test holds, closed after the test if it still is. */
function hold(path: string, flags: number): { fd: number; close(): void } {
  const fd = openSync(path, flags)
  let open = true
  const close = () => {
    if (open) closeSync(fd)
    open = false
  }
  cleanups.push(close)
  return { fd, close }
}
/** The daemon's reader of `path` (the given outputReaders): what it reads, and whether it has ended. */
function reader(path: string) {
  const chunks: Buffer[] = []
  const [r] = outputReaders({ stdout: path }, (_stream, chunk) => chunks.push(chunk))
  cleanups.push(() => r!.close())
  let ended = false
  void r!.drained.then(() => (ended = true))
  return { read: () => Buffer.concat(chunks), ended: () => ended, drained: r!.drained }
}
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

describeKernel('noMoreWriters (given)', () => {
  it('a reader opened after the shim let go of a FIFO it wrote nothing more to', async () => {
    const path = fifo()
    // the shim, while no daemon ran: a read end of its own (so its writes never fail) and its write end
    const shimReader = hold(path, constants.O_RDONLY | constants.O_NONBLOCK)
    const shimWriter = hold(path, constants.O_WRONLY | constants.O_NONBLOCK)
    shimWriter.close()
    const daemon = reader(path) // a daemon started again: its reader comes after the last writer
    shimReader.close() // Tasks.Delete: the shim lets go
    await turns(5)
    noMoreWriters(path)
    expect(await within(daemon.drained, 5000), `the daemon's reader of a FIFO was opened after the last writer had gone, and nothing is left in it; then noMoreWriters ran: the reader should see its end-of-file. What has this reader been told of writers, and what makes the kernel tell it more (${SECTION})?`)
      .toBe(true)
  })

  it('a writer that still holds its end', async () => {
    const path = fifo()
    const daemon = reader(path)
    const shimWriter = hold(path, constants.O_WRONLY | constants.O_NONBLOCK)
    writeSync(shimWriter.fd, 'before\n')
    noMoreWriters(path)
    await turns(20)
    expect(daemon.ended(), `noMoreWriters ran while the shim still held its write end: the daemon's reader must not end before the shim lets go (${SECTION})`).toBe(false)
    writeSync(shimWriter.fd, 'after\n')
    shimWriter.close()
    expect(await within(daemon.drained, 5000), 'the reader never ended after the last writer closed').toBe(true)
    expect(daemon.read().toString(), 'the reader should have read everything the writer wrote, before and after noMoreWriters').toBe('before\nafter\n')
  })

  it('a FIFO nobody reads any more, and one that is gone', async () => {
    const path = fifo()
    // should noMoreWriters wait for a reader, one comes in 3 s and lets it go on (killed by PID otherwise)
    const rescuer = spawn('sh', ['-c', `sleep 3; exec 3<"${path}"`], { stdio: 'ignore' })
    cleanups.push(() => {
      if (rescuer.exitCode === null) process.kill(rescuer.pid!, 'SIGKILL')
    })
    const began = Date.now()
    let thrown: unknown
    try {
      noMoreWriters(path)
    } catch (error) {
      thrown = error
    }
    const took = Date.now() - began
    expect({ waited: took >= 2500 ? `${took} ms, until a reader came` : 'no', thrown: thrown === undefined ? 'nothing' : String(thrown) },
      `noMoreWriters of a FIFO no reader holds: it should return at once, with no error (open(2) and fifo(7): what does an open for writing do when nobody reads?)`)
      .toEqual({ waited: 'no', thrown: 'nothing' })
    rmSync(path)
    thrown = undefined
    try {
      noMoreWriters(path)
    } catch (error) {
      thrown = error
    }
    const left = lstatSync(path, { throwIfNoEntry: false })
    expect({ thrown: thrown === undefined ? 'nothing' : String(thrown), left: left ? (left.isFile() ? 'a regular file' : 'something') : 'nothing' },
      `noMoreWriters of a FIFO that is gone should do nothing, and leave nothing at its path: what does your open do with a path that does not exist (open(2))?`)
      .toEqual({ thrown: 'nothing', left: 'nothing' })
    expect(existsSync(path)).toBe(false)
  })
})
