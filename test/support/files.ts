/** Temporary files and directories that are removed after each test, pass or fail. */
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

const cleanups: (() => unknown)[] = []

// Newest first: what a test made last (a helper, a mount) goes before what it stands in.
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

/** A fresh directory under /tmp, removed after the test. */
export function tempDir(prefix = 'minidocker-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
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
