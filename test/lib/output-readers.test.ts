/**
 * outputReaders (given, lib/output-streams.ts) against the kernel's FIFOs alone, no containerd:
 * opened before any writer, as start() opens them, and read to the end while a writer (this
 * process, standing in for the shim) writes and closes.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { outputReaders } from '../../lib/output-streams.ts'
import { describeKernel } from '../support/kernel.ts'

const cleanups: (() => void)[] = []
afterEach(() => cleanups.splice(0).reverse().forEach((f) => f()))

const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])

describeKernel('outputReaders (given)', () => {
  it('a reader opened before the writer reads all it writes, and ends when it closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minidocker-fifo-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'init-stdout')
    execFileSync('mkfifo', ['-m', '600', path])
    const chunks: Buffer[] = []
    const [reader] = outputReaders({ stdout: path }, (_stream, chunk) => chunks.push(chunk))
    cleanups.push(() => reader!.close())
    const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)
    let open = true
    cleanups.push(() => open && closeSync(writer))
    writeSync(writer, 'first\n')
    await new Promise((resolve) => setTimeout(resolve, 100))
    writeSync(writer, 'last\n')
    closeSync(writer)
    open = false
    expect(await within(reader!.drained, 5000), 'the only writer of a FIFO closed: the given reader opened before it should have ended').toBe(true)
    expect(Buffer.concat(chunks).toString(), 'what the reader read of what the writer wrote').toBe('first\nlast\n')
  })
})
