/** Temporary files and directories that are removed after each test, pass or fail. */
import { chmodSync, copyFileSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

const cleanups: (() => unknown)[] = []

// Newest first: what a test made last (a helper, a mount) goes before what it stands in. One
// that fails does not keep the rest from running: it is reported once they all have.
const cleanUp = async () => {
  const failures: unknown[] = []
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn()
    } catch (error) {
      failures.push(error)
    }
  }
  if (failures.length === 1) throw failures[0]
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} clean-ups failed`)
}
// After each test; at a terminal (test/support/security.ts's tools, say), once the script is done.
if (process.env.VITEST) (await import('vitest')).afterEach(cleanUp)
else process.once('beforeExit', cleanUp)

// Code under test that failed its test can still be writing when the test's clean-up runs (an
// unpack the pull no longer waits for, say) and make a removed directory again: every temp
// directory goes once more after the file's tests, and as the process exits.
const made = new Set<string>()
const sweep = () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
}
if (process.env.VITEST) (await import('vitest')).afterAll(sweep)
process.once('exit', sweep)

/** A fresh directory under /tmp, removed after the test. */
export function tempDir(prefix = 'minidocker-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.add(dir)
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A copy of the program at `path` that any user can run, removed after the test. A test that
 * drops privileges before exec must not depend on the checkout being reachable by that user:
 * a clone under /root (mode 0700) is not.
 */
export function runnableByAnyone(path: string): string {
  const dir = tempDir()
  chmodSync(dir, 0o755)
  const copy = join(dir, basename(path))
  copyFileSync(path, copy)
  chmodSync(copy, 0o755)
  return copy
}

/** A file to hand to a process as its stdout or stderr; read() gives what it wrote. */
export function captureFile(name: string): { fd: number; read(): string; peek(): string } {
  const path = join(tempDir(), name)
  const fd = openSync(path, 'w+')
  let closed = false
  cleanups.push(() => closed || closeSync(fd))
  return {
    fd,
    /** what was written so far, leaving the file open */
    peek: () => readFileSync(path, 'utf8'),
    read() {
      if (!closed) closeSync(fd)
      closed = true
      return readFileSync(path, 'utf8')
    },
  }
}

/** Register any cleanup to run after the current test (awaited when it returns a promise). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn)
}
